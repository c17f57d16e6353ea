package inbox

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/protocols"
)

func waAddr(id string) protocols.Address {
	return protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: id, Server: id[strings.IndexByte(id, '@')+1:]}
}

// reasonWith is the reason of the suggestion pairing p with other ("" if none).
func reasonWith(t *testing.T, in *Inbox, p, other PersonID) string {
	t.Helper()
	ss, err := in.MergeSuggestionsFor(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if (s.A == p && s.B == other) || (s.B == p && s.A == other) {
			return s.Reason
		}
		if s.A != p && s.B != p {
			t.Fatalf("suggestion %+v does not involve person %d", s, p)
		}
	}
	return ""
}

// TestWhatsAppMergeSuggestions: a WhatsApp identity is suggested with the
// person that has the same phone number in another network's address,
// and with the person whose name equals its push name or address-book
// name; nothing is merged until Merge; a LID's digits are no phone number.
func TestWhatsAppMergeSuggestions(t *testing.T) {
	in, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	t0 := time.Unix(1_700_000_000, 0)
	msg := func(acc string, from protocols.Address, id, name string) {
		t.Helper()
		m := protocols.Message{NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: protocols.ChatID(from.ID), Name: name},
			Sender: from, Body: "hi", Sent: t0, Encryption: protocols.EncE2EE}
		if err := in.Ingest(acc, protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	contact := func(acc string, a protocols.Address, name string) PersonID {
		t.Helper()
		if err := in.Ingest(acc, protocols.ContactEvent{Contact: a, Name: name}); err != nil {
			t.Fatal(err)
		}
		p, err := in.PersonOf(a)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Alice writes on WhatsApp with her push name "Ali".
	waAli := waAddr("491711111111@s.whatsapp.net")
	msg("wa", waAli, "w1", "Ali")
	pWA, err := in.PersonOf(waAli)
	if err != nil {
		t.Fatal(err)
	}
	// On XMPP she is a +number address, named differently.
	xmAli := protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "+49 171 1111111@sms.example", Server: "sms.example"}
	pXM := contact("xm", xmAli, "A. S.")
	// On Matrix, a contact named as her phone's address book names her.
	mxAli := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@alice:matrix.example", Server: "matrix.example"}
	pMX := contact("mx", mxAli, "Alice  Smith")
	// Someone else entirely.
	pOther := contact("mx", protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@zed:matrix.example"}, "Zed")

	if r := reasonWith(t, in, pWA, pXM); r != "same phone number +491711111111" {
		t.Fatalf("WhatsApp ↔ XMPP: reason %q", r)
	}
	if r := reasonWith(t, in, pWA, pMX); r != "" {
		t.Fatalf("no shared name yet, but suggested: %q", r)
	}
	// The phone's address book names her "Alice Smith" (the person keeps
	// the push name): the identity's name matches the Matrix contact.
	if err := in.Ingest("wa", protocols.ContactEvent{Contact: waAli, Name: "alice smith"}); err != nil {
		t.Fatal(err)
	}
	if r := reasonWith(t, in, pWA, pMX); r != "same name “alice smith”" {
		t.Fatalf("WhatsApp ↔ Matrix: reason %q", r)
	}
	// From the other side too.
	if r := reasonWith(t, in, pMX, pWA); !strings.HasPrefix(r, "same name") {
		t.Fatalf("Matrix ↔ WhatsApp: reason %q", r)
	}
	if r := reasonWith(t, in, pWA, pOther); r != "" {
		t.Fatalf("unrelated person suggested: %q", r)
	}

	// A person the user wrote to first carries the address as name; the
	// push name of the answer names them, and then they match.
	waCarol := waAddr("491733333333@s.whatsapp.net")
	if _, err := in.StartConversation("wa", waCarol); err != nil {
		t.Fatal(err)
	}
	pCarolMX := contact("mx", protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@carol:matrix.example"}, "Carol")
	pCarolWA, _ := in.PersonOf(waCarol)
	if r := reasonWith(t, in, pCarolWA, pCarolMX); r != "" {
		t.Fatalf("before her push name: %q", r)
	}
	msg("wa", waCarol, "w3", "Carol")
	if per, _ := in.Person(pCarolWA); per.Name != "Carol" {
		t.Fatalf("person still named %q after her push name", per.Name)
	}
	if r := reasonWith(t, in, pCarolWA, pCarolMX); r != "same name “Carol”" {
		t.Fatalf("Carol: reason %q", r)
	}

	// A LID is digits but no phone number.
	lid := waAddr("491744444444@lid")
	msg("wa", lid, "w4", "")
	pLID, _ := in.PersonOf(lid)
	pXMLID := contact("xm", protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "+491744444444@sms.example"}, "Dora")
	if r := reasonWith(t, in, pLID, pXMLID); r != "" {
		t.Fatalf("a LID matched a phone number: %q", r)
	}

	// A blocked identity suggests nothing.
	pBlocked := contact("xm", protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "+491733333333@sms.example"}, "Spam")
	if r := reasonWith(t, in, pCarolWA, pBlocked); !strings.HasPrefix(r, "same phone number") {
		t.Fatalf("before the block: %q", r)
	}
	conv, err := in.StartConversation("xm", protocols.Address{Network: protocols.XMPP, ID: "+491733333333@sms.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Decide(t.Context(), conv, Block); err != nil {
		t.Fatal(err)
	}
	if r := reasonWith(t, in, pCarolWA, pBlocked); r != "" {
		t.Fatalf("a blocked identity is suggested: %q", r)
	}

	// Suggesting merged nothing; the user's yes does.
	if p, _ := in.PersonOf(xmAli); p != pXM {
		t.Fatal("a suggestion merged by itself")
	}
	if err := in.Merge(pWA, pXM); err != nil {
		t.Fatal(err)
	}
	per, err := in.Person(pWA)
	if err != nil || len(per.Identities) != 2 {
		t.Fatalf("after merging: %+v, %v", per, err)
	}
	if r := reasonWith(t, in, pWA, pMX); !strings.HasPrefix(r, "same name") {
		t.Fatalf("after merging the XMPP identity the Matrix suggestion is gone: %q", r)
	}
}

// codeOnly is a connector that compares security codes and has no SAS.
type codeOnly struct{ protocols.Connector }

func (codeOnly) Network() protocols.Network { return protocols.WhatsApp }
func (codeOnly) SecurityCode(context.Context, protocols.Address) (protocols.SecurityCode, error) {
	return protocols.SecurityCode{}, protocols.ErrUnknownPeer
}
func (codeOnly) MarkCompared(context.Context, protocols.Address, string) error { return nil }

// TestStartVerificationPointsToTheCode: V on a WhatsApp-only contact says
// where their keys are verified instead of "Matrix can".
func TestStartVerificationPointsToTheCode(t *testing.T) {
	in, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.Attach("wa", codeOnly{})
	a := waAddr("491711111111@s.whatsapp.net")
	if err := in.Ingest("wa", protocols.ContactEvent{Contact: a, Name: "Ali"}); err != nil {
		t.Fatal(err)
	}
	p, _ := in.PersonOf(a)
	_, err = in.StartVerification(t.Context(), p)
	if !errors.Is(err, ErrCannotVerify) || !strings.Contains(err.Error(), "security code in their person view") {
		t.Fatalf("StartVerification: %v", err)
	}
	cs, err := in.SecurityCodes(t.Context(), p)
	if err != nil || len(cs) != 1 || cs[0].Unavailable == "" {
		t.Fatalf("codes %+v %v", cs, err)
	}
}
