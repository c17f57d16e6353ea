package xmpp

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

// TestOMEMOBothWays: two Polyglot accounts talk OMEMO through a real
// Prosody; both sides see E2EE, and neither the server's storage (archive,
// offline store) nor our own omemo.db holds the plaintext.
func TestOMEMOBothWays(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	aliceDir, bobDir := t.TempDir(), t.TempDir()
	alice := omemoClient(t, p, "alice", "alicepw", aliceDir, "a1")
	bob := omemoClient(t, p, "bob", "bobpw", bobDir, "b1")
	if !alice.Capabilities().E2EE {
		t.Fatal("Capabilities().E2EE is false with OMEMO on")
	}
	ain, bin := newInbox(t, alice), newInbox(t, bob)

	res, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "a-1", To: xmppAddr("bob@localhost"), Body: "sekrit from alice ✓", MinEncryption: protocols.EncTransport})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encryption != protocols.EncE2EE {
		t.Fatalf("SendResult.Encryption = %v, want e2ee (bob publishes OMEMO)", res.Encryption)
	}
	if got := alice.PeerEncryption(xmppAddr("bob@localhost")); got != protocols.EncE2EE {
		t.Fatalf("alice.PeerEncryption(bob) = %v after the send, want e2ee", got)
	}
	m := bin.body("sekrit from alice ✓")
	if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing || m.Sender.ID != "alice@localhost" || m.ClientID != "a-1" {
		t.Fatalf("bob got %+v", m)
	}

	res, err = bob.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "b-1", To: xmppAddr("alice@localhost"), Body: "sekrit from bob", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encryption != protocols.EncE2EE {
		t.Fatalf("bob's SendResult.Encryption = %v", res.Encryption)
	}
	if m := ain.body("sekrit from bob"); m.Encryption != protocols.EncE2EE || m.Undecryptable {
		t.Fatalf("alice got %+v", m)
	}
	// A correction travels encrypted as well.
	if _, err := alice.Edit(ctx10(t), "bob@localhost", "a-1", "a-2", "sekrit corrected"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, bob, 60e9, func(e protocols.EditEvent) bool { return e.Body == "sekrit corrected" })

	if n := undecryptable(append(ain.msgs, bin.msgs...)); len(n) > 0 {
		t.Fatalf("undecryptable notices: %v", n)
	}
	// What the server keeps: the fallback body, never the text.
	data := filepath.Join(p.Dir(), "data")
	if hits := grepDir(t, data, "OMEMO encrypted message"); len(hits) == 0 {
		t.Fatalf("no archived OMEMO message found under %s: the storage check below would prove nothing", data)
	}
	for _, s := range []string{"sekrit from alice", "sekrit from bob", "sekrit corrected"} {
		if hits := grepDir(t, data, s); len(hits) > 0 {
			t.Errorf("plaintext %q on the server's disk: %v", s, hits)
		}
		for _, dir := range []string{aliceDir, bobDir} {
			if hits := grepDir(t, dir, s); len(hits) > 0 {
				t.Errorf("plaintext %q in our store: %v", s, hits)
			}
		}
	}
}

// TestOMEMORequiredButPeerHasNone: a message that must be end-to-end
// encrypted is refused for a peer without OMEMO, and nothing reaches them.
func TestOMEMORequiredButPeerHasNone(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := p.StartPeer("bob@localhost", "bobpw")

	_, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "must-1", To: xmppAddr("bob@localhost"), Body: "for your eyes only", MinEncryption: protocols.EncE2EE})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("Send = %v, want ErrEncryptionUnavailable", err)
	}
	if got := alice.PeerEncryption(xmppAddr("bob@localhost")); got != protocols.EncTransport {
		t.Fatalf("PeerEncryption(bob) = %v, want transport", got)
	}
	// A transport-only message afterwards arrives, in the clear as allowed,
	// and is the first bob got: the refused one never went out.
	res, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "ok-1", To: xmppAddr("bob@localhost"), Body: "plain is fine", MinEncryption: protocols.EncTransport})
	if err != nil || res.Encryption != protocols.EncTransport {
		t.Fatalf("plain send: %+v %v", res, err)
	}
	first := bob.Must(60e9, "first message", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Body != "" })
	if first.Body != "plain is fine" {
		t.Fatalf("bob's first message is %q", first.Body)
	}
	if n := bob.Count(); n != 1 {
		t.Fatalf("bob received %d messages, want 1", n)
	}
}

