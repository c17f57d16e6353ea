package testserver

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Legacy OMEMO (XEP-0384 v0.3) PEP nodes, the ones profanity 0.13 uses.
const (
	OMEMONamespace  = "eu.siacs.conversations.axolotl"
	OMEMODeviceList = OMEMONamespace + ".devicelist"
	OMEMOBundles    = OMEMONamespace + ".bundles:" // + device id
)

// IQ sends one IQ through the slixmpp peer (typ "get" or "set", to "" for
// the account itself, payload its child element) and returns the answer's
// type ("result" or "error") and XML.
func (pr *Peer) IQ(typ, to, payload string) (string, string) {
	pr.t.Helper()
	pr.Do(map[string]any{"op": "iq", "type": typ, "to": to, "payload": payload})
	ev := pr.Must(20*time.Second, "iq answer", func(e PeerEvent) bool { return e.Ev == "iq" || e.Ev == "error" })
	return ev.Type, ev.XML
}

// publishEmptyDeviceList creates the account's OMEMO device list node with
// an empty list and an open access model, as the owner. Profanity 0.13 asks
// Prosody 0.12 for its list, gets item-not-found without the legacy
// code="404" it looks for, and never publishes; with an empty list there it
// adds its own device. Later publishes keep the node's open access model, so
// any contact can read the list.
func publishEmptyDeviceList(t testing.TB, owner *Peer) {
	t.Helper()
	typ, xml := owner.IQ("set", "", `<pubsub xmlns='http://jabber.org/protocol/pubsub'>`+
		`<publish node='`+OMEMODeviceList+`'><item id='current'><list xmlns='`+OMEMONamespace+`'/></item></publish>`+
		`<publish-options><x xmlns='jabber:x:data' type='submit'>`+
		`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>`+
		`<field var='pubsub#access_model'><value>open</value></field>`+
		`</x></publish-options></pubsub>`)
	if typ != "result" {
		t.Fatalf("testserver: publishing an empty OMEMO device list for %s: %s", owner.JID, xml)
	}
}

// waitOMEMOPublished polls the server, as the account's owner, until
// deviceID is in jid's device list and that device's bundle is published.
func waitOMEMOPublished(t testing.TB, owner *Peer, jid, deviceID string, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(ProfanityTimeout)
	for {
		_, list := owner.IQ("get", jid, itemsQuery(OMEMODeviceList))
		_, bundle := owner.IQ("get", jid, itemsQuery(OMEMOBundles+deviceID))
		if strings.Contains(list, `<device id="`+deviceID+`"`) && strings.Contains(bundle, "<identityKey") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: OMEMO device %s of %s not on the server after %s\nlist: %s\nbundle: %s\nprofanity log:\n%s",
				deviceID, jid, ProfanityTimeout, list, bundle, diag())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var rosterItem = regexp.MustCompile(`<item [^>]*>`)

// rosterBoth says whether a roster answer lists jid with subscription "both".
func rosterBoth(xml, jid string) bool {
	for _, it := range rosterItem.FindAllString(xml, -1) {
		if strings.Contains(it, `jid="`+jid+`"`) && strings.Contains(it, `subscription="both"`) {
			return true
		}
	}
	return false
}

func itemsQuery(node string) string {
	return `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='` + node + `'/></pubsub>`
}

// MakeContacts gives two accounts a mutual presence subscription (each in
// the other's roster, subscription "both"), as two users who added each
// other would have. With it each may read the other's PEP nodes published
// under Prosody's default "presence" access model — profanity's OMEMO
// bundles. The slixmpp peers (which approve and return a subscription
// request on their own) log out before it returns: call it before the
// clients under test log in.
func (p *Prosody) MakeContacts(userA, passA, userB, passB string) {
	p.t.Helper()
	a := p.StartPeer(p.Register(userA, passA), passA)
	defer a.Close()
	b := p.StartPeer(p.Register(userB, passB), passB)
	defer b.Close()
	jidA, jidB := userA+"@"+ProsodyDomain, userB+"@"+ProsodyDomain
	a.Send(map[string]any{"op": "subscribe", "to": jidB})
	roster := `<query xmlns='jabber:iq:roster'/>`
	deadline := time.Now().Add(ProfanityTimeout)
	for {
		_, ra := a.IQ("get", "", roster)
		_, rb := b.IQ("get", "", roster)
		if rosterBoth(ra, jidB) && rosterBoth(rb, jidA) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("testserver: %s and %s not mutual contacts after %s\n%s\n%s", jidA, jidB, ProfanityTimeout, ra, rb)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
