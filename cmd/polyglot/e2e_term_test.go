package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// termSession is the demo in tmux with tmux's clipboard taking OSC 52,
// an opener that writes down what it was given and an "editor" (sed) that
// changes the draft without a screen.
func termSession(t *testing.T) (s *tmuxtest.Session, opened string) {
	p := newProfile(t)
	opened = filepath.Join(p.root, "opened")
	opener := filepath.Join(p.root, "opener.sh")
	if err := os.WriteFile(opener, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+opened+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(p.env(), "POLYGLOT_DEMO_SPEED=2", "LANG=C.UTF-8", "POLYGLOT_OPENER="+opener,
		"VISUAL=sed -i s/one/two/", "EDITOR=sed -i s/one/two/")
	s = tmuxtest.Start(t, 120, 40, env, binPath)
	s.Tmux("set-option", "-g", "set-clipboard", "on")
	return s, opened
}

// waitRaw waits until the program's raw output holds want. (tmuxtest
// checks every session's raw output for terminal queries when it ends.)
func waitRaw(t *testing.T, s *tmuxtest.Session, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		if strings.Contains(s.Raw(), want) {
			return
		}
	}
	t.Fatalf("the pane's raw output lacks %q (%d bytes)", want, len(s.Raw()))
}

// TestCopyOpenLinkAndEditorInTheTerminal: on the demo in tmux, y puts the
// selected message on the clipboard through OSC 52 (seen in the raw output
// and in tmux's buffer), O hands its first link to the opener, and ctrl+e
// brings the draft back from $EDITOR into the composer, unsent.
func TestCopyOpenLinkAndEditorInTheTerminal(t *testing.T) {
	s, opened := termSession(t)
	s.WaitFor(15*time.Second, "Chloé Dubois")
	openConversation(t, s, "Chloé Dubois")
	text := "the plan: https://polyglot.example/docs?x=1, see you"
	s.Type(text)
	s.Keys("Enter")
	s.WaitFor(10*time.Second, "the plan: https://polyglot.example/docs?x=1")
	pressEscape(s, 1) // history: the newest message is selected
	// Chloé's scripted answer may already be the newest: step up to ours.
	selected := func() bool {
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
			if strings.Contains(s.Screen(), "▌ the plan") {
				return true
			}
		}
		return false
	}
	for i := 0; !selected(); i++ {
		if i == 3 {
			t.Fatalf("our message is never selected:\n%s", s.Screen())
		}
		s.Keys("Up")
	}

	s.Keys("y")
	s.WaitFor(5*time.Second, "copied")
	waitRaw(t, s, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte(text))+"\a")
	if got := s.Tmux("show-buffer"); got != text {
		t.Fatalf("tmux's clipboard buffer holds %q, want %q", got, text)
	}

	s.Keys("O")
	s.WaitFor(5*time.Second, "opened https://polyglot.example/docs?x=1")
	waitFileHolds(t, opened, "https://polyglot.example/docs?x=1")

	// ctrl+e: the draft goes through the "editor" and comes back.
	s.Keys("i")
	s.Type("draft one")
	s.Keys("C-e")
	s.WaitFor(10*time.Second, "draft two", "draft from the editor")
	screen := s.Screen()
	if strings.Count(screen, "draft two") != 1 || strings.Contains(screen, "draft one") {
		t.Fatalf("the edited draft is not just in the composer:\n%s", screen)
	}
}

func waitFileHolds(t *testing.T, path, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		if b, _ := os.ReadFile(path); string(b) == want {
			return
		}
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s holds %q, want %q", path, b, want)
}

// unreadRows are the names of the inbox rows with an unread badge "(n)".
func unreadRows(screen string) []string {
	badge := regexp.MustCompile(`\(\d+\)\s*$`)
	var out []string
	for _, l := range strings.Split(screen, "\n")[1:] {
		entry := strings.TrimPrefix(l, "▌ ")
		if entry == l && (!strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "    ")) {
			continue
		}
		if badge.MatchString(l) {
			out = append(out, strings.Fields(strings.TrimSpace(entry))[0])
		}
	}
	return out
}

// header is the conversation's title line (the first below the tabs).
func header(screen string) string {
	if lines := strings.Split(screen, "\n"); len(lines) > 1 {
		return lines[1]
	}
	return ""
}