var _ = omemo.NS

// TestOMEMOMultiDevice: alice on two devices and bob on one all read every
// message (alice's own messages reach her other device through carbons);
// a device bob adds later gets the messages sent after it appeared.
func TestOMEMOMultiDevice(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice1 := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	alice2 := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a2")
	bob1 := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	a1, a2, b1 := newInbox(t, alice1), newInbox(t, alice2), newInbox(t, bob1)
	send := func(c *Connector, id, to, body string) {
		t.Helper()
		res, err := c.Send(ctx10(t), protocols.OutgoingMessage{ClientID: protocols.ClientID(id), To: xmppAddr(to), Body: body, MinEncryption: protocols.EncE2EE})
		if err != nil || res.Encryption != protocols.EncE2EE {
			t.Fatalf("send %q: %+v %v", body, res, err)
		}
	}
	e2ee := func(who string, m protocols.Message, out bool) {
		t.Helper()
		if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing != out {
			t.Fatalf("%s got %+v", who, m)
		}
	}

	send(alice1, "m1", "bob@localhost", "one from alice1")
	e2ee("bob1", b1.body("one from alice1"), false)
	e2ee("alice2", a2.body("one from alice1"), true)

	send(bob1, "m2", "alice@localhost", "two from bob1")
	e2ee("alice1", a1.body("two from bob1"), false)
	e2ee("alice2", a2.body("two from bob1"), false)

	send(alice2, "m3", "bob@localhost", "three from alice2")
	e2ee("bob1", b1.body("three from alice2"), false)
	e2ee("alice1", a1.body("three from alice2"), true)

	// bob adds a device: it publishes itself; the next message from
	// alice reaches it too.
	bob2 := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b2")
	b2 := newInbox(t, bob2)
	send(alice1, "m4", "bob@localhost", "four after bob2")
	e2ee("bob2", b2.body("four after bob2"), false)
	e2ee("bob1", b1.body("four after bob2"), false)
	e2ee("alice2", a2.body("four after bob2"), true)
	// bob2 answers; everyone reads it.
	send(bob2, "m5", "alice@localhost", "five from bob2")
	e2ee("alice1", a1.body("five from bob2"), false)
	e2ee("alice2", a2.body("five from bob2"), false)
	e2ee("bob1", b1.body("five from bob2"), true)

	for name, in := range map[string]*inbox{"alice1": a1, "alice2": a2, "bob1": b1} {
		if n := undecryptable(in.msgs); len(n) > 0 {
			t.Errorf("%s: undecryptable notices %v", name, n)
		}
	}
	// bob2 could not read what was sent before it existed: its first-login
	// history says so per message instead of dropping them.
	for _, n := range undecryptable(b2.msgs) {
		if n == "" {
			t.Error("an undecryptable message without a notice")
		}
	}
	// The new device shows up as a new, not compared device of bob.
	devs, err := alice1.OMEMO().Devices(ctx10(t), "bob@localhost")
	if err != nil || len(devs) != 2 {
		t.Fatalf("alice1 sees bob's devices %+v %v", devs, err)
	}
	for _, d := range devs {
		if d.Fingerprint == "" || d.Compared || !d.Active || !d.Session {
			t.Fatalf("bob's device as alice1 sees it: %+v", d)
		}
	}
	if len(a1.keys) == 0 {
		t.Error("no key-change event for bob's new device")
	}
}

