package tui

import (
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

func personAda() inbox.Person {
	return inbox.Person{ID: 1, Name: "Ada Lovelace", Identities: []inbox.Identity{
		{ID: 1, Person: 1, Address: protocols.Address{Network: protocols.Matrix, ID: "@ada:example.org", Server: "example.org"},
			Encryption: protocols.EncE2EEVerified, Presence: protocols.PresenceOnline, Consent: inbox.ConsentAccepted},
		{ID: 2, Person: 1, Address: protocols.Address{Network: protocols.XMPP, ID: "ada@jabber.example", Server: "jabber.example"},
			Encryption: protocols.EncTransport, Presence: protocols.PresenceAway, Consent: inbox.ConsentAccepted, Contact: true},
	}}
}

func openPerson(t *testing.T) (*fakeCore, *harness) {
	f := world(3)
	f.people[1] = personAda()
	f.people[7] = inbox.Person{ID: 7, Name: "A. Lovelace"}
	f.sugg = []inbox.MergeSuggestion{{A: 1, B: 7, Reason: "same name"}, {A: 2, B: 3, Reason: "unrelated"}}
	h := newHarness(t, f, 100, 30)
	h.keys("p")
	return f, h
}

func TestPersonShowsIdentitiesAndRules(t *testing.T) {
	_, h := openPerson(t)
	h.mustShow("Ada Lovelace", "@ada:example.org", "example.org", "E2EE verified", "online",
		"ada@jabber.example", "jabber.example", "TLS only", "away · contact",
		"Preferred network: none", "ask me every time", "A. Lovelace — same name")
	h.mustNotShow("unrelated")
}

func TestPersonPreferAndDowngradeToggle(t *testing.T) {
	f, h := openPerson(t)
	h.keys("j", "n")
	if f.preferred[1] != protocols.XMPP {
		t.Fatalf("n on the XMPP identity set preferred %q", f.preferred[1])
	}
	h.mustShow("Preferred network: XMPP", "★ preferred")
	h.keys("d")
	if !f.allow[1] {
		t.Fatal("d must allow downgrades for this person")
	}
	h.mustShow("ALLOWED without asking")
	h.keys("d")
	if f.allow[1] {
		t.Fatal("second d must take the rule back")
	}
	h.keys("N")
	h.mustShow("Preferred network: none")
}

func TestPersonMergeNeedsExplicitYes(t *testing.T) {
	f, h := openPerson(t)
	h.keys("j", "j", "m")
	h.mustShow("Merge A. Lovelace into Ada Lovelace?", "[y] merge", "[n] cancel")
	h.keys("n")
	if len(f.merged) != 0 {
		t.Fatal("n must not merge")
	}
	h.mustNotShow("[y] merge")
	h.keys("m", "y")
	if len(f.merged) != 1 || f.merged[0] != [2]inbox.PersonID{1, 7} {
		t.Fatalf("y merged %v, want keep 1 into 7", f.merged)
	}
}

// u on a person the user blocked (or ignored) takes it back; on anyone
// else it says there is nothing to undo.
func TestPersonUnblock(t *testing.T) {
	f, h := openPerson(t)
	h.keys("u")
	h.mustShow("not blocked or ignored")
	if len(f.unblocked) != 0 {
		t.Fatal("u unblocked a person nobody blocked")
	}
	ada := personAda()
	ada.Identities[1].Consent = inbox.ConsentBlocked
	f.mu.Lock()
	f.people[1] = ada
	f.mu.Unlock()
	h.run(h.m.person.refresh())
	h.mustShow("Blocked", "[u] undo: their conversation comes back")
	h.keys("u")
	if len(f.unblocked) != 1 || f.unblocked[0] != 1 {
		t.Fatalf("unblocked %v, want Ada (1)", f.unblocked)
	}
}
