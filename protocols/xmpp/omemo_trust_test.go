package xmpp

import (
	"errors"
	"testing"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestOMEMOTrust walks the trust model against a real Prosody: bob's first
// device is trusted on first use (E2EE, unverified); alice's person view
// data lists its fingerprint (bob's own) and hers; comparing a stale list
// is refused; comparing the shown one makes bob E2EE verified — the route,
// what a send travels with and what bob's messages arrive as; a device bob
// adds later is new and not compared: it ends the verification (the event
// says so) and a send that requires "verified" is refused until alice
// compares again.
func TestOMEMOTrust(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	ain, bin := newInbox(t, alice), newInbox(t, bob)
	bobAddr, aliceAddr := xmppAddr("bob@localhost"), xmppAddr("alice@localhost")
	send := func(c *Connector, id string, to protocols.Address, body string, min protocols.Encryption) (protocols.SendResult, error) {
		t.Helper()
		return c.Send(ctx10(t), protocols.OutgoingMessage{ClientID: protocols.ClientID(id), To: to, Body: body, MinEncryption: min})
	}

	if _, err := alice.SecurityCode(ctx10(t), bobAddr); !errors.Is(err, protocols.ErrUnknownPeer) {
		t.Fatalf("before any exchange: %v, want ErrUnknownPeer", err)
	}
	if res, err := send(bob, "t1", aliceAddr, "hello alice", protocols.EncE2EE); err != nil || res.Encryption != protocols.EncE2EE {
		t.Fatalf("bob's first: %+v %v", res, err)
	}
	if m := ain.body("hello alice"); m.Encryption != protocols.EncE2EE {
		t.Fatalf("trusted on first use should be E2EE, unverified: %+v", m)
	}
	if got := alice.PeerEncryption(bobAddr); got != protocols.EncE2EE {
		t.Fatalf("route before comparing: %v", got)
	}

	sc, err := alice.SecurityCode(ctx10(t), bobAddr)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Devices) != 1 || sc.Compared || sc.Devices[0].Compared {
		t.Fatalf("bob's devices: %+v", sc)
	}
	if want := plainFingerprint(bob.OMEMO().Fingerprint()); sc.Devices[0].Fingerprint != want || len(want) != 64 {
		t.Fatalf("bob's fingerprint as alice sees it %q, bob's own %q", sc.Devices[0].Fingerprint, want)
	}
	if sc.This.Fingerprint != plainFingerprint(alice.OMEMO().Fingerprint()) {
		t.Fatalf("this device %+v", sc.This)
	}
	if err := alice.MarkCompared(ctx10(t), bobAddr, sc.Devices[0].ID+"=00"); !errors.Is(err, protocols.ErrCodeChanged) {
		t.Fatalf("a stale list: %v, want ErrCodeChanged", err)
	}
	if err := alice.MarkCompared(ctx10(t), bobAddr, sc.Token()); err != nil {
		t.Fatal(err)
	}
	if got := alice.PeerEncryption(bobAddr); got != protocols.EncE2EEVerified {
		t.Fatalf("route after comparing: %v", got)
	}
	if res, err := send(alice, "t2", bobAddr, "compared you", protocols.EncE2EEVerified); err != nil || res.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("verified send: %+v %v", res, err)
	}
	bin.body("compared you")
	if _, err := send(bob, "t3", aliceAddr, "and now?", protocols.EncE2EE); err != nil {
		t.Fatal(err)
	}
	if m := ain.body("and now?"); m.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("from a compared device: %+v", m)
	}

	// bob adds a device.
	bob2 := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b2")
	newInbox(t, bob2)
	if _, err := send(bob2, "t4", aliceAddr, "from my new phone", protocols.EncE2EE); err != nil {
		t.Fatal(err)
	}
	if m := ain.body("from my new phone"); m.Encryption != protocols.EncE2EE {
		t.Fatalf("from a device not compared: %+v", m)
	}
	ended := false
	for _, k := range ain.keys {
		ended = ended || (k.Kind == protocols.KeyNew && k.EndsVerification && k.Contact.ID == "bob@localhost")
	}
	if !ended {
		t.Fatalf("no key event ending bob's verification: %+v", ain.keys)
	}
	if got := alice.PeerEncryption(bobAddr); got != protocols.EncE2EE {
		t.Fatalf("route after bob's new device: %v", got)
	}
	if _, err := send(alice, "t5", bobAddr, "must not go", protocols.EncE2EEVerified); !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("verified required with a new device: %v", err)
	}
	sc, err = alice.SecurityCode(ctx10(t), bobAddr)
	if err != nil || len(sc.Devices) != 2 || sc.Compared {
		t.Fatalf("after the new device: %+v %v", sc, err)
	}
	if err := alice.MarkCompared(ctx10(t), bobAddr, sc.Token()); err != nil {
		t.Fatal(err)
	}
	if res, err := send(alice, "t6", bobAddr, "both compared", protocols.EncE2EEVerified); err != nil || res.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("after comparing both: %+v %v", res, err)
	}
}
