package xmpp

import (
	"context"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestResendAfterCrashIsNotDeliveredTwice: the server took a message, then
// a live message from the peer moved the stored archive position past it,
// and the process died before its store recorded the message as sent. The
// next process resends it with the same ClientID (Resend set): the peer
// must not get it twice, though the catch-up, starting after the position,
// never saw the first copy.
func TestResendAfterCrashIsNotDeliveredTwice(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	bob := p.StartPeer("bob@localhost", "pw")
	dataDir := t.TempDir()
	withData := func(c *Config) { c.DataDir = dataDir }
	to := protocols.Address{Network: protocols.XMPP, ID: "bob@localhost", Server: "localhost"}
	msg := protocols.OutgoingMessage{ClientID: "crash-resend-1", To: to, Body: "taken before the crash", Resend: false}

	first := newClient(t, p, "alice", "pw", withData)
	queuedAt := time.Now()
	if _, err := first.Send(ctx10(t), msg); err != nil {
		t.Fatal(err)
	}
	bob.Message(10*time.Second, msg.Body)
	// Bob answers; stored, it moves alice's archive position past the
	// message above.
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "bob's answer"})
	waitEvent(t, first, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "bob's answer" })
	waitEvent[protocols.CheckpointEvent](t, first, 10*time.Second, nil)
	first.Close() // the crash: nothing recorded the send

	second := newClient(t, p, "alice", "pw", withData)
	drain(second)
	msg.Resend, msg.At = true, queuedAt
	res, err := second.Send(ctx10(t), msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.NetworkID != protocols.MessageID(msg.ClientID) {
		t.Fatalf("resend result %+v, want the message's own ID", res)
	}
	// A message sent behind it on the same stream: once bob has it, a
	// second copy would have arrived before it.
	if _, err := second.Send(context.Background(), protocols.OutgoingMessage{ClientID: "after-1", To: to, Body: "after the restart"}); err != nil {
		t.Fatal(err)
	}
	bob.Message(10*time.Second, "after the restart")
	if dup := bob.Next(0, func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Body == msg.Body }); dup.Ev != "" {
		t.Fatalf("bob got %q a second time after the restart", msg.Body)
	}

	// A resend the server never took does go out.
	lost := protocols.OutgoingMessage{ClientID: "never-taken-1", To: to, Body: "never taken before", Resend: true, At: time.Now()}
	if _, err := second.Send(ctx10(t), lost); err != nil {
		t.Fatal(err)
	}
	bob.Message(10*time.Second, lost.Body)
}

// TestRoomResendAfterCrashIsNotDeliveredTwice: the same for a room, whose
// own archive holds our message (the room reflects it with its origin-id).
func TestRoomResendAfterCrashIsNotDeliveredTwice(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	room := "crash@" + p.MUCDomain()
	bob := p.StartPeer("bob@localhost", "pw")
	bob.Do(map[string]any{"op": "join", "room": room, "nick": "Bobby"})
	bob.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })
	dataDir := t.TempDir()
	withData := func(c *Config) { c.DataDir, c.Nick, c.Rooms = dataDir, "Al", []string{room} }
	to := protocols.Address{Network: protocols.XMPP, ID: room}
	msg := protocols.OutgoingMessage{ClientID: "room-crash-1", To: to, Group: true, Body: "room message taken before the crash"}

	first := newClient(t, p, "alice", "pw", withData)
	queuedAt := time.Now()
	if _, err := first.Send(ctx10(t), msg); err != nil {
		t.Fatal(err)
	}
	bob.Message(10*time.Second, msg.Body)
	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "bob's answer"})
	waitEvent(t, first, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "bob's answer" })
	first.Close()

	second := newClient(t, p, "alice", "pw", withData)
	drain(second)
	msg.Resend, msg.At = true, queuedAt
	if _, err := second.Send(ctx10(t), msg); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "room-after-1", To: to, Group: true, Body: "room after the restart"}); err != nil {
		t.Fatal(err)
	}
	bob.Message(10*time.Second, "room after the restart")
	if dup := bob.Next(0, func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Body == msg.Body }); dup.Ev != "" {
		t.Fatalf("bob got %q a second time after the restart", msg.Body)
	}
}
