package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// chatWorld has conversation 1 with n messages from Ada and routes.
func chatWorld(n int) *fakeCore {
	f := world(3)
	f.convs[0].Title = "Ada"
	f.convs[0].Networks = []protocols.Network{protocols.Matrix, protocols.XMPP}
	var ms []inbox.Message
	for i := 1; i <= n; i++ {
		ms = append(ms, inbox.Message{ID: inbox.MessageID(i), Conversation: 1, Network: protocols.Matrix,
			SenderName: "Ada", Body: fmt.Sprintf("message number %d", i), Encryption: protocols.EncE2EEVerified,
			At: testNow.Add(-time.Duration(n-i) * time.Minute)})
	}
	f.msgs[1] = ms
	f.people[1] = personAda()
	f.routes[1] = []inbox.Route{
		{Account: "mx", Network: protocols.Matrix, To: protocols.Address{Network: protocols.Matrix, ID: "@ada:example.org"}, Encryption: protocols.EncE2EEVerified, Online: true},
		{Account: "xm", Network: protocols.XMPP, To: protocols.Address{Network: protocols.XMPP, ID: "ada@jabber.example"}, Encryption: protocols.EncTransport, Online: true},
	}
	return f
}

func TestConversationPagesBackByCursor(t *testing.T) {
	f := chatWorld(500)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	if got := len(h.m.conv.msgs); got != 20 {
		t.Fatalf("opened with %d messages loaded, want one page (20)", got)
	}
	h.mustShow("message number 500", "→ Ada via Matrix")
	h.keys("esc") // history mode
	for i := 0; i < 30; i++ {
		h.keys("k")
	}
	if got := len(h.m.conv.msgs); got <= 20 || got >= 500 {
		t.Fatalf("scrolling back loaded %d messages; want more pages but not the whole history", got)
	}
	// Each older page was asked by the cursor of the oldest loaded message.
	last := f.msgCalls[len(f.msgCalls)-1]
	if last.ID == 0 || last.ID > 481 {
		t.Fatalf("older page asked with cursor %+v", last)
	}
	h.keys("G")
	h.mustShow("message number 500")
	h.keys("pgup")
	h.mustNotShow("message number 500")
	h.wheel(tea.MouseButtonWheelDown)
	h.wheel(tea.MouseButtonWheelDown)
	h.wheel(tea.MouseButtonWheelDown)
	h.wheel(tea.MouseButtonWheelDown)
	h.wheel(tea.MouseButtonWheelDown)
	h.wheel(tea.MouseButtonWheelDown)
	h.mustShow("message number 500")
}

func TestConversationStaysPutWhenNewMessagesArrive(t *testing.T) {
	f := chatWorld(100)
	h := newHarness(t, f, 80, 24)
	h.keys("enter", "esc", "k", "k", "k", "k", "k", "k")
	before := h.view()
	f.msgs[1] = append(f.msgs[1], inbox.Message{ID: 101, Conversation: 1, Network: protocols.Matrix, SenderName: "Ada", Body: "brand new", At: testNow})
	marks := len(f.marked)
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 1}}})
	if strings.Contains(h.view(), "brand new") {
		t.Fatal("a scrolled-back reader was yanked to the new message")
	}
	if got := historyOf(h.view()); got != historyOf(before) {
		t.Fatalf("the lines being read moved:\n%s\n---\n%s", before, h.view())
	}
	if len(f.marked) != marks+1 {
		t.Fatal("a new incoming message in the open conversation should be marked read")
	}
	h.keys("G")
	h.mustShow("brand new")
}

// historyOf drops the header and bottom chrome, keeping the message lines.
func historyOf(v string) string {
	lines := strings.Split(v, "\n")
	return strings.Join(lines[2:12], "\n")
}

func TestConversationChangeForOtherConversationDoesNotReload(t *testing.T) {
	f := chatWorld(10)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	calls := len(f.msgCalls)
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 2}}})
	if len(f.msgCalls) != calls {
		t.Fatal("a change in another conversation re-read this one")
	}
}

func TestConversationMarksAndGlyphs(t *testing.T) {
	f := chatWorld(0)
	f.msgs[1] = []inbox.Message{
		{ID: 1, Conversation: 1, Network: protocols.XMPP, SenderName: "Ada", Body: "over xmpp", Encryption: protocols.EncTransport, At: testNow.Add(-26 * time.Hour)},
		{ID: 2, Conversation: 1, Kind: inbox.KindSystem, Network: protocols.Matrix, Body: "Ada's device key changed", At: testNow.Add(-time.Hour)},
		{ID: 3, Conversation: 1, Network: protocols.Matrix, Outgoing: true, Body: "read one", Encryption: protocols.EncE2EEVerified, State: inbox.StateRead, At: testNow.Add(-50 * time.Minute)},
		{ID: 4, Conversation: 1, Network: protocols.Matrix, Outgoing: true, Body: "failed one", Encryption: protocols.EncE2EE, State: inbox.StateFailed, FailReason: "peer unknown", At: testNow.Add(-40 * time.Minute)},
		{ID: 5, Conversation: 1, Network: protocols.Matrix, SenderName: "Ada", Body: "fixed", Edited: true, Encryption: protocols.EncE2EE, At: testNow.Add(-30 * time.Minute),
			Reactions: []inbox.ReactionCount{{Key: "👍", Count: 2}}},
		{ID: 6, Conversation: 1, Network: protocols.Matrix, SenderName: "Ada", Deleted: true, At: testNow.Add(-20 * time.Minute)},
		{ID: 7, Conversation: 1, Network: protocols.WhatsApp, Outgoing: true, Body: "queued one", Encryption: protocols.EncE2EE, State: inbox.StateQueued, At: testNow.Add(-10 * time.Minute)},
	}
	f.convs[0].Typing = true
	h := newHarness(t, f, 100, 30)
	h.keys("enter")
	h.mustShow("Yesterday", "Today", "XM TLS", "· Ada's device key changed ·", "You MX E2EE✓",
		"✓✓ read", "✗ failed: peer unknown", "(edited)", "👍2", "message deleted", "◷ queued", "WA", "Ada is typing…")
	h.keys("esc", "R")
	if len(f.retried) != 1 || f.retried[0] != 4 {
		t.Fatalf("R retried %v, want the failed message 4", f.retried)
	}
}

