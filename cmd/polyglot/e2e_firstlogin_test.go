package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestFirstLoginShowsExistingHistory starts where a user with an existing
// XMPP account starts: contacts on the roster and conversations archived on
// the server before Polyglot ever logged in (made through slixmpp). The
// first run shows those conversations with their newest messages without
// a key press; an opened conversation shows its newest message, and
// scrolling up brings older ones from the server, each once.
func TestFirstLoginShowsExistingHistory(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	friends := []string{"bob", "carol", "dave"}
	for _, f := range friends {
		srv.Register(f, f+"-pw")
	}
	// Before Polyglot: alice's other client and her friends, mutual
	// subscriptions (slixmpp approves and subscribes back), then 30
	// messages from each, interleaved, and alice's answers.
	alice := srv.StartPeer("alice@localhost", "alice-pw")
	peers := map[string]*testserver.Peer{}
	for _, f := range friends {
		p := srv.StartPeer(f+"@localhost", f+"-pw")
		peers[f] = p
		p.Send(map[string]any{"op": "subscribe", "to": "alice@localhost"})
	}
	const each = 30
	for i := 1; i <= each; i++ {
		for _, f := range friends {
			if !peers[f].SendConfirmed(map[string]any{"to": "alice@localhost", "body": fmt.Sprintf("%s %03d", f, i)}) {
				t.Fatalf("%s %d not confirmed", f, i)
			}
		}
	}
	if !alice.SendConfirmed(map[string]any{"to": "bob@localhost", "body": "alice answers bob"}) {
		t.Fatal("alice's answer not confirmed")
	}
	alice.Close()

	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	// A shallow first-login depth, so scrolling has to reach the server.
	cfg := filepath.Join(p.config, "polyglot", "config.toml")
	b, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(b, "history_messages = 40\n"...), 0o600); err != nil {
		t.Fatal(err)
	}

	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	// No key pressed: every conversation is there with its newest message.
	s.WaitFor(20*time.Second, "bob@localhost", "carol@localhost", "dave@localhost", "dave 030")
	if screen := s.Screen(); strings.Contains(screen, "Requests (") {
		t.Fatalf("roster contacts' history landed in Requests:\n%s", screen)
	}
	// The status bar's history note goes once the background fill ended.
	s.WaitGone(30*time.Second, "messages (up to")

	openConversation(t, s, "carol@localhost")
	s.WaitFor(10*time.Second, "carol 030")
	// Scroll to the start: older pages come from the server, in order and
	// once each.
	seen := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		screen := s.Screen()
		counts := map[string]int{}
		for _, l := range strings.Split(screen, "\n") {
			if i := strings.Index(l, "carol 0"); i >= 0 {
				body := strings.TrimSpace(l[i:])
				counts[body]++
				seen[body]++
			}
		}
		for body, n := range counts {
			if n > 1 {
				t.Fatalf("%q shown %d times on one screen:\n%s", body, n, screen)
			}
		}
		if counts["carol 001"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrolling up never reached carol's first message:\n%s", screen)
		}
		s.Keys("PPage")
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i <= each; i++ {
		if body := fmt.Sprintf("carol %03d", i); seen[body] == 0 {
			t.Errorf("scrolling from carol 030 to carol 001 skipped %q", body)
		}
	}
}
