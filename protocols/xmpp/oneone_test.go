package xmpp

import (
	"errors"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestOneToOneWithSlixmpp: a message goes both ways between Polyglot and a
// client nobody here wrote, through a real Prosody, with the IDs and the
// encryption class a user would see.
func TestOneToOneWithSlixmpp(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := newClient(t, p, "alice", "alicepw", nil)
	bob := p.StartPeer("bob@localhost", "bobpw")

	if got := alice.PeerEncryption(protocols.Address{ID: "bob@localhost"}); got != protocols.EncTransport {
		t.Fatalf("PeerEncryption = %v, want transport (no OMEMO)", got)
	}
	res, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "cid-1", To: protocols.Address{Network: protocols.XMPP, ID: "bob@localhost"}, Body: "hello bob ¿qué tal?"})
	if err != nil {
		t.Fatal(err)
	}
	if res.NetworkID != "cid-1" || res.Encryption != protocols.EncTransport {
		t.Fatalf("SendResult %+v", res)
	}
	got := bob.Message(10*time.Second, "hello bob ¿qué tal?")
	if got.OriginID != "cid-1" || got.ID != "cid-1" || !got.ReceiptRequest || !got.Markable {
		t.Fatalf("peer saw %+v", got)
	}

	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "hi alice", "id": "bob-1"})
	me := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "hi alice" })
	m := me.Message
	if m.Outgoing || me.Historical || m.Chat.ID != "bob@localhost" || m.Chat.Group || m.Sender.ID != "bob@localhost" ||
		m.ClientID != "bob-1" || m.NetworkID == "" || m.NetworkID == "bob-1" || m.Encryption != protocols.EncTransport || m.Sender.Account != "acct-alice" {
		t.Fatalf("incoming message %+v (NetworkID must be the server's stanza-id)", m)
	}
}

func TestWrongPasswordIsAuthFailed(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	c, err := New(Config{JID: "alice@localhost", Password: "wrong", Server: p.Addr(), CAFile: p.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Connect(ctx10(t))
	if !errors.Is(err, protocols.ErrAuthFailed) {
		t.Fatalf("Connect with wrong password: %v, want ErrAuthFailed", err)
	}
	var saw bool
	for _, ev := range drain(c) {
		if ce, ok := ev.(protocols.ConnectionEvent); ok && ce.State == protocols.ConnAuthFailed {
			saw = true
		}
	}
	if !saw {
		t.Fatal("no ConnAuthFailed event")
	}
}
