package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"polyglot/internal/tmuxtest"
)

// notifySession starts the built binary in tmux with config.toml holding
// only a [notifications] table: no account, so the demo world opens and its
// scripted contacts write to us on their own.
func notifySession(t *testing.T, notifications string) *tmuxtest.Session {
	p := newProfile(t)
	if err := os.MkdirAll(filepath.Dir(p.configFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.configFile(), []byte("[notifications]\n"+notifications), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(p.env(), "POLYGLOT_DEMO_SPEED=10", "LANG=C.UTF-8")
	s := tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(10*time.Second, "Alice Martin", "Bob Nakamura")
	return s
}

var unreadTitle = regexp.MustCompile(`^Polyglot \((\d+)\)$`)

// unreadInTitle waits for "Polyglot (N)" with N > 0 in the pane title (OSC 2).
func unreadInTitle(t *testing.T, s *tmuxtest.Session) int {
	t.Helper()
	title := s.WaitDisplay(15*time.Second, "#{pane_title}", func(v string) bool {
		m := unreadTitle.FindStringSubmatch(v)
		return m != nil && m[1] != "0"
	})
	n, _ := strconv.Atoi(unreadTitle.FindStringSubmatch(title)[1])
	return n
}

// With bell = true the demo contacts' live messages ring the terminal bell
// (tmux flags the window) and the title counts unread conversations.
func TestNotifyBellAndTitleInTmux(t *testing.T) {
	s := notifySession(t, "bell = true\n")
	s.WaitDisplay(15*time.Second, "#{window_bell_flag}", func(v string) bool { return v == "1" })
	n := unreadInTitle(t, s)
	t.Logf("title shows %d unread conversations", n)
	s.Keys("q")
}

// The default config rings nothing, but the title still counts; with
// title = false the title is left alone.
func TestNotifyDefaultsInTmux(t *testing.T) {
	s := notifySession(t, "")
	unreadInTitle(t, s)
	// The demo keeps writing; give it time to have rung if it were going to.
	time.Sleep(1500 * time.Millisecond)
	if v := s.Display("#{window_bell_flag}"); v != "0" {
		t.Fatalf("bell rang with bell = false (window_bell_flag %q)", v)
	}
	s.Keys("q")

	quiet := notifySession(t, "title = false\nbell = true\n")
	quiet.WaitDisplay(15*time.Second, "#{window_bell_flag}", func(v string) bool { return v == "1" })
	if v := quiet.Display("#{pane_title}"); unreadTitle.MatchString(v) || v == "Polyglot" {
		t.Fatalf("title = false, yet the title is %q", v)
	}
	quiet.Keys("q")
}
