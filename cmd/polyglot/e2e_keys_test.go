package main

import (
	"strings"
	"testing"
	"time"

	"polyglot/internal/tmuxtest"
)

// inboxEntries are the names of the inbox rows on screen, top first, and
// the index of the selected one (-1 if none). Entries start "  " or "▌ ";
// their previews "    ".
func inboxEntries(screen string) (names []string, selected int) {
	selected = -1
	for _, l := range strings.Split(screen, "\n")[1:] {
		entry := strings.TrimPrefix(l, "▌ ")
		if entry != l {
			selected = len(names)
		} else if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "    ") {
			continue
		} else {
			entry = l[2:]
		}
		names = append(names, strings.Join(strings.Fields(entry), " "))
	}
	return names, selected
}

// waitSelected waits until the inbox selection is on row want.
func waitSelected(t *testing.T, s *tmuxtest.Session, want int) []string {
	t.Helper()
	var names []string
	sel := -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		if names, sel = inboxEntries(s.Screen()); sel == want {
			return names
		}
	}
	t.Fatalf("the selection is on row %d, want %d:\n%s", sel, want, s.Screen())
	return nil
}

// Keys that arrive in one read (tmux send-keys "jjj", like fast typing
// over SSH) each act: the selection moves three rows.
func TestKeyBurstMovesThreeRows(t *testing.T) {
	// A slow demo clock: no contact writes (and reorders the inbox) meanwhile.
	s, _ := demoSession(t, "0.2")
	s.WaitFor(20*time.Second, "Alice Martin", "Bob Nakamura")
	before := waitSelected(t, s, 0) // the first selection is the top row
	s.Keys("jjj")
	after := waitSelected(t, s, 3)
	if before[3] != after[3] {
		t.Fatalf("the selection is on %q, want %q three rows down", after[3], before[3])
	}
	s.Keys("kk")
	waitSelected(t, s, 1)
	s.Keys("q")
}
