package tui

import (
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/demotest"
	"polyglot/protocols"
)

// TestContactFindKeyInPersonView: F in Sam's person view asks first (and
// says what leaves the device), looks up only after y, shows one answer
// per network, asks for the identity server's terms before Matrix looks
// anything up, and offers what it found to add — added only after y.
func TestContactFindKeyInPersonView(t *testing.T) {
	in, _ := demotest.Inbox(t)
	samWA := protocols.Address{Network: protocols.WhatsApp, ID: "15550100007@s.whatsapp.net"}
	var sam inbox.PersonID
	for deadline := time.Now().Add(60 * time.Second); sam == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Sam's WhatsApp identity never arrived")
		}
		sam, _ = in.PersonOf(samWA)
	}
	h := newHarness(t, in, 140, 50)
	h.send(openPersonMsg{ID: sam})
	h.mustShow("Sam Okafor", "15550100007@s.whatsapp.net")

	h.keys("F")
	h.mustShow("Ask your networks whether they know +15550100007?", "only a salted hash", "in the clear", "[y] ask")
	h.keys("n")
	h.mustShow("nothing was looked up")
	h.mustNotShow("Asked your networks")

	h.keys("F", "y")
	h.mustShow("Asked your networks about +15550100007",
		"found 15550100007@s.whatsapp.net (by phone number)",
		"can't ask: XMPP cannot look that up",
		"can't ask: its identity server's terms are not accepted yet",
		"asks you to accept its terms", "https://identity.matrix.example/privacy", "[y] I accept")
	if f, _ := in.FoundFor(sam); len(f) != 0 {
		t.Fatalf("Matrix answered before the terms were accepted: %+v", f)
	}
	h.keys("y")
	h.mustShow("found @sam.okafor:matrix.example (by phone number)", "Found, not in your contacts yet",
		"@sam.okafor:matrix.example — found on Matrix by phone number")
	if p, _ := in.Person(sam); len(p.Identities) != 1 {
		t.Fatalf("merged without a yes: %+v", p.Identities)
	}

	// Rows: the WhatsApp identity, the same-name suggestion, the found address.
	h.keys("j", "j", "m")
	h.mustShow("Add @sam.okafor:matrix.example (Matrix) to Sam Okafor?")
	h.keys("y")
	p, err := in.Person(sam)
	if err != nil || len(p.Identities) != 2 {
		t.Fatalf("after y: %+v, %v", p.Identities, err)
	}
	h.mustShow("added @sam.okafor:matrix.example")
}
