package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

func TestChangeFeedCoalescesABurst(t *testing.T) {
	ch := make(chan inbox.Change, 8)
	for i := 1; i <= 5; i++ {
		ch <- inbox.Change{Kind: inbox.ChangeMessages, Conversation: inbox.ConversationID(i)}
	}
	msg := waitChange(ch)()
	got, ok := msg.(changesMsg)
	if !ok || len(got.Changes) != 5 {
		t.Fatalf("one wake-up should carry the whole burst, got %#v", msg)
	}
	close(ch)
	if _, ok := waitChange(ch)().(feedClosedMsg); !ok {
		t.Fatal("a closed feed must end the watcher")
	}
}

func TestResizeReflows(t *testing.T) {
	f := chatWorld(3)
	f.msgs[1][2].Body = strings.Repeat("word ", 30)
	h := newHarness(t, f, 100, 24)
	h.keys("enter")
	wide := strings.Count(h.view(), "word")
	h.send(tea.WindowSizeMsg{Width: 40, Height: 24})
	for _, l := range strings.Split(h.view(), "\n") {
		if styledWidth(l) > 40 {
			t.Fatalf("line wider than the window after resize: %q", l)
		}
	}
	if strings.Count(h.view(), "word") != wide {
		t.Fatal("rewrapping lost words")
	}
	if got := strings.Count(h.view(), "\n") + 1; got != 24 {
		t.Fatalf("frame has %d lines, want 24", got)
	}
}

type supervisor []AccountStatus

func (s supervisor) AccountStatuses() []AccountStatus { return s }

func TestStatusBarPrefersSupervisorStates(t *testing.T) {
	f := world(1)
	m := newRoot(Options{Core: f, Theme: asciiTheme(t), Now: func() time.Time { return testNow },
		Accounts: supervisor{{Account: "me@xmpp", Network: protocols.XMPP, State: "backing off"}}})
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 10})
	h.run(m.Init())
	h.mustShow("XM me@xmpp backing off")
	h.mustNotShow("me@matrix")
}

func TestCtrlCQuitsFromTheComposer(t *testing.T) {
	h := newHarness(t, chatWorld(1), 80, 24)
	h.keys("enter")
	h.typeText("q?") // plain letters are text in the composer
	if h.quit || h.m.showHelp {
		t.Fatal("q and ? must type into the composer")
	}
	h.keys("ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c quits")
	}
}
