package tui

import (
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// fillingCore is a fake inbox with history fills running.
type fillingCore struct {
	*fakeCore
	mu    sync.Mutex
	fills map[string]inbox.HistoryProgress
}

func (f *fillingCore) HistoryProgress() map[string]inbox.HistoryProgress {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]inbox.HistoryProgress{}
	for k, v := range f.fills {
		out[k] = v
	}
	return out
}

func (f *fillingCore) set(account string, p *inbox.HistoryProgress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p == nil {
		delete(f.fills, account)
	} else {
		f.fills[account] = *p
	}
}

// TestStatusBarShowsHistoryProgress: while an account fills its recent
// history the status bar says how far it got, next to that account (with
// the supervisor's states or the inbox's); each report replaces the last,
// the note goes when the fill ends, and the inbox stays usable meanwhile.
func TestStatusBarShowsHistoryProgress(t *testing.T) {
	for _, withSupervisor := range []bool{false, true} {
		core := &fillingCore{fakeCore: chatWorld(3), fills: map[string]inbox.HistoryProgress{}}
		core.set("me@matrix", &inbox.HistoryProgress{Messages: 340, Limit: 2000, Chats: 12})
		o := Options{Core: core, Theme: asciiTheme(t), Now: func() time.Time { return testNow }, PageSize: 20}
		if withSupervisor {
			o.Accounts = supervisor{{Account: "me@matrix", Network: "matrix", State: AccountOnline}, {Account: "other@xmpp", Network: "xmpp", State: AccountOnline}}
		}
		m := newRoot(o)
		t.Cleanup(m.close)
		h := &harness{t: t, m: m}
		h.send(tea.WindowSizeMsg{Width: 140, Height: 20})
		h.run(m.Init())

		last := func() string {
			lines := strings.Split(h.view(), "\n")
			return lines[len(lines)-1]
		}
		if got := last(); !strings.Contains(got, "me@matrix online · history 340 messages (up to 2000) · 12 chats…") {
			t.Fatalf("status bar (supervisor %v): %q", withSupervisor, got)
		}
		if withSupervisor && !strings.Contains(last(), "other@xmpp online") || strings.Count(last(), "history") != 1 {
			t.Fatalf("the progress is not on its own account only: %q", last())
		}

		core.set("me@matrix", &inbox.HistoryProgress{Messages: 440, Chats: 13})
		h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}}})
		if got := last(); !strings.Contains(got, "history 440 messages · 13 chats…") || strings.Contains(got, "340") {
			t.Fatalf("after a new report: %q", got)
		}

		// Usable meanwhile: a conversation opens and shows its messages.
		h.keys("enter")
		h.mustShow("message number 3", "history 440 messages")
		h.keys("esc", "esc")
		h.mustShow("Contact 2", "history 440 messages")

		core.set("me@matrix", nil)
		h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}}})
		if got := last(); strings.Contains(got, "history") || !strings.Contains(got, "me@matrix online") {
			t.Fatalf("after the fill ended: %q\n%s", got, h.view())
		}
	}
}

func TestHistoryProgressText(t *testing.T) {
	for p, want := range map[inbox.HistoryProgress]string{
		{Messages: 0, Limit: 2000, Chats: 0}:    "history 0 messages (up to 2000) · 0 chats…",
		{Messages: 1234, Limit: 0, Chats: 7}:    "history 1234 messages · 7 chats…",
		{Messages: 100, Limit: 100, Chats: 100}: "history 100 messages (up to 100) · 100 chats…",
	} {
		if got := historyProgressText(p); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
}
