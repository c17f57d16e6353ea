package tui

import (
	"path/filepath"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// TestEmptyInboxShowsContacts: a first login's roster arrives before any
// message (and a server without an archive never sends any): the inbox
// then lists the user's contacts and how to write to one, names inert,
// instead of an empty screen; the first message replaces the list.
func TestEmptyInboxShowsContacts(t *testing.T) {
	in, err := inbox.Open(filepath.Join(t.TempDir(), "polyglot.db"), inbox.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	h := newHarness(t, in, 80, 20)
	h.mustShow("No conversations yet. Message requests wait under Requests (r).")

	xm := newNetConn(protocols.XMPP, protocols.EncTransport)
	in.Attach("xm", xm)
	ingest := func(ev protocols.Event) {
		t.Helper()
		if err := in.Ingest("xm", ev); err != nil {
			t.Fatal(err)
		}
	}
	ingest(protocols.ConnectionEvent{State: protocols.ConnOnline})
	ingest(protocols.ContactEvent{Contact: adaXM, Name: "Ada Lovelace", Subscription: "both"})
	ingest(protocols.ContactEvent{Contact: evil, Name: "Mallory\x1b[31m\u202e\u009b2J", Subscription: "both"})
	// The core says who changed (the harness runs no change watcher).
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangePeople}}})
	h.mustShow("Your contacts — n to write to one", "Ada Lovelace", "ada@jabber.example", "Mallory", "mallory@evil.example")
	assertInert(t, h.view())

	ingest(protocols.MessageEvent{Message: protocols.Message{NetworkID: "x1", Chat: protocols.Chat{ID: protocols.ChatID(adaXM.ID)},
		Sender: adaXM, Body: "first words", Sent: testNow, Received: testNow, Encryption: protocols.EncTransport}})
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeConversations}}})
	h.mustShow("first words")
	h.mustNotShow("Your contacts")
}
