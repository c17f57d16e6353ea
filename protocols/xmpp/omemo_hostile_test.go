package xmpp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mau.fi/libsignal/ecc"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

// pubXML is a raw PEP publish of item "current" on node, open to anyone.
func pubXML(id, node, item string) string {
	return `<iq type='set' id='` + id + `'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='` + node + `'><item id='current'>` + item +
		`</item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
		`<field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub></iq>`
}

func deviceListXML(ids ...int) string {
	var sb strings.Builder
	sb.WriteString("<list xmlns='eu.siacs.conversations.axolotl'>")
	for _, id := range ids {
		fmt.Fprintf(&sb, "<device id='%d'/>", id)
	}
	sb.WriteString("</list>")
	return sb.String()
}

func b64k(k ecc.ECPublicKeyable) string { return base64.StdEncoding.EncodeToString(k.Serialize()) }

// forgedBundleXML is a bundle of the right shape whose signed prekey
// signature was not made by its identity key.
func forgedBundleXML(t *testing.T) string {
	ik, _ := ecc.GenerateKeyPair()
	spk, _ := ecc.GenerateKeyPair()
	pk, _ := ecc.GenerateKeyPair()
	other, _ := ecc.GenerateKeyPair()
	sig := ecc.CalculateSignature(other.PrivateKey(), spk.PublicKey().Serialize()) // signed by someone else
	return "<bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>" + b64k(spk.PublicKey()) +
		"</signedPreKeyPublic><signedPreKeySignature>" + base64.StdEncoding.EncodeToString(sig[:]) +
		"</signedPreKeySignature><identityKey>" + b64k(ik.PublicKey()) +
		"</identityKey><prekeys><preKeyPublic preKeyId='1'>" + b64k(pk.PublicKey()) + "</preKeyPublic></prekeys></bundle>"
}

// publishRaw publishes through the slixmpp peer and waits until the server
// took it: a confirmed message behind it on the same (ordered) stream.
func publishRaw(t *testing.T, pr *testserver.Peer, xml string) {
	t.Helper()
	pr.Send(map[string]any{"op": "raw", "xml": xml})
	if !pr.SendConfirmed(map[string]any{"to": pr.JID, "body": "sync"}) {
		t.Fatal("peer's publish not confirmed")
	}
}

// TestOMEMOHostilePeers: a forged bundle signature, a 10,000-device list,
// malformed OMEMO elements and a key for a device that is not ours are each
// refused with an error or a visible notice; nothing crashes and the
// account goes on working.
func TestOMEMOHostilePeers(t *testing.T) {
	p := testserver.StartProsody(t)
	for _, u := range []string{"alice", "forger", "flooder", "mallory"} {
		p.Register(u, u+"pw")
	}
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	ain := newInbox(t, alice)

	// A bundle whose signed prekey is not signed by its identity key.
	forger := p.StartPeer("forger@localhost", "forgerpw")
	publishRaw(t, forger, pubXML("f1", omemo.NodeBundles+"1111", forgedBundleXML(t)))
	publishRaw(t, forger, pubXML("f2", omemo.NodeDeviceList, deviceListXML(1111)))
	_, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "x1", To: xmppAddr("forger@localhost"), Body: "to the forger", MinEncryption: protocols.EncE2EE})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("send to a forged bundle: %v, want ErrEncryptionUnavailable naming the signature", err)
	}
	if got := alice.PeerEncryption(xmppAddr("forger@localhost")); got != protocols.EncTransport {
		t.Fatalf("PeerEncryption(forger) = %v: a refused device must not count", got)
	}
	// Even when transport is allowed, a peer that publishes OMEMO gets no
	// plaintext copy.
	_, err = alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "x1b", To: xmppAddr("forger@localhost"), Body: "to the forger again", MinEncryption: protocols.EncTransport})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("transport-allowed send to a peer with only a forged device: %v, want ErrEncryptionUnavailable", err)
	}
	// Only the peer's own two sync messages reached it; the ping behind a
	// message to itself orders this after anything alice's sends put on
	// its stream.
	forger.SendConfirmed(map[string]any{"to": forger.JID, "body": "last"})
	forger.Message(60e9, "last")
	if n := forger.Count(); n != 3 {
		t.Fatalf("forger received %d messages with a body, want only its own 3", n)
	}

	// A device list of 10,000 ids.
	flooder := p.StartPeer("flooder@localhost", "flooderpw")
	ids := make([]int, 10000)
	for i := range ids {
		ids[i] = i + 1
	}
	publishRaw(t, flooder, pubXML("l1", omemo.NodeDeviceList, deviceListXML(ids...)))
	_, err = alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "x2", To: xmppAddr("flooder@localhost"), Body: "to the flooder", MinEncryption: protocols.EncE2EE})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) || !errors.Is(err, omemo.ErrTooManyDevices) {
		t.Fatalf("send to a 10,000-device list: %v, want ErrEncryptionUnavailable for a refused list", err)
	}

	// Malformed OMEMO messages from mallory.
	mallory := p.StartPeer("mallory@localhost", "mallorypw")
	me := alice.OMEMO().DeviceID()
	rnd := make([]byte, 80)
	rand.Read(rnd)
	iv := base64.StdEncoding.EncodeToString(make([]byte, 12))
	enc := func(keys, ivv, payload string) string {
		return "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='777'>" + keys + "<iv>" + ivv + "</iv></header>" + payload + "</encrypted>"
	}
	cases := []struct{ id, xml, want string }{
		{"bad-b64", enc(fmt.Sprintf("<key rid='%d'>AAAA</key>", me), iv, "<payload>%%%not base64</payload>"), "payload"},
		{"foreign-rid", enc("<key rid='42'>"+base64.StdEncoding.EncodeToString(rnd)+"</key>", iv, "<payload>AAAA</payload>"), "not encrypted for this device"},
		{"garbage-key", enc(fmt.Sprintf("<key rid='%d' prekey='true'>%s</key>", me, base64.StdEncoding.EncodeToString(rnd)), iv, "<payload>AAAA</payload>"), "device 777"},
		{"no-session", enc(fmt.Sprintf("<key rid='%d'>%s</key>", me, base64.StdEncoding.EncodeToString(rnd)), iv, "<payload>AAAA</payload>"), "device 777"},
		{"bad-iv", enc(fmt.Sprintf("<key rid='%d'>AAAA</key>", me), "AAAA", "<payload>AAAA</payload>"), "IV"},
		{"bad-sid", "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='-5'><iv>" + iv + "</iv></header></encrypted>", "sid"},
	}
	for _, c := range cases {
		mallory.Send(map[string]any{"op": "send", "to": "alice@localhost", "id": c.id, "body": omemo.Fallback, "payload": c.xml})
	}
	ain.until("a notice for each malformed message", func(ms []protocols.Message) bool { return len(undecryptable(ms)) >= len(cases) })
	for _, c := range cases {
		var m *protocols.Message
		for i := range ain.msgs {
			if string(ain.msgs[i].ClientID) == c.id {
				m = &ain.msgs[i]
			}
		}
		if m == nil || !m.Undecryptable || !strings.Contains(m.Notice, "could not decrypt") || !strings.Contains(m.Notice, c.want) {
			t.Errorf("%s: got %+v, want a notice naming %q", c.id, m, c.want)
		}
		if m != nil && (m.Body == omemo.Fallback || m.Encryption != protocols.EncE2EE) {
			t.Errorf("%s: fallback body shown or wrong class: %+v", c.id, m)
		}
	}
	// Still alive and reading.
	mallory.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "still here"})
	ain.body("still here")
}

// TestOMEMONodeMadeOpen: another client of alice's made her device-list
// node with the default (presence) access model; Polyglot reconfigures it
// open, so bob, who is not subscribed to her, can still reach her.
func TestOMEMONodeMadeOpen(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	other := p.StartPeer("alice@localhost", "alicepw")
	other.Send(map[string]any{"op": "raw", "xml": `<iq type='set' id='d1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='` + omemo.NodeDeviceList +
		`'><item id='current'>` + deviceListXML() + `</item></publish></pubsub></iq>`})
	if !other.SendConfirmed(map[string]any{"to": other.JID, "body": "sync"}) {
		t.Fatal("not confirmed")
	}
	other.Close()
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	ain := newInbox(t, alice)
	res, err := bob.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "o1", To: xmppAddr("alice@localhost"), Body: "through an opened node", MinEncryption: protocols.EncE2EE})
	if err != nil || res.Encryption != protocols.EncE2EE {
		t.Fatalf("bob's send: %+v %v\n%s", res, err, p.Log())
	}
	if m := ain.body("through an opened node"); m.Encryption != protocols.EncE2EE {
		t.Fatalf("alice got %+v", m)
	}
}
