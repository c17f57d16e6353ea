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

// TestXMPPInTheTerminal: an account added with the script form against a
// real Prosody, then the TUI in tmux: a stranger's subscription and first
// message wait in Requests, accepting puts them in the inbox, and messages
// go both ways live with the slixmpp peer.
func TestXMPPInTheTerminal(t *testing.T) {
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

	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(15*time.Second, "alice@localhost online")

	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	bob.Send(map[string]any{"op": "subscribe", "to": "alice@localhost"})
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "hi alice, it's bob"})

	s.WaitFor(15*time.Second, "Requests (1)")
	s.Keys("r")
	s.WaitFor(5*time.Second, "bob@localhost", "hi alice, it's bob", "[a] Accept")
	s.Keys("a")
	s.WaitGone(5*time.Second, "[a] Accept")
	pressEscape(s, 1)
	s.WaitFor(10*time.Second, "bob@localhost")

	openConversation(t, s, "bob@localhost")
	s.WaitFor(5*time.Second, "hi alice, it's bob", "TLS")
	s.Type("hello bob, from the terminal")
	s.Keys("Enter")
	bob.Message(15*time.Second, "hello bob, from the terminal")

	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "got it, live"})
	screen, _ := s.WaitFor(20*time.Second, "got it, live")
	if strings.Contains(screen, "\x1b") {
		t.Fatal("raw escape on screen")
	}
}
