package main

import (
	"testing"
	"time"
)

// L in the demo's terminal links Oma Gertrud's WhatsApp chat (E2EE) with
// Dmitri's XMPP chat (TLS only): the weaker-encryption warning needs its
// own y, the link's notice goes into the conversation, the header lists
// the link, and L again unlinks it.
func TestLinkInTheTerminal(t *testing.T) {
	s, _ := demoSession(t, "0.2")
	s.WaitFor(30*time.Second, "Oma Gertrud", "Dmitri Volkov")
	openConversation(t, s, "Oma Gertrud")
	pressEscape(s, 1) // from the composer to the history, where L acts
	s.Keys("L")
	s.WaitFor(10*time.Second, "Link conversations", "filter", "Mallory")
	s.Type("dmitri")
	s.WaitFor(10*time.Second, "dmitri@jabber.example")
	s.WaitGone(10*time.Second, "Mallory")
	s.Keys("Enter")
	s.WaitFor(10*time.Second, "Weaker encryption", "would be relayed onto a leg that is not", "[y] link anyway", "[n] cancel")
	s.Keys("y")
	s.WaitFor(20*time.Second, "⇄ linked with Dmitri Volkov on XMPP · TLS only")
	s.WaitFor(20*time.Second, "[Polyglot bridge]")

	s.Keys("L")
	s.WaitFor(10*time.Second, "Link through WhatsApp", "Unlink ⇄ linked with Dmitri Volkov")
	s.Keys("j")
	s.Keys("Enter")
	s.WaitFor(10*time.Second, "Unlink from Dmitri Volkov on XMPP?", "[y] unlink")
	s.Keys("y")
	s.WaitGone(20*time.Second, "⇄ linked with")
	s.WaitFor(10*time.Second, "unlinked from Dmitri Volkov")
	s.Keys("q")
}
