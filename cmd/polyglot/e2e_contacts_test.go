package main

import (
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestContactWithoutMessagesOpensFromTheNewConversationForm: erin is on
// alice's roster (mutual subscription, made through slixmpp before
// Polyglot ever logs in) but has never written. She is in no inbox row;
// typing n, then "eri", lists her, and enter opens an empty conversation
// ready to write; what alice writes there reaches erin's client, and her
// person view lists her address.
func TestContactWithoutMessagesOpensFromTheNewConversationForm(t *testing.T) {
	srv := testserver.StartProsody(t)
	for _, u := range []string{"alice", "bob", "erin"} {
		srv.Register(u, u+"-pw")
	}
	// alice's other client approves and subscribes back (slixmpp's
	// defaults); erin's approves that in turn.
	alice := srv.StartPeer("alice@localhost", "alice-pw")
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	erin := srv.StartPeer("erin@localhost", "erin-pw")
	defer erin.Close()
	for _, p := range []*testserver.Peer{bob, erin} {
		p.Send(map[string]any{"op": "subscribe", "to": "alice@localhost"})
		from, _, _ := strings.Cut(p.JID, "/") // the bare JID
		alice.Must(15*time.Second, "subscribed from "+from, func(e testserver.PeerEvent) bool {
			return e.Ev == "presence" && e.Type == "subscribed" && strings.HasPrefix(e.From, from)
		})
	}
	if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": "bob was here"}) {
		t.Fatal("bob's message not confirmed")
	}
	alice.Close()

	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")

	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(20*time.Second, "alice@localhost online", "bob was here")
	if screen := s.Screen(); strings.Contains(screen, "erin@localhost") {
		t.Fatalf("erin has no conversation yet, but a row shows her:\n%s", screen)
	}

	s.Keys("n")
	s.WaitFor(5*time.Second, "New conversation")
	s.Type("eri")
	s.WaitFor(20*time.Second, "erin@localhost · no messages yet", "XMPP: start a conversation with erin@localhost")
	s.Keys("Enter")
	// The header (loaded beside the history) names her.
	screen, _ := s.WaitFor(10*time.Second, "Write a message", "erin@localhost")
	if strings.Contains(screen, "New conversation") || strings.Contains(screen, "bob was here") {
		t.Fatalf("not erin's empty conversation:\n%s", screen)
	}
	s.Type("hello erin, found you in my contacts")
	s.Keys("Enter")
	erin.Message(20*time.Second, "hello erin, found you in my contacts")
	s.WaitFor(10*time.Second, "hello erin, found you in my contacts")

	// Her person view lists her address, its server, and that she is a
	// contact.
	pressEscape(s, 1)
	s.Keys("p")
	s.WaitFor(10*time.Second, "Identities", "erin@localhost", "localhost", "· contact")
}

// TestContactsShowBeforeTheFirstConnect: the roster `account add` saw
// while it checked the login is in the store, so the first start lists
// alice's contacts on its first screen — here with the server already
// gone, so nothing but the store can have put them there.
func TestContactsShowBeforeTheFirstConnect(t *testing.T) {
	srv := testserver.StartProsody(t)
	for _, u := range []string{"alice", "erin", "frank"} {
		srv.Register(u, u+"-pw")
	}
	alice := srv.StartPeer("alice@localhost", "alice-pw")
	for _, u := range []string{"erin", "frank"} {
		p := srv.StartPeer(u+"@localhost", u+"-pw")
		p.Send(map[string]any{"op": "subscribe", "to": "alice@localhost"})
		alice.Must(15*time.Second, "subscribed from "+u, func(e testserver.PeerEvent) bool {
			return e.Ev == "presence" && e.Type == "subscribed" && strings.HasPrefix(e.From, u+"@localhost")
		})
		p.Close()
	}
	alice.Close()

	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	srv.Stop()

	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	screen, _ := s.WaitFor(20*time.Second, "No conversations yet", "erin@localhost", "frank@localhost")
	if strings.Contains(screen, "alice@localhost online") {
		t.Fatalf("the server is stopped, yet the account shows online:\n%s", screen)
	}
}
