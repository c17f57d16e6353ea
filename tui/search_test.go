package tui

import (
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

func TestSearchAsYouTypeAndOpen(t *testing.T) {
	f := world(3)
	f.hits = []inbox.SearchHit{
		{Message: inbox.Message{Conversation: 2, Body: "the quarterly report", Network: protocols.XMPP, At: testNow}, Title: "Contact 2", Snippet: "the quarterly [report]"},
		{Message: inbox.Message{Conversation: 3, Body: "report card \x1b[31m", Network: protocols.Matrix, At: testNow}, Title: "Contact 3"},
	}
	h := newHarness(t, f, 80, 24)
	h.keys("/")
	h.mustShow("type to search")
	h.typeText("report")
	h.mustShow("Contact 2", "the quarterly [report]", "Contact 3", "report card ␛[31m")
	h.mustNotShow("\x1b[31m")
	h.keys("down", "enter")
	if h.m.screen != screenConversation || h.m.conv.id != 3 {
		t.Fatalf("enter on the second hit opened %v", h.m.screen)
	}
}

func TestSearchDropsStaleResults(t *testing.T) {
	f := world(1)
	h := newHarness(t, f, 80, 24)
	h.keys("/")
	h.typeText("ab")
	old := h.m.search.seq - 1
	h.send(searchMsg{Seq: old, Hits: []inbox.SearchHit{{Title: "stale"}}})
	h.mustNotShow("stale")
	h.typeText("zzz")
	h.mustShow("nothing matches")
}
