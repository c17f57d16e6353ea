package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
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
	s.WaitFor(30*time.Second, "Alice Martin", "Bob Nakamura",
		"demo-matrix online", "demo-xmpp online", "demo-whatsapp online")
	before := waitSelected(t, s, 0) // the first selection is the top row
	// Each account's history lands as it comes online: wait until the list
	// holds still, so three rows down names one conversation.
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(300 * time.Millisecond)
		now := waitSelected(t, s, 0)
		if strings.Join(now, "\n") == strings.Join(before, "\n") {
			break
		}
		if before = now; time.Now().After(deadline) {
			t.Fatal("the inbox keeps reordering")
		}
	}
	s.Keys("jjj")
	after := waitSelected(t, s, 3)
	if before[3] != after[3] {
		t.Fatalf("the selection is on %q, want %q three rows down", after[3], before[3])
	}
	s.Keys("kk")
	waitSelected(t, s, 1)
	s.Keys("q")
}

// The user's own reaction is drawn in colour, never as raw "␛[…m" text.
func TestOwnReactionShowsNoEscapeText(t *testing.T) {
	s, _ := demoSession(t, "1")
	s.WaitFor(10*time.Second, "Alice Martin", "Bob Nakamura")
	openConversation(t, s, "Bob Nakamura")
	pressEscape(s, 1) // history: the newest message is selected
	s.Keys("+")
	s.WaitFor(5*time.Second, "react:")
	s.Keys("2")
	screen, _ := s.WaitFor(10*time.Second, "❤️1")
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "❤️1") && strings.Contains(l, "␛") {
			t.Fatalf("the own reaction shows escape text: %q", l)
		}
	}
	if !strings.Contains(s.ScreenWithEscapes(), "\x1b[") {
		t.Fatal("the screen has no colour at all")
	}
}

// A draft stays with its conversation when the user leaves it (esc), and
// across a restart of the client (kept in the store).
func TestDraftSurvivesLeavingAndRestart(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pw, []byte("alice-pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: %d %s", code, stderr)
	}
	if _, stderr, code := p.run("", "send", "--to", "bob@localhost", "--allow-downgrade", "hi bob"); code != 0 {
		t.Fatalf("send: %d %s", code, stderr)
	}
	const draft = "half a thought, not sent"
	env := append(p.env(), "LANG=C.UTF-8")

	s := tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(15*time.Second, "alice@localhost online", "bob@localhost")
	openConversation(t, s, "bob@localhost")
	s.WaitFor(5*time.Second, "hi bob")
	s.Type(draft)
	s.WaitFor(5*time.Second, "┃ "+draft)
	pressEscape(s, 2) // leave the composer, then the conversation
	s.WaitGone(5*time.Second, "┃ "+draft)
	openConversation(t, s, "bob@localhost")
	s.WaitFor(5*time.Second, "┃ "+draft)
	pressEscape(s, 2)
	s.Keys("q")
	// The client has exited (the pane runs the "sleep" after it).
	s.WaitDisplay(10*time.Second, "#{pane_current_command}", func(v string) bool { return v == "sleep" })

	s = tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(15*time.Second, "bob@localhost")
	openConversation(t, s, "bob@localhost")
	s.WaitFor(5*time.Second, "┃ "+draft)
}

// Block asks first and can be undone: the blocked stranger is listed under
// Requests, u brings the request back, and accepting it then puts the
// conversation in the inbox.
func TestBlockThenUnblockRestoresTheConversation(t *testing.T) {
	s, _ := demoSession(t, "1")
	s.WaitFor(10*time.Second, "Alice Martin", "Bob Nakamura")
	s.Keys("r")
	s.WaitFor(10*time.Second, ravi, "road bike", "[b] Block")
	selectLine(t, s, ravi)
	s.Keys("b")
	s.WaitFor(5*time.Second, "? They can't reach you on any network.", "[y] block")
	s.Keys("y")
	s.WaitFor(5*time.Second, "Blocked (1)", "[u] Unblock")
	s.WaitGone(5*time.Second, "road bike")
	selectLine(t, s, ravi)
	s.Keys("u")
	s.WaitFor(5*time.Second, "unblocked", "road bike", "[a] Accept")
	s.WaitGone(5*time.Second, "Blocked (1)")
	selectLine(t, s, ravi)
	s.Keys("a")
	s.WaitGone(5*time.Second, "road bike")
	pressEscape(s, 1)
	s.WaitFor(5*time.Second, "road bike")
}

// selectLine moves the selection (j/k) onto the line that shows text.
func selectLine(t *testing.T, s *tmuxtest.Session, text string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		screen := s.Screen()
		if strings.Contains(selectedLine(screen), text) {
			return
		}
		key := "j"
		if strings.Index(screen, text) < strings.Index(screen, selectedLine(screen)) {
			key = "k"
		}
		s.Keys(key)
		time.Sleep(80 * time.Millisecond)
	}
	t.Fatalf("cannot select the line with %q:\n%s", text, s.Screen())
}

// The demo says it is the demo, and its add-account form can be tried: it
// explains that the demo adds nothing.
func TestDemoSaysItIsTheDemo(t *testing.T) {
	s, _ := demoSession(t, "1")
	s.WaitFor(10*time.Second, "DEMO", "Alice Martin")
	s.Keys("A")
	s.WaitFor(5*time.Second, "[a] tries the add form")
	s.Keys("a")
	s.WaitFor(5*time.Second, "Add an account", "demo: try the form")
	s.Type("alice@example.org")
	s.Keys("Tab", "Tab", "Tab")
	s.Type("not-a-real-password")
	s.Keys("Enter")
	s.WaitFor(5*time.Second, "this is the demo: nothing was added")
}
