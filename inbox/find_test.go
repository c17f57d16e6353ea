package inbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/demotest"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

func TestContactFindParseQuery(t *testing.T) {
	for in, want := range map[string]protocols.ContactQuery{
		"+49 170 123-4567":            {Phone: "491701234567"},
		"tel:+491701234567":           {Phone: "491701234567"},
		"491701234567@s.whatsapp.net": {Phone: "491701234567"},
		"Bob@Example.org":             {Address: "bob@example.org"},
		"xmpp:bob@example.org":        {Address: "bob@example.org"},
		"mailto:bob@example.org":      {Address: "bob@example.org"},
	} {
		if got, err := inbox.ParseContactQuery(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "bob", "0170 1234567", "@bob:example.org", "+12", "a b@c"} {
		if q, err := inbox.ParseContactQuery(bad); !errors.Is(err, inbox.ErrBadQuery) {
			t.Errorf("%q parsed as %+v", bad, q)
		}
	}
}

// TestContactFindSuggestsMerges: one lookup in the demo world asks each
// network once; what it finds becomes a merge suggestion with its reason
// when the found address is someone already known, and an address to add
// when not — neither is merged until the user says so.
func TestContactFindSuggestsMerges(t *testing.T) {
	ctx := context.Background()
	in, _ := demotest.Inbox(t)
	samWA := protocols.Address{Network: protocols.WhatsApp, ID: "15550100007@s.whatsapp.net"}
	var sam inbox.PersonID
	for deadline := time.Now().Add(60 * time.Second); sam == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Sam's WhatsApp identity never arrived")
		}
		sam, _ = in.PersonOf(samWA)
		time.Sleep(20 * time.Millisecond)
	}

	q, _ := inbox.ParseContactQuery("+1 555 010 0007")
	outs, err := in.FindContact(ctx, q, protocols.FindOptions{})
	if err != nil || len(outs) != 3 {
		t.Fatalf("find: %+v, %v", outs, err)
	}
	var te *protocols.TermsError
	if outs[0].Network != protocols.Matrix || !errors.As(outs[0].Err, &te) {
		t.Fatalf("Matrix before the terms: %+v", outs[0])
	}
	if outs[1].Network != protocols.XMPP || !errors.Is(outs[1].Err, protocols.ErrCannotLookUp) {
		t.Fatalf("XMPP for a phone number: %+v", outs[1])
	}
	if outs[2].Network != protocols.WhatsApp || !outs[2].Result.Found || outs[2].Result.Address.ID != samWA.ID {
		t.Fatalf("WhatsApp: %+v", outs[2])
	}
	if f, _ := in.FoundFor(sam); len(f) != 0 {
		t.Fatalf("found for Sam before Matrix answered: %+v", f)
	}

	outs, err = in.FindContact(ctx, q, protocols.FindOptions{AcceptTerms: true})
	if err != nil || !outs[0].Result.Found || outs[0].Result.Address.ID != "@sam.okafor:matrix.example" {
		t.Fatalf("Matrix after the terms: %+v, %v", outs, err)
	}
	found, err := in.FoundFor(sam)
	if err != nil || len(found) != 1 || found[0].Address.ID != "@sam.okafor:matrix.example" || found[0].Reason != "found on Matrix by phone number" {
		t.Fatalf("found for Sam: %+v, %v", found, err)
	}
	if p, _ := in.Person(sam); len(p.Identities) != 1 {
		t.Fatalf("merged silently: %+v", p.Identities)
	}

	// Once the Matrix account is someone in the store (he wrote, say), the
	// finding is a merge suggestion both ways, with its reason.
	mx := protocols.Address{Network: protocols.Matrix, Account: protocols.AccountID(demo.AccountID(protocols.Matrix)), ID: "@sam.okafor:matrix.example", Server: "matrix.example"}
	if err := in.Ingest(demo.AccountID(protocols.Matrix), protocols.ContactEvent{Contact: mx, Name: "sam.o"}); err != nil {
		t.Fatal(err)
	}
	other, err := in.PersonOf(mx)
	if err != nil || other == sam {
		t.Fatalf("Matrix Sam: %v, %v", other, err)
	}
	for _, who := range []inbox.PersonID{sam, other} {
		sug, err := in.MergeSuggestionsFor(who)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, s := range sug {
			if (s.A == sam && s.B == other || s.A == other && s.B == sam) && strings.Contains(s.Reason, "found on Matrix by phone number") {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("suggestions for %d: %+v", who, sug)
		}
	}
	if f, _ := in.FoundFor(sam); len(f) != 0 {
		t.Fatalf("a known address is still offered to add: %+v", f)
	}

	// Adding a found address is the user's yes.
	if err := in.Merge(sam, other); err != nil {
		t.Fatal(err)
	}
	if p, _ := in.Person(sam); len(p.Identities) != 2 {
		t.Fatalf("after merge: %+v", p.Identities)
	}
}
