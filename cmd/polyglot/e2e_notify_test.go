package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// passthrough is one tmux passthrough sequence in the raw pane output.
var passthrough = regexp.MustCompile(`\x1bPtmux;((?:[^\x1b]|\x1b\x1b)*)\x1b\\`)

// Inside tmux, desktop notifications leave as tmux passthrough (ESC
// doubled), one well-formed OSC 777 each, whatever the demo's hostile
// contact (Mallory, whose name and message carry escape sequences) sends.
func TestNotifyDesktopPassthroughInTmux(t *testing.T) {
	s := notifySession(t, "desktop = \"osc777\"\npreview = true\n")
	var chunks [][]string
	deadline := time.Now().Add(20 * time.Second)
	for len(chunks) < 2 && time.Now().Before(deadline) {
		chunks = passthrough.FindAllStringSubmatch(s.Raw(), -1)
		time.Sleep(100 * time.Millisecond)
	}
	if len(chunks) < 2 {
		t.Fatalf("after 20 s, %d desktop notifications in the pane output, want at least 2 (one per 2 s burst)", len(chunks))
	}
	osc := regexp.MustCompile(`^\x1b\]777;notify;Polyglot;[^\x00-\x1f\x7f;]+ \((Matrix|XMPP|WhatsApp)\)[^\x00-\x1f\x7f;]*\x07$`)
	for _, c := range chunks {
		seq := strings.ReplaceAll(c[1], "\x1b\x1b", "\x1b")
		if !osc.MatchString(seq) {
			t.Errorf("malformed desktop notification %q", seq)
		}
	}
	t.Logf("%d notifications, first %q", len(chunks), chunks[0][1])
	s.Keys("q")
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
