package inbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"polyglot/protocols"
)

func mxAddr(local string) protocols.Address {
	return protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@" + local + ":example.org", Server: "example.org"}
}

func names(ms []ContactMatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestFindContacts(t *testing.T) {
	ctx := context.Background()
	w := newIngestWorld(t, Options{}) // Ann (with a conversation), Zoe (roster only)
	ingest := func(ev protocols.Event) {
		t.Helper()
		if err := w.in.Ingest("mx", ev); err != nil {
			t.Fatal(err)
		}
	}
	ingest(protocols.ContactEvent{Contact: mxAddr("erin"), Name: "Erin Mayer"})
	ingest(protocols.ContactEvent{Contact: mxAddr("jo"), Name: "Joann"})
	ingest(protocols.ContactEvent{Contact: mxAddr("elo"), Name: "Élodie"})
	for i := range 30 {
		ingest(protocols.ContactEvent{Contact: mxAddr(fmt.Sprintf("friend%02d", i)), Name: fmt.Sprintf("Friend %02d", i)})
	}
	// A stranger's message request and a blocked contact are not contacts.
	ingest(protocols.MessageEvent{Message: protocols.Message{NetworkID: "$m", Chat: protocols.Chat{ID: "!mal", Peer: mxAddr("mallory")},
		Sender: mxAddr("mallory"), Body: "buy now", Sent: w.t0}})
	ingest(protocols.ContactEvent{Contact: mxAddr("bert"), Name: "Bert Erikson"})
	bert, err := w.in.StartConversation("mx", mxAddr("bert"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.in.Decide(ctx, bert, Block); err != nil {
		t.Fatal(err)
	}
	ingest(protocols.ChatEvent{Chat: protocols.Chat{ID: "!club:example.org", Group: true, Name: "Book club"}})

	find := func(q string, limit int) []ContactMatch {
		t.Helper()
		ms, err := w.in.FindContacts(q, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	// By name, case-insensitively; a roster contact without messages has
	// no conversation yet and says which account knows her.
	ms := find("ERI", 10)
	if len(ms) != 1 || ms[0].Name != "Erin Mayer" || ms[0].Conversation != 0 || ms[0].Person == 0 ||
		ms[0].Address != mxAddr("erin") {
		t.Fatalf("ERI: %+v (Bert is blocked)", ms)
	}
	// The person view lists her address and that she is a contact.
	if p, err := w.in.Person(ms[0].Person); err != nil || len(p.Identities) != 1 || !p.Identities[0].Contact ||
		p.Identities[0].Address.ID != "@erin:example.org" {
		t.Fatalf("Erin's person: %+v (%v)", p, err)
	}
	if ms := find("mayer", 10); len(names(ms)) != 1 || ms[0].Name != "Erin Mayer" {
		t.Fatalf("a later word of the name: %+v", ms)
	}
	if ms := find("éLO", 10); len(ms) != 1 || ms[0].Name != "Élodie" {
		t.Fatalf("non-ASCII case: %+v", ms)
	}
	// By address; a person with a conversation carries it.
	ms = find("zoe:EXAMPLE", 10)
	if len(ms) != 1 || ms[0].Name != "Zoe" {
		t.Fatalf("by address: %+v", ms)
	}
	if ms := find("@ann", 10); len(ms) != 1 || ms[0].Conversation != w.conv {
		t.Fatalf("Ann's conversation: %+v", ms)
	}
	// A name that starts with the query ranks before one that contains it.
	if got := names(find("ann", 10)); len(got) != 2 || got[0] != "Ann" || got[1] != "Joann" {
		t.Fatalf("ann: %q", got)
	}
	// Group chats by title.
	if ms := find("club", 10); len(ms) != 1 || !ms[0].Group || ms[0].Address.ID != "!club:example.org" || ms[0].Conversation == 0 {
		t.Fatalf("group: %+v", ms)
	}
	// The limit; no request, no blocked person; LIKE's wildcards are literal.
	if got := find("friend", 5); len(got) != 5 {
		t.Fatalf("limit 5: %d", len(got))
	}
	for _, q := range []string{"mallory", "bert", "%", "_"} {
		if got := find(q, 10); len(got) != 0 {
			t.Fatalf("%q found %q", q, names(got))
		}
	}
	// An empty query lists everyone (an empty inbox shows them), still
	// without requests or blocked people, and within the limit.
	all := find("", 50)
	if len(all) < 10 || len(find("", 3)) != 3 {
		t.Fatalf("empty query: %q", names(all))
	}
	for _, m := range all {
		if m.Address.ID == mxAddr("mallory").ID || m.Address.ID == mxAddr("bert").ID {
			t.Fatalf("empty query lists %q", m.Name)
		}
	}
}

// FindContacts ranks and limits in SQLite over thousands of contacts.
func TestFindContactsManyContacts(t *testing.T) {
	w := newIngestWorld(t, Options{})
	var evs []protocols.Event
	for i := range 5000 {
		evs = append(evs, protocols.ContactEvent{Contact: mxAddr(fmt.Sprintf("user%04d", i)), Name: fmt.Sprintf("User %04d", i)})
	}
	if err := w.in.IngestBatch("mx", evs); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ms, err := w.in.FindContacts("user 49", 8)
	if err != nil || len(ms) != 8 || ms[0].Name != "User 4900" {
		t.Fatalf("%q %v", names(ms), err)
	}
	t.Logf("5000 contacts: %v", time.Since(start))
}
