package xmpp

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"slices"
	"strings"

	"polyglot/protocols/xmpp/omemo"
)

// Entity capabilities (XEP-0115) in our presence. They matter for OMEMO:
// a PEP service pushes a node's items (device lists) only to entities
// whose capabilities say "+notify" for it — our own account's and our
// contacts' device lists then reach us without asking.

const (
	nsCaps   = "http://jabber.org/protocol/caps"
	capsNode = "https://polyglot.invalid/caps"
)

type capsC struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/caps c"`
	Hash    string   `xml:"hash,attr"`
	Node    string   `xml:"node,attr"`
	Ver     string   `xml:"ver,attr"`
}

var ourIdentity = discoIdent{Category: "client", Type: "pc", Name: "Polyglot"}

// features is what we answer disco#info with (and hash into caps).
func (c *Connector) features() []string {
	f := slices.Clone(ourFeatures)
	if c.om != nil {
		f = append(f, omemo.NodeDeviceList+"+notify")
	}
	slices.Sort(f)
	return slices.Compact(f)
}

// caps is the <c/> for our presence: ver is XEP-0115 §5.1's SHA-1 over
// identity and features.
func (c *Connector) caps() *capsC {
	var s strings.Builder
	s.WriteString(ourIdentity.Category + "/" + ourIdentity.Type + "//" + ourIdentity.Name + "<")
	for _, f := range c.features() {
		s.WriteString(f + "<")
	}
	sum := sha1.Sum([]byte(s.String()))
	return &capsC{Hash: "sha-1", Node: capsNode, Ver: base64.StdEncoding.EncodeToString(sum[:])}
}