// ctrl+r (and tab in the composer) picks the next route by hand, skipping
// the router's own choice; the line shows the plan the core gives for the
// pick, and the pick goes to the core with the draft. (The plan's words as
// networks come and go: TestRouteLineFallbackNotices, on the real router.)
func TestConversationRouteCycle(t *testing.T) {
	f := chatWorld(3)
	h := newHarness(t, f, 100, 30)
	h.keys("enter")
	h.mustShow("→ Ada via Matrix · E2EE✓ E2EE verified", "[ctrl+r] 2 routes")
	h.keys("ctrl+r")
	h.mustShow("→ Ada via XMPP · TLS TLS only · needs your OK · picked")
	if o := f.planned[len(f.planned)-1]; o.Route == nil || o.Route.Account != "xm" {
		t.Fatalf("planned %+v, want the XMPP pick", o)
	}
	h.keys("tab")
	h.mustShow("→ Ada via Matrix")
	h.mustNotShow("picked")
	if o := f.planned[len(f.planned)-1]; o.Route != nil {
		t.Fatalf("planned %+v, want the router's choice back", o)
	}
}

func TestConversationTypingEdgesOnly(t *testing.T) {
	f := chatWorld(3)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.typeText("hello")
	if len(f.typing) != 1 || !f.typing[0] {
		t.Fatalf("typing notices %v, want one 'on' for five keys", f.typing)
	}
	for range 5 {
		h.keys("backspace")
	}
	if len(f.typing) != 2 || f.typing[1] {
		t.Fatalf("typing notices %v, want 'off' once the draft is empty", f.typing)
	}
}

// TestNoReadReceiptWhileAway: a message arriving in the open conversation
// while the terminal has lost focus is not marked read (no read receipt
// goes out) until the user comes back.
func TestNoReadReceiptWhileAway(t *testing.T) {
	f := chatWorld(10)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.send(tea.BlurMsg{})
	marks := len(f.marked)
	f.msgs[1] = append(f.msgs[1], inbox.Message{ID: 101, Conversation: 1, Network: protocols.Matrix, SenderName: "Ada", Body: "while you were away", At: testNow})
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 1}}})
	h.mustShow("while you were away")
	if len(f.marked) != marks {
		t.Fatal("marked read while the terminal was away")
	}
	h.send(tea.FocusMsg{})
	if len(f.marked) != marks+1 || f.marked[len(f.marked)-1] != 1 {
		t.Fatalf("not marked read when the user came back: %v", f.marked)
	}
	h.send(tea.FocusMsg{})
	if len(f.marked) != marks+1 {
		t.Fatal("marked read twice")
	}
}

// TestStaleReadDoesNotUndoANewerOne: reads run concurrently; when an
// older read of the newest messages answers after a newer one, the message
// the newer read brought stays on screen.
func TestStaleReadDoesNotUndoANewerOne(t *testing.T) {
	f := chatWorld(10)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	old := append([]inbox.Message(nil), f.msgs[1]...)
	first := h.m.conv.reads.issued + 1
	h.m.conv.loadNewest(50) // read 1: it will see the store as it was
	second := h.m.conv.loadNewest(50)
	f.msgs[1] = append(f.msgs[1], inbox.Message{ID: 101, Conversation: 1, Network: protocols.Matrix, SenderName: "Ada", Body: "got it, live", At: testNow})
	h.send(second()) // read 2 answers first, with the new message
	h.mustShow("got it, live")
	h.send(messagesMsg{Conv: 1, Items: old, Want: 50, Seq: first}) // then read 1, stale
	h.mustShow("got it, live")
}

// A page of older messages that a refresh already brought (the servers'
// history changed the store, and the newest page reached back past the
// window) is not shown twice.
func TestOlderPageAfterARefreshShowsEachMessageOnce(t *testing.T) {
	h := newHarness(t, world(3), 80, 30)
	h.keys("enter")
	c := h.m.conv
	msg := func(i int) inbox.Message {
		return inbox.Message{ID: inbox.MessageID(i), Conversation: c.id, Kind: inbox.KindText,
			Body: fmt.Sprintf("line %02d", i), At: testNow.Add(time.Duration(i) * time.Second)}
	}
	page := func(from, to int) []inbox.Message {
		var out []inbox.Message
		for i := from; i <= to; i++ {
			out = append(out, msg(i))
		}
		return out
	}
	h.send(messagesMsg{Conv: c.id, Items: page(13, 20), Want: 50, Seq: c.reads.issued + 100})
	h.send(messagesMsg{Conv: c.id, Items: page(1, 20), Want: 50, Seq: c.reads.issued + 100}) // the refresh
	h.send(messagesMsg{Conv: c.id, Items: page(1, 12), Want: 50, Older: true})               // the older page, late
	seen := map[inbox.MessageID]int{}
	for _, m := range c.msgs {
		seen[m.ID]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("message %d is in the window %d times", id, n)
		}
	}
	if len(c.msgs) != 20 {
		t.Fatalf("the window holds %d messages, want 20", len(c.msgs))
	}
}
