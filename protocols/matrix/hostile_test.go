package matrix_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestInviteIsARequestAndHostileInput: a stranger's group invite is a
// request (no receipt or typing goes back on its own); after accepting, the
// stranger's hostile content arrives bounded and the connector keeps going.
func TestInviteIsARequestAndHostileInput(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	mallory := d.CreateUser("mallory", "password-mallory")
	nio := testserver.StartNioPeer(t, d, mallory, "password-mallory")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx := context.Background()

	esc := "\x1b]0;pwned\x07\x1b[2J\u202e"
	nio.MustDo(map[string]any{"op": "displayname", "name": "Mallory" + esc})
	room := nio.MustDo(map[string]any{"op": "create_dm", "invite": alice, "encrypted": true})["room"].(string)
	nio.MustDo(map[string]any{"op": "set_name", "room": room, "name": "Room" + esc})
	// Group-style: a second invite into a named room without is_direct.
	req := a.wait(20*time.Second, "invite request", func(ev protocols.Event) bool {
		r, ok := ev.(protocols.RequestEvent)
		return ok && r.Chat.ID == protocols.ChatID(room)
	}).(protocols.RequestEvent)
	if req.Kind != protocols.RequestInvite || req.From.ID != mallory {
		t.Fatalf("request %+v", req)
	}
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "are you there?"})
	time.Sleep(500 * time.Millisecond)
	if n := nio.Count(func(ev map[string]any) bool {
		return (ev["ev"] == "receipt" || ev["ev"] == "typing") && ev["room"] == room && strings.Contains(strings.Join(anyStrings(ev["users"]), ",")+toStr(ev["user"]), alice)
	}); n != 0 {
		t.Fatalf("alice sent %d receipts/typing to an unaccepted inviter", n)
	}

	if err := a.c.AnswerRequest(ctx, req.From, protocols.ChatID(room), true); err != nil {
		t.Fatal(err)
	}
	a.wait(20*time.Second, "room name with escapes kept raw for the TUI to sanitize", func(ev protocols.Event) bool {
		c, ok := ev.(protocols.ChatEvent)
		return ok && c.Chat.ID == protocols.ChatID(room) && c.Chat.Name == "Room"+esc
	})
	a.wait(20*time.Second, "display name", func(ev protocols.Event) bool {
		c, ok := ev.(protocols.ContactEvent)
		return ok && c.Contact.ID == mallory && c.Name == "Mallory"+esc
	})

	// Escape sequences in the body are delivered raw (the TUI strips them at
	// draw time); HTML scripts are dropped; deep nesting is refused.
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "body" + esc})
	if m := a.waitMessage(30*time.Second, "body"+esc); m.Undecryptable {
		t.Fatalf("%+v", m)
	}
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "plain fallback",
		"html": "<p>hi <script>alert('x')</script><style>*{}</style><b>there</b></p>"})
	m := a.waitMessage(30*time.Second, "hi there")
	if strings.Contains(m.Body, "alert") {
		t.Fatalf("script text leaked: %q", m.Body)
	}
	deep := strings.Repeat("<b>", 5000) + "deep" + strings.Repeat("</b>", 5000)
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "deep fallback", "html": deep})
	m = a.waitMessage(30*time.Second, "deep fallback")
	if m.FormattedBody != "" || !strings.Contains(m.Notice, "formatting dropped") {
		t.Fatalf("deep HTML: formatted=%d bytes notice=%q", len(m.FormattedBody), m.Notice)
	}

	// A 1 MiB event: the server refuses it (events are capped at 64 KiB);
	// the connector is unaffected.
	_, err := nio.Do(map[string]any{"op": "send", "room": room, "body": strings.Repeat("A", 1<<20)})
	if err == nil {
		t.Fatal("server accepted a 1 MiB event")
	}
	// The largest event the server takes still arrives intact or cut with a
	// notice, never more than our cap.
	big := strings.Repeat("B", 40<<10)
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": big})
	m = a.waitMessage(30*time.Second, big)
	if len(m.Body) > 64<<10 {
		t.Fatalf("body %d bytes", len(m.Body))
	}
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "still alive"})
	a.waitMessage(30*time.Second, "still alive")
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, toStr(x))
	}
	return out
}

func toStr(v any) string { s, _ := v.(string); return s }
