package main

import (
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestScreenShowsASendFromAnotherProcess: with `polyglot serve` running
// and a screen attached with Bob's conversation open, `polyglot send` run
// from another process shows on that screen at once, and reaches Bob.
func TestScreenShowsASendFromAnotherProcess(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	startServe(t, p)
	if o, stderr, code := p.run("", "send", "--to", "bob@localhost", "first from a script"); code != 0 {
		t.Fatalf("send through the core: %d %s%s", code, o, stderr)
	}
	bob.Message(20*time.Second, "first from a script")

	env := append(p.env(), "LANG=C.UTF-8")
	s := tmuxtest.Start(t, 110, 30, env, binPath, "attach")
	s.WaitFor(30*time.Second, "xmpp:alice@localhost online", "first from a script")
	s.Keys("Enter")
	s.WaitFor(10*time.Second, "Write a message")

	for i, text := range []string{"second from a script", "third from a script"} {
		start := time.Now()
		out, stderr, code := p.run("", "send", "--to", "bob@localhost", text)
		sent := time.Since(start)
		if code != 0 || !strings.Contains(out, "sent via XMPP") {
			t.Fatalf("send %d: exit %d: %s%s", i+1, code, out, stderr)
		}
		s.WaitFor(5*time.Second, text)
		t.Logf("send %d: `polyglot send` returned after %s; the screen showed it %s after the send started",
			i+1, sent.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		bob.Message(20*time.Second, text)
	}
	// Still the conversation, not the list: the message arrived in the
	// open view.
	if screen := s.Screen(); !strings.Contains(screen, "Write a message") {
		t.Fatalf("the screen left the conversation:\n%s", screen)
	}
}
