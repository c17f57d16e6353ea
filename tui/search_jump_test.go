package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// withHistory gives Ada's conversation n more messages from her, one a
// minute up to an hour ago, the one at index at reading body.
func (w *realWorld) withHistory(t *testing.T, n, at int, body string) {
	t.Helper()
	evs := make([]protocols.Event, 0, n)
	for i := 0; i < n; i++ {
		b := fmt.Sprintf("history line %d", i)
		if i == at {
			b = body
		}
		sent := testNow.Add(-time.Hour - time.Duration(n-i)*time.Minute)
		evs = append(evs, protocols.MessageEvent{Historical: true, Message: protocols.Message{
			NetworkID: protocols.MessageID(fmt.Sprintf("$h%d", i)), Chat: protocols.Chat{ID: "!ada:example.org"}, Sender: adaMX,
			Body: b, Sent: sent, Received: sent, Encryption: protocols.EncE2EEVerified}})
	}
	if err := w.in.IngestBatch("mx", evs); err != nil {
		t.Fatal(err)
	}
}

// selectedRow is the conversation row carrying the selection marker.
func selectedRow(frame string) string {
	for _, l := range strings.Split(frame, "\n") {
		if strings.Contains(l, "▌") {
			return l
		}
	}
	return ""
}

// `/会議` finds a message hundreds of messages back in a real store, the
// match highlighted without its markers; enter opens the conversation
// scrolled to it, selected, with the keyboard on the history, and moving
// from there goes on from that message.
func TestSearchEnterOpensAtTheMessage(t *testing.T) {
	w := newRealWorld(t)
	w.withHistory(t, 1200, 300, "明日の会議は10時からです")
	h := newHarness(t, w.in, 80, 24)
	h.keys("/")
	h.typeText("会議")
	h.mustShow("Ada Lovelace", "明日の会議は10時からです")
	h.mustNotShow(inbox.SnippetOpen, inbox.SnippetClose)
	h.keys("enter")
	if h.m.screen != screenConversation || h.m.conv.id != w.ada {
		t.Fatalf("enter opened screen %v:\n%s", h.m.screen, h.view())
	}
	frame := h.view()
	assertInert(t, frame)
	if row := selectedRow(frame); !strings.Contains(row, "明日の会議は10時からです") {
		t.Fatalf("the hit is not the selected row (%q):\n%s", row, frame)
	}
	if h.m.conv.focus != focusHistory {
		t.Error("the keyboard is not on the history")
	}
	// Context above it was loaded too: the previous message is one key away.
	h.keys("k")
	if row := selectedRow(h.view()); !strings.Contains(row, "history line 299") {
		t.Errorf("up from the hit selects %q:\n%s", row, h.view())
	}
	// Back to the results, the list is still there.
	h.keys("esc")
	if h.m.screen != screenSearch {
		t.Fatalf("esc went to %v", h.m.screen)
	}
	h.mustShow("明日の会議は10時からです")
}

// A name or address hit opens its conversation at the newest message.
func TestSearchNameHitOpensTheConversation(t *testing.T) {
	w := newRealWorld(t)
	h := newHarness(t, w.in, 80, 24)
	h.keys("/")
	h.typeText("4915123")
	h.mustShow("Bob", "WA", "address 4915123456789@s.whatsapp.net")
	h.keys("enter")
	if h.m.screen != screenConversation || h.m.conv.conv.Title != "Bob" {
		t.Fatalf("enter opened %v (%q):\n%s", h.m.screen, h.m.conv.conv.Title, h.view())
	}
	h.mustShow("lunch tomorrow?")
}

// A hit further back than the view reads opens the conversation at the
// newest message and says why.
func TestSearchHitTooFarBack(t *testing.T) {
	w := newRealWorld(t)
	w.withHistory(t, maxJump+100, 10, "古い会議の話")
	h := newHarness(t, w.in, 100, 24)
	h.keys("/")
	h.typeText("古い会議")
	h.mustShow("古い会議の話")
	h.keys("enter")
	if h.m.screen != screenConversation {
		t.Fatalf("enter opened %v", h.m.screen)
	}
	h.mustShow("too far back")
	h.mustNotShow("古い会議の話")
}

// Hostile names and bodies in results are drawn inert, matches inside
// escape sequences included.
func TestSearchResultsAreInert(t *testing.T) {
	w := newRealWorld(t)
	w.ingest(t, "xm", protocols.ContactEvent{Contact: evil, Name: "Mal\x1b[2Jlory\x1b]52;c;cm0gLXJm\x07"})
	w.withHistory(t, 3, 1, "会議\x1b]8;;https://evil.example/\x1b\\リンク\x1b]8;;\x1b\\ \x1b[2J")
	h := newHarness(t, w.in, 80, 24)
	h.keys("/")
	for _, q := range []string{"mal", "2J", "会議", "リンク", "52;c"} {
		h.typeText(q)
		frame := h.view()
		assertInert(t, frame)
		if strings.Contains(frame, inbox.SnippetOpen) {
			t.Errorf("%q: a marker reached the screen:\n%s", q, frame)
		}
		for range []rune(q) {
			h.keys("backspace")
		}
	}
	h.typeText("mal")
	h.mustShow("name Mal␛[2Jlory")
}