// TestUnreadDividerJumpAndMentionInTheTerminal: in the demo, ] from the
// list opens a conversation that has unread messages with a "new messages"
// divider above them, ] inside it goes on to the next one, and the user's
// name in the group chat is drawn in the mention style.
func TestUnreadDividerJumpAndMentionInTheTerminal(t *testing.T) {
	s, _ := termSession(t)
	// Live messages arrive from 2.5 s on at speed 2: wait for two unread
	// conversations.
	var unread []string
	for deadline := time.Now().Add(30 * time.Second); len(unread) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no two unread conversations:\n%s", s.Screen())
		}
		unread = unreadRows(s.Screen())
	}
	// One key per read: a burst of keys is another matter (issue 11).
	s.Keys("g")
	time.Sleep(150 * time.Millisecond)
	s.Keys("]")
	screen, _ := s.WaitFor(10*time.Second, " new messages ")
	first := header(screen)
	if strings.HasPrefix(first, "  ") || strings.HasPrefix(first, "▌") {
		t.Fatalf("] did not open a conversation:\n%s", screen)
	}
	// The divider sits between history and the unread message: the line
	// right below it is a message header of someone else.
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, " new messages ") {
			if i+1 >= len(lines) || !regexp.MustCompile(`^\d\d:\d\d `).MatchString(lines[i+1]) || strings.Contains(lines[i+1], " You ") {
				t.Fatalf("the divider is not above an incoming message:\n%s", screen)
			}
		}
	}
	pressEscape(s, 1)
	s.Keys("]")
	second := ""
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		screen = s.Screen()
		if h := header(screen); h != first && strings.Contains(screen, " new messages ") {
			second = h
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("] inside %q did not open another unread conversation:\n%s", first, screen)
		}
	}
	t.Logf("] opened %q then %q (unread were %v)", strings.TrimSpace(first), strings.TrimSpace(second), unread)

	// The group chat's history names the user (Robin): highlighted.
	pressEscape(s, 2)
	openConversation(t, s, "Weekend hike")
	s.WaitFor(10*time.Second, "Robin, train at 8:12?")
	esc := s.ScreenWithEscapes()
	line := ""
	for _, l := range strings.Split(esc, "\n") {
		if strings.Contains(l, "train at 8:12") {
			line = l
		}
	}
	sgr := regexp.MustCompile(`\x1b\[[0-9;:]*m`)
	at := strings.Index(line, "Robin")
	before := sgr.FindAllString(line[:at], -1)
	if len(before) == 0 || !strings.Contains(before[len(before)-1], "48;") {
		t.Fatalf("Robin is not drawn with the mention background: %q", line)
	}
	if after := line[at+len("Robin"):]; !strings.HasPrefix(after, "\x1b[") {
		t.Fatalf("the highlight does not end after the name: %q", line)
	}
	if strings.Contains(sgr.ReplaceAllString(esc, ""), "\x1b") {
		t.Fatal("a raw escape is on screen")
	}
}

// TestNewConversationInTheTerminal: n asks for an address; a bad one is
// refused in the form with the text kept, a Matrix user ID opens a new
// conversation a message then goes to, and a room alias joins the room.
func TestNewConversationInTheTerminal(t *testing.T) {
	s, _ := termSession(t)
	s.WaitFor(15*time.Second, "Alice Martin")
	s.Keys("n")
	s.WaitFor(5*time.Second, "New conversation")
	s.Type("newfriend")
	s.Keys("Enter")
	s.WaitFor(5*time.Second, "not an address", "newfriend")
	for range len("newfriend") {
		s.Keys("BSpace")
	}
	s.Type("@newfriend:matrix.example")
	s.WaitFor(5*time.Second, "Matrix: message @newfriend:matrix.example via demo-matrix")
	s.Keys("Enter")
	screen, _ := s.WaitFor(10*time.Second, "→ @newfriend:matrix.example via")
	if !strings.HasPrefix(header(screen), "@newfriend:matrix.example") {
		t.Fatalf("the new conversation did not open:\n%s", screen)
	}
	s.Type("hi, new friend")
	s.Keys("Enter")
	s.WaitFor(10*time.Second, "hi, new friend", "sent")

	// A room by alias: joined, opened.
	pressEscape(s, 2)
	s.WaitFor(5*time.Second, "@newfriend:matrix.example")
	s.Keys("n")
	s.Type("#book-club:matrix.example")
	s.WaitFor(5*time.Second, "Matrix: join #book-club:matrix.example")
	s.Keys("Enter")
	screen, _ = s.WaitFor(10*time.Second, "→ book-club via")
	if !strings.HasPrefix(header(screen), "book-club") {
		t.Fatalf("the joined room did not open:\n%s", screen)
	}
}

// TestJoinXMPPRoomInTheTerminal: against a real Prosody, n with a MUC
// address joins the room; a member's message that names the user arrives
// there highlighted, and y copies it.
func TestJoinXMPPRoomInTheTerminal(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	os.WriteFile(pw, []byte("alice-pw"), 0o600)
	if _, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: %d %s", code, stderr)
	}
	room := "club@" + srv.MUCDomain()
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	bob.Do(map[string]any{"op": "join", "room": room, "nick": "Bob"})
	bob.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })

	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.Tmux("set-option", "-g", "set-clipboard", "on")
	s.WaitFor(15*time.Second, "alice@localhost online")
	s.Keys("n")
	s.Type("someone@")
	s.Keys("Enter")
	s.WaitFor(5*time.Second, "name@server")
	for range len("someone@") {
		s.Keys("BSpace")
	}
	s.Type(room)
	s.WaitFor(5*time.Second, "XMPP: join "+room)
	s.Keys("Enter")
	screen, _ := s.WaitFor(20*time.Second, "→ club via")
	if !strings.HasPrefix(header(screen), "club") {
		t.Fatalf("the room did not open:\n%s", screen)
	}

	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "welcome alice, glad you joined"})
	s.WaitFor(20*time.Second, "welcome alice, glad you joined")
	esc := s.ScreenWithEscapes()
	sgr := regexp.MustCompile(`\x1b\[[0-9;:]*m`)
	for _, l := range strings.Split(esc, "\n") {
		if i := strings.Index(l, "alice, glad"); i >= 0 {
			if b := sgr.FindAllString(l[:i], -1); len(b) == 0 || !strings.Contains(b[len(b)-1], "48;") {
				t.Fatalf("alice is not highlighted: %q", l)
			}
		}
	}
	pressEscape(s, 1)
	selectMessage(t, s, "welcome alice")
	s.Keys("y")
	s.WaitFor(5*time.Second, "copied")
	waitRaw(t, s, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte("welcome alice, glad you joined"))+"\a")
}

// selectMessage moves the history selection up until the selected body
// line holds text.
func selectMessage(t *testing.T, s *tmuxtest.Session, text string) {
	t.Helper()
	for i := 0; i < 10; i++ {
		if strings.Contains(selectedLine(s.Screen()), text) {
			return
		}
		s.Keys("k")
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no message %q to select:\n%s", text, s.Screen())
}
