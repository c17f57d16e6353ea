package matrix_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestLateRoomKeyReplacesUndecryptable: bob's Megolm key for a message
// reaches alice after the message itself (a proxy between alice and the real
// Dendrite withholds to-device events from her /sync for a while). Alice's
// connector first reports the message as undecryptable with a notice, then,
// when the original key (index 0 of bob's session) arrives, re-emits it
// decrypted under the same event ID. Through a real inbox the user ends with
// one row holding the text, not a lock notice plus a second row.
func TestLateRoomKeyReplacesUndecryptable(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	nio := testserver.StartNioPeer(t, d, bob, "password-bob")
	proxy := testserver.StartSyncProxy(t, d.URL())
	cfg := cfgFor(t, alice, "password-alice")
	cfg.Homeserver = proxy.URL()
	a := connect(t, d, cfg)
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}

	res, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "l-1", To: bobAddr, Body: "hello bob", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	room := res.Chat
	if _, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == room }); err != nil {
		t.Fatal(err)
	}
	nio.MustDo(map[string]any{"op": "join", "room": room})
	if _, err := nio.WaitEvent(30*time.Second, bodyIs("hello bob")); err != nil {
		t.Fatal(err)
	}

	// Bob's first message opens his Megolm session; its key travels to
	// alice as a to-device event, which the proxy now holds back.
	proxy.Hold()
	sent := nio.MustDo(map[string]any{"op": "send", "room": room, "body": "late secret-5d1e"})
	evID := sent["event_id"].(string)
	isOurs := func(undecryptable bool) func(protocols.Event) bool {
		return func(ev protocols.Event) bool {
			m, ok := ev.(protocols.MessageEvent)
			return ok && m.Message.NetworkID == evID && m.Message.Undecryptable == undecryptable
		}
	}
	first := a.wait(20*time.Second, "undecryptable message", isOurs(true)).(protocols.MessageEvent).Message
	if first.Body != "" || !strings.Contains(first.Notice, "Unable to decrypt") || first.Sender.ID != bob ||
		first.Chat.ID != room || first.Encryption != protocols.EncE2EE {
		t.Fatalf("undecryptable message %+v", first)
	}
	if held := proxy.HeldTypes(); !slices.Contains(held, "m.room.encrypted") {
		t.Fatalf("proxy held %v, want bob's olm-encrypted room key", held)
	}
	if n := a.count(isOurs(false)); n != 0 {
		t.Fatalf("message decrypted while its key was withheld")
	}

	// The key arrives in a later sync; bob's typing makes that sync return
	// at once instead of after the long-poll timeout.
	proxy.Release()
	nio.MustDo(map[string]any{"op": "typing", "room": room, "on": true})
	got := a.wait(20*time.Second, "decrypted message", isOurs(false)).(protocols.MessageEvent).Message
	if got.Body != "late secret-5d1e" || got.Notice != "" || got.Encryption != protocols.EncE2EE ||
		got.Sender.ID != bob || got.Chat.ID != room || got.Outgoing {
		t.Fatalf("decrypted message %+v", got)
	}
	if proxy.Releases() == 0 {
		t.Fatal("no sync carried the released keys")
	}
	// Later messages on the same session decrypt at once.
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "and one more"})
	a.waitMessage(20*time.Second, "and one more")

	// What the user sees: one row with the text where the notice was.
	in := openInbox(t, a)
	ms := conversationOf(t, in, evID)
	var rows []string
	for _, m := range ms {
		if m.NetworkID == evID {
			rows = append(rows, m.Body+" ["+m.Notice+"]")
			if m.Edited {
				t.Errorf("late decryption shown as an edit by bob: %+v", m)
			}
		}
	}
	shown := lines(ms)
	t.Logf("conversation:\n%s", strings.Join(shown, "\n"))
	if len(rows) != 1 || rows[0] != "late secret-5d1e []" {
		t.Fatalf("rows for the late message: %q\n%s", rows, strings.Join(shown, "\n"))
	}
	c, err := in.Conversation(ms[0].Conversation)
	if err != nil {
		t.Fatal(err)
	}
	if c.Preview != "and one more" {
		t.Fatalf("preview %q", c.Preview)
	}
}