// TestOMEMORestartCatchUp: bob's Polyglot stops mid-conversation and starts
// again from its data directory; then the server restarts. What was sent
// meanwhile arrives from the archive once each, decrypted, with no
// "could not decrypt" notice, and the sessions go on both ways.
func TestOMEMORestartCatchUp(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	bobDir := t.TempDir()
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", bobDir, "b1")
	ain, bin := newInbox(t, alice), newInbox(t, bob)
	send := func(c *Connector, id, to, body string) {
		t.Helper()
		res, err := c.Send(ctx10(t), protocols.OutgoingMessage{ClientID: protocols.ClientID(id), To: xmppAddr(to), Body: body, MinEncryption: protocols.EncE2EE})
		if err != nil || res.Encryption != protocols.EncE2EE {
			t.Fatalf("send %q: %+v %v", body, res, err)
		}
	}
	send(alice, "r1", "bob@localhost", "before restart 1")
	bin.body("before restart 1")
	send(bob, "r2", "alice@localhost", "before restart 2")
	ain.body("before restart 2")

	bob.Close()
	for _, b := range []string{"while away 1", "while away 2", "while away 3"} {
		send(alice, "w-"+b[len(b)-1:], "bob@localhost", b)
	}
	bob2 := omemoClient(t, p, "bob", "bobpw", bobDir, "b1")
	bin2 := newInbox(t, bob2)
	bin2.until("the three messages sent while away", func(ms []protocols.Message) bool {
		return find(ms, "while away 1") != nil && find(ms, "while away 2") != nil && find(ms, "while away 3") != nil
	})
	// Settled: bob answers and alice's answer to that comes back.
	send(bob2, "r3", "alice@localhost", "back again")
	ain.body("back again")
	send(alice, "r4", "bob@localhost", "welcome back")
	bin2.body("welcome back")

	// The server restarts too: both reconnect on the same connectors.
	p.Restart()
	for _, c := range []*Connector{alice, bob2} {
		if err := c.Connect(ctx10(t)); err != nil {
			t.Fatalf("reconnect: %v", err)
		}
	}
	send(alice, "r5", "bob@localhost", "after server restart")
	bin2.body("after server restart")
	send(bob2, "r6", "alice@localhost", "after server restart too")
	ain.body("after server restart too")

	for _, b := range []string{"while away 1", "while away 2", "while away 3", "welcome back", "after server restart"} {
		if n := count(bin2.msgs, b); n != 1 {
			t.Errorf("bob got %q %d times: %s", b, n, dump(bin2.msgs))
		}
	}
	for name, in := range map[string]*inbox{"alice": ain, "bob (first run)": bin, "bob (second run)": bin2} {
		if n := undecryptable(in.msgs); len(n) > 0 {
			t.Errorf("%s: undecryptable notices %v", name, n)
		}
		for _, m := range in.msgs {
			if m.Encryption != protocols.EncE2EE {
				t.Errorf("%s: %q travelled with %v", name, m.Body, m.Encryption)
			}
		}
	}
}

// TestOMEMODeviceListPushes: with a mutual presence subscription, the
// contacts' device lists reach us by PEP push (our caps ask for them):
// alice's route to bob is E2EE before she ever sends, and a device bob adds
// later shows up on its own.
func TestOMEMODeviceListPushes(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	if got := alice.PeerEncryption(xmppAddr("bob@localhost")); got != protocols.EncTransport {
		t.Fatalf("PeerEncryption(bob) = %v before anything", got)
	}
	// alice approves bob in advance and asks for his presence; bob accepts.
	if err := alice.AnswerRequest(ctx10(t), xmppAddr("bob@localhost"), "", true); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, bob, 60e9, func(e protocols.RequestEvent) bool { return e.From.ID == "alice@localhost" })
	if err := bob.AnswerRequest(ctx10(t), xmppAddr("alice@localhost"), "", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice learns bob's device by push", func() bool {
		drain(alice)
		return alice.PeerEncryption(xmppAddr("bob@localhost")) == protocols.EncE2EE
	})
	bob2 := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b2")
	waitFor(t, "alice learns bob's second device by push", func() bool {
		drain(alice)
		devs, _ := alice.OMEMO().Devices(ctx10(t), "bob@localhost")
		for _, d := range devs {
			if d.Device == bob2.OMEMO().DeviceID() && d.Active {
				return true
			}
		}
		return false
	})
	// bob's first device learnt of its sibling the same way.
	waitFor(t, "bob1 learns bob2", func() bool {
		drain(bob)
		devs, _ := bob.OMEMO().Devices(ctx10(t), "bob@localhost")
		return len(devs) == 2
	})
}

// waitFor polls cond until it holds (60 s: never reached on a loaded
// machine unless broken).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
