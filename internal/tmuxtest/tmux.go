// Package tmuxtest drives a real terminal (tmux) for end-to-end tests: it
// starts a command in a detached session of a fixed size, types keys, and
// waits for text to appear on the captured screen.
package tmuxtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var seq atomic.Int64

// Session is one tmux session running the command under test.
type Session struct {
	t      testing.TB
	name   string
	socket string
	raw    string // everything the program wrote to the pane, escape sequences included
}

// Start runs argv in a new detached tmux session of cols×rows with env added.
// A missing tmux fails the test: scripts/test-deps.sh installs it.
//
// Everything the program writes is kept raw (Raw) from its first byte: the
// command waits for the pane's pipe before it starts. When the test ends the
// raw output is checked for terminal queries (TerminalQuery), in every
// test that uses a Session.
func Start(t testing.TB, cols, rows int, env []string, argv ...string) *Session {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux not found: run scripts/test-deps.sh (%v)", err)
	}
	dir := t.TempDir()
	s := &Session{
		t:      t,
		name:   fmt.Sprintf("pg%d-%d", os.Getpid(), seq.Add(1)),
		socket: filepath.Join(dir, "tmux.sock"),
		raw:    filepath.Join(dir, "pane.raw"),
	}
	// env(1) puts the variables in front of the command inside tmux, so the
	// server's own environment does not matter. The command first waits on
	// a tmux channel the test signals once the pipe is open.
	cmdline := append([]string{"env"}, env...)
	cmdline = append(cmdline, argv...)
	wait := shellJoin([]string{"tmux", "-S", s.socket, "wait-for", s.name})
	args := []string{"-S", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", s.name,
		"-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), wait + "; " + shellJoin(cmdline) + "; sleep 30"}
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.socket, "kill-server").Run() })
	// cat ends when the pipe closes; the .done file says all is written.
	pipe := "cat >> " + shellJoin([]string{s.raw}) + "; : > " + shellJoin([]string{s.raw + ".done"})
	s.tmux("pipe-pane", "-t", s.name, pipe)
	s.tmux("wait-for", "-S", s.name)
	// Runs before kill-server (cleanups run last first).
	t.Cleanup(s.checkNoTerminalQuery)
	return s
}

// tmux runs a tmux command on the session's server, failing the test on error.
func (s *Session) tmux(args ...string) {
	s.t.Helper()
	args = append([]string{"-S", s.socket}, args...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
}

// Raw is everything the program has written to the pane so far, escape
// sequences included, as tmux passed it on (it may lag the screen a little).
func (s *Session) Raw() string {
	b, err := os.ReadFile(s.raw)
	if err != nil && !os.IsNotExist(err) {
		s.t.Fatalf("read raw pane output: %v", err)
	}
	return string(b)
}

// terminalQuery matches sequences that ask the terminal for an answer:
// OSC 4/10–19/52 colour and clipboard queries, primary/secondary/tertiary
// device attributes, device status and cursor position reports, DECRQM,
// XTVERSION, the kitty keyboard flags, DECRQSS and XTGETTCAP. An answer
// arrives as input — typed text if it comes late.
var terminalQuery = regexp.MustCompile(`\x1b\](?:4;\d+|1\d|52;[a-z0-9]*);\?|` +
	`\x1b\[[>=]?0?c|\x1b\[\??[56]n|\x1b\[\??\d+\$p|\x1b\[>0?q|\x1b\[\?u|\x1bP[$+]q`)

// TerminalQuery is the first terminal query in raw output, or "".
func TerminalQuery(raw string) string { return terminalQuery.FindString(raw) }

// checkNoTerminalQuery fails the test if the program wrote a terminal
// query. It closes the pane's pipe (a dead pane has closed it already) and
// waits until everything written is in the raw log, so it sees the whole
// output.
func (s *Session) checkNoTerminalQuery() {
	s.t.Helper()
	_ = exec.Command("tmux", "-S", s.socket, "pipe-pane", "-t", s.name).Run() // no command: close
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(s.raw + ".done"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.t.Errorf("the raw pane output was not complete 10 s after the pipe closed")
			return
		}
	}
	if q := TerminalQuery(s.Raw()); q != "" {
		s.t.Errorf("the program wrote the terminal query %q", q)
	}
}

// Keys sends tmux key names ("Enter", "C-c", "j") or literal text with Type.
func (s *Session) Keys(keys ...string) {
	s.t.Helper()
	args := append([]string{"-S", s.socket, "send-keys", "-t", s.name}, keys...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v: %s", keys, err, out)
	}
}

// Type sends text literally (no key-name interpretation).
func (s *Session) Type(text string) {
	s.t.Helper()
	args := []string{"-S", s.socket, "send-keys", "-t", s.name, "-l", text}
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys -l: %v: %s", err, out)
	}
}

// Screen returns the visible pane as plain text.
func (s *Session) Screen() string {
	s.t.Helper()
	out, err := exec.Command("tmux", "-S", s.socket, "capture-pane", "-p", "-t", s.name).Output()
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

// ScreenWithEscapes returns the visible pane with the SGR sequences of its
// cells' attributes and colours (capture-pane -e), so a test can check
// that text is drawn bold, underlined, reversed, ….
func (s *Session) ScreenWithEscapes() string {
	s.t.Helper()
	out, err := exec.Command("tmux", "-S", s.socket, "capture-pane", "-p", "-e", "-t", s.name).Output()
	if err != nil {
		s.t.Fatalf("tmux capture-pane -e: %v", err)
	}
	return string(out)
}

// WaitFor waits until the screen contains all of want, failing with the last
// screen after timeout. It returns the screen and how long it took.
func (s *Session) WaitFor(timeout time.Duration, want ...string) (string, time.Duration) {
	s.t.Helper()
	start := time.Now()
	var screen string
	for time.Since(start) < timeout {
		screen = s.Screen()
		if containsAll(screen, want) {
			return screen, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("after %v the screen lacks %q:\n%s", timeout, want, screen)
	return "", 0
}

// WaitGone waits until the screen no longer contains text.
func (s *Session) WaitGone(timeout time.Duration, text string) string {
	s.t.Helper()
	start := time.Now()
	var screen string
	for time.Since(start) < timeout {
		screen = s.Screen()
		if !strings.Contains(screen, text) {
			return screen
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("after %v the screen still shows %q:\n%s", timeout, text, screen)
	return ""
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// Display expands a tmux format for the session's pane, e.g.
// "#{pane_title}" (set by OSC 2) or "#{window_bell_flag}" (1 once the
// program rang the bell in this detached session).
func (s *Session) Display(format string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", "-S", s.socket, "display-message", "-p", "-t", s.name, format).Output()
	if err != nil {
		s.t.Fatalf("tmux display %q: %v", format, err)
	}
	return strings.TrimRight(string(out), "\n")
}

// WaitDisplay waits until ok accepts the expansion of format, failing with
// the last value after timeout. It returns that value.
func (s *Session) WaitDisplay(timeout time.Duration, format string, ok func(string) bool) string {
	s.t.Helper()
	start := time.Now()
	var v string
	for time.Since(start) < timeout {
		if v = s.Display(format); ok(v) {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("after %v %s = %q", timeout, format, v)
	return ""
}

// Tmux runs one tmux command against the session's server, e.g.
// Tmux("set-option", "-g", "set-clipboard", "on") or Tmux("show-buffer"),
// and returns its output.
func (s *Session) Tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}
