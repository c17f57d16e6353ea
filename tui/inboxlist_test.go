package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

func TestInboxListPagesAsCursorNearsEnd(t *testing.T) {
	f := world(55)
	h := newHarness(t, f, 80, 24)
	if got := len(h.m.list.items); got != 20 {
		t.Fatalf("first window holds %d conversations, want one page of 20", got)
	}
	h.mustShow("Contact 1", "hello 1")
	// Walk down with j and arrows; the list loads pages, never everything.
	for i := 0; i < 12; i++ {
		h.keys("j")
	}
	if got := len(h.m.list.items); got != 40 {
		t.Fatalf("after moving near the end %d loaded, want 40", got)
	}
	h.keys("G")
	h.keys("G")
	if got := len(h.m.list.items); got != 55 {
		t.Fatalf("G to the end loaded %d, want all 55 in pages", got)
	}
	if h.m.list.more {
		t.Fatal("a short page must end paging")
	}
	h.mustShow("Contact 55")
	h.keys("g")
	h.mustShow("Contact 1")
	h.keys("down", "down")
	if c, _ := h.m.list.selected(); c.Title != "Contact 3" {
		t.Fatalf("selected %q after g ↓ ↓", c.Title)
	}
	h.keys("k")
	if c, _ := h.m.list.selected(); c.Title != "Contact 2" {
		t.Fatalf("selected %q after k", c.Title)
	}
	h.wheel(tea.MouseButtonWheelDown)
	if c, _ := h.m.list.selected(); c.Title != "Contact 3" {
		t.Fatalf("wheel down selected %q", c.Title)
	}
}

func TestInboxListKeepsSelectionAcrossReorder(t *testing.T) {
	f := world(5)
	h := newHarness(t, f, 80, 24)
	h.keys("j", "j") // Contact 3
	f.mu.Lock()
	f.convs[0], f.convs[2] = f.convs[2], f.convs[0]
	f.mu.Unlock()
	h.send(changesMsg{Changes: nil})
	h.run(h.m.list.refresh())
	if c, _ := h.m.list.selected(); c.Title != "Contact 3" {
		t.Fatalf("selection jumped to %q when the list reordered", c.Title)
	}
	if h.m.list.cursor != 0 {
		t.Fatalf("cursor at %d, want 0 where Contact 3 moved", h.m.list.cursor)
	}
}

func TestInboxListNavigation(t *testing.T) {
	f := world(3)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	if h.m.screen != screenConversation || h.m.conv.id != 1 {
		t.Fatalf("enter did not open conversation 1 (screen %v)", h.m.screen)
	}
	if len(f.marked) != 1 || f.marked[0] != 1 {
		t.Fatalf("opening must ask the core to mark read, got %v", f.marked)
	}
	h.keys("esc", "esc") // leave composer, then back
	if h.m.screen != screenInbox {
		t.Fatalf("esc esc should return to the inbox, at %v", h.m.screen)
	}
	h.keys("r")
	if h.m.screen != screenRequests {
		t.Fatal("r should open requests")
	}
	h.keys("esc", "/")
	if h.m.screen != screenSearch {
		t.Fatal("/ should open search")
	}
	h.keys("esc")
	f.people[1] = personAda()
	h.keys("p")
	if h.m.screen != screenPerson || h.m.person.id != 1 {
		t.Fatal("p should open the selected entry's person")
	}
	h.keys("esc", "q")
	if !h.quit {
		t.Fatal("q on the inbox list must quit")
	}
}

func TestInboxListShowsUnreadTypingAndRequestCount(t *testing.T) {
	f := world(2)
	f.convs[0].Unread = 3
	f.convs[1].Typing = true
	f.reqs = sampleRequests()
	h := newHarness(t, f, 80, 24)
	h.mustShow("(3)", "Contact 2 is typing…", "Requests (2)", "MX")
}

// TestStaleListReadIsDropped: an older read of the list answering after a
// newer one does not bring back the old order or previews.
func TestStaleListReadIsDropped(t *testing.T) {
	f := world(3)
	h := newHarness(t, f, 80, 24)
	old := append([]inbox.Conversation(nil), f.convs...)
	first := h.m.list.reads.issued + 1
	h.m.list.refresh()
	second := h.m.list.refresh()
	f.convs[0].Preview = "the newest preview"
	h.send(second())
	h.mustShow("the newest preview")
	h.send(conversationsMsg{Items: old, Want: 50, Seq: first})
	h.mustShow("the newest preview")
}

// Until the user moves, the selection is the top row, whatever arrives
// and reorders the list meanwhile (history catching up at launch).
func TestInboxListFirstSelectionIsTopRow(t *testing.T) {
	f := world(5)
	h := newHarness(t, f, 80, 24)
	f.mu.Lock()
	f.convs[0], f.convs[2] = f.convs[2], f.convs[0]
	f.mu.Unlock()
	h.run(h.m.list.refresh())
	if c, _ := h.m.list.selected(); h.m.list.cursor != 0 || c.Title != "Contact 3" {
		t.Fatalf("selection on row %d (%q), want the top row", h.m.list.cursor, c.Title)
	}
}
