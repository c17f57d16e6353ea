package xmpp

import (
	"reflect"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestJoinByAddress: Join enters a group chat by its address, returns it as
// a group chat, and another member's message arrives in it; the user's
// names are the local part and the nick.
func TestJoinByAddress(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("dave", "pw")
	alice := newClient(t, p, "alice", "pw", func(c *Config) { c.Nick = "Ali" })
	dave := p.StartPeer("dave@localhost", "pw")

	room := "club@" + p.MUCDomain()
	dave.Do(map[string]any{"op": "join", "room": room, "nick": "Dave"})
	dave.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })

	chat, err := alice.Join(ctx10(t), "Club@"+p.MUCDomain()+"/whatever")
	if err != nil {
		t.Fatal(err)
	}
	if chat.ID != protocols.ChatID(room) || !chat.Group || chat.Name != "club" {
		t.Fatalf("joined %+v", chat)
	}
	dave.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "hello room"})
	me := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "hello room" })
	if me.Message.Chat.ID != protocols.ChatID(room) {
		t.Fatalf("room message in %q", me.Message.Chat.ID)
	}
	if again, err := alice.Join(ctx10(t), room); err != nil || again.ID != protocols.ChatID(room) {
		t.Fatalf("joining again: %+v %v", again, err)
	}
	if _, err := alice.Join(ctx10(t), "no-local-part"); err == nil {
		t.Fatal("joined an address without a room name")
	}
	if got := alice.SelfNames(); !reflect.DeepEqual(got, []string{"alice", "Ali"}) {
		t.Fatalf("SelfNames = %v", got)
	}
}
