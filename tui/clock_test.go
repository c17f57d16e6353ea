package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// An idle screen has one timer, the minute clock: scheduled once at start
// and once per tick, never by other messages; a tick redraws the relative
// times with the clock's new reading.
func TestIdleScreenHasOnlyTheMinuteClock(t *testing.T) {
	now := testNow
	m := newRoot(Options{Core: world(3), Theme: asciiTheme(t), Now: func() time.Time { return now }, PageSize: 20})
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.run(m.Init())
	if h.clocks != 1 {
		t.Fatalf("start scheduled %d minute clocks, want 1", h.clocks)
	}
	age := func() string {
		for _, l := range strings.Split(h.view(), "\n") {
			if strings.Contains(l, "Contact 1") { // the row; its age is the last field
				f := strings.Fields(l)
				return f[len(f)-1]
			}
		}
		t.Fatalf("no row for Contact 1:\n%s", h.view())
		return ""
	}
	if got := age(); got != "1m" {
		t.Fatalf("Contact 1's age = %q, want 1m:\n%s", got, h.view())
	}
	// Keys and redraws schedule no clock of their own.
	h.keys("j", "k", "j")
	if h.clocks != 1 {
		t.Fatalf("moving the cursor scheduled %d clocks in all, want still 1", h.clocks)
	}
	now = now.Add(2 * time.Minute)
	if got := age(); got != "3m" {
		t.Fatalf("View did not read the clock: Contact 1's age = %q, want 3m", got)
	}
	h.send(clockMsg{})
	if h.clocks != 2 {
		t.Fatalf("a tick left %d clocks scheduled in all, want 2 (the next minute)", h.clocks)
	}
}
