package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"polyglot/protocols"
)

var _ protocols.ContactFinder = (*Connector)(nil)

// FindContact tries the address on its own server: read-only questions
// about the account that tell the person nothing (no subscription, no
// message). Servers hide whether an account exists from strangers, so
// three answers count as "it exists":
//   - disco#info on the bare JID answers with an account identity (servers
//     answer this to the person's contacts);
//   - its OMEMO device list is published (open by convention);
//   - its PEP service's default node configuration persists items:
//     Prosody answers a missing account from a stand-in service whose
//     defaults persist nothing, and a real account's service persists
//     items (prosody 0.12 mod_pep, nobody_service vs. get_pep_service).
//
// A server that confirms none of these answers "not found". Only the
// address goes to its own server (over the user's account's TLS link).
func (c *Connector) FindContact(ctx context.Context, q protocols.ContactQuery, _ protocols.FindOptions) (protocols.FindResult, error) {
	if q.IsPhone() || q.Address == "" {
		return protocols.FindResult{}, fmt.Errorf("xmpp finds people by their XMPP address: %w", protocols.ErrCannotLookUp)
	}
	j, err := jid.Parse(q.Address)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return protocols.FindResult{}, fmt.Errorf("%q is not an XMPP address (name@server): %w", q.Address, protocols.ErrCannotLookUp)
	}
	j = j.Bare()
	sess, _, err := c.session()
	if err != nil {
		return protocols.FindResult{}, err
	}
	ctx, cancel := c.linked(ctx)
	defer cancel()
	found := protocols.FindResult{Found: true, Address: c.addr(j), By: "address"}

	var info struct {
		XMLName    xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
		Identities []struct {
			Category string `xml:"category,attr"`
		} `xml:"identity"`
	}
	err = c.iq(ctx, sess, "get", j.String(), struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
	}{}, &info)
	if err == nil {
		for _, id := range info.Identities {
			if id.Category == "account" {
				return found, nil
			}
		}
	} else if fatal := unreachable(err); fatal != nil {
		return protocols.FindResult{}, fatal
	}

	var items struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
		Items   struct {
			Item []struct{} `xml:"item"`
		} `xml:"items"`
	}
	type itemsReq struct {
		Node string `xml:"node,attr"`
	}
	err = c.iq(ctx, sess, "get", j.String(), struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
		Items   itemsReq `xml:"items"`
	}{Items: itemsReq{Node: nsDeviceListLegacy}}, &items)
	if err == nil && len(items.Items.Item) > 0 {
		return found, nil
	}

	var def struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub#owner pubsub"`
		Fields  []struct {
			Var    string   `xml:"var,attr"`
			Values []string `xml:"value"`
		} `xml:"default>x>field"`
	}
	err = c.iq(ctx, sess, "get", j.String(), struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub#owner pubsub"`
		Default struct{} `xml:"default"`
	}{}, &def)
	if err == nil {
		for _, f := range def.Fields {
			if f.Var == "pubsub#persist_items" && len(f.Values) == 1 && (f.Values[0] == "1" || f.Values[0] == "true") {
				return found, nil
			}
		}
	}
	if ctx.Err() != nil {
		return protocols.FindResult{}, ctx.Err()
	}
	return protocols.FindResult{By: "address"}, nil
}

// nsDeviceListLegacy is OMEMO 0.3's PEP node of a person's devices.
const nsDeviceListLegacy = "eu.siacs.conversations.axolotl.devicelist"

// unreachable tells a server that cannot be asked (no such domain, no
// route to it) from one that answered.
func unreachable(err error) error {
	var se stanza.Error
	if !errors.As(err, &se) {
		return err // the link, not an answer
	}
	switch se.Condition {
	case stanza.RemoteServerNotFound, stanza.RemoteServerTimeout:
		return fmt.Errorf("its server cannot be reached: %s", strings.ReplaceAll(string(se.Condition), "-", " "))
	case stanza.NotAllowed:
		for _, t := range se.Text {
			return fmt.Errorf("its server cannot be asked: %s", t)
		}
		return errors.New("its server cannot be asked")
	}
	return nil
}
