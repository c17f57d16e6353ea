package tui

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

// The inbox is what the cmd hands the TUI: it must keep both optional parts.
var (
	_ SecurityCodeCore = (*inbox.Inbox)(nil)
	_ PersonSuggester  = (*inbox.Inbox)(nil)
)

// codeConn is a WhatsApp double that compares security codes the way the
// connector does: the code is fixed by the test, MarkCompared accepts only
// the current one, and a compared contact is E2EE verified. The store,
// router and person view under test are real.
type codeConn struct {
	*routeConn
	mu       sync.Mutex
	digits   string
	compared bool
}

func (c *codeConn) SecurityCode(_ context.Context, peer protocols.Address) (protocols.SecurityCode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return protocols.SecurityCode{Digits: c.digits, Compared: c.compared}, nil
}

func (c *codeConn) MarkCompared(_ context.Context, peer protocols.Address, code string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code != c.digits {
		return protocols.ErrCodeChanged
	}
	c.compared = true
	return nil
}

func (c *codeConn) PeerEncryption(protocols.Address) protocols.Encryption {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.compared {
		return protocols.EncE2EEVerified
	}
	return protocols.EncE2EE
}

var waAlice = protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: "491711111111@s.whatsapp.net", Server: "s.whatsapp.net"}

// waWorld: Alice writes on WhatsApp (push name "Ali"); on XMPP she is the
// contact +491711111111@sms.example, named "A. S.".
func waWorld(t *testing.T) (*inbox.Inbox, *codeConn) {
	t.Helper()
	in, err := inbox.Open(filepath.Join(t.TempDir(), "polyglot.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	wa := &codeConn{routeConn: newRouteConn(protocols.WhatsApp), digits: "300354477692869396892869876765458257569162576843440918079131"}
	in.Attach("wa", wa)
	in.Attach("xm", newRouteConn(protocols.XMPP))
	for _, ev := range []struct {
		acct string
		ev   protocols.Event
	}{
		{"wa", protocols.ConnectionEvent{State: protocols.ConnOnline}},
		{"xm", protocols.ContactEvent{Contact: protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "+491711111111@sms.example"}, Name: "A. S."}},
		{"wa", protocols.ContactEvent{Contact: waAlice}},
		{"wa", protocols.MessageEvent{Message: protocols.Message{NetworkID: "w1", Chat: protocols.Chat{ID: protocols.ChatID(waAlice.ID), Name: "Ali"},
			Sender: waAlice, Body: "hi", Sent: testNow.Add(-1e9), Encryption: protocols.EncE2EE}}},
	} {
		if err := in.Ingest(ev.acct, ev.ev); err != nil {
			t.Fatal(err)
		}
	}
	return in, wa
}

// TestPersonWhatsAppSecurityCode: the person view shows the 60 digits in
// 12 groups; V asks whether they match, n leaves them unverified, y marks
// them compared and the route becomes E2EE verified.
func TestPersonWhatsAppSecurityCode(t *testing.T) {
	in, wa := waWorld(t)
	h := newHarness(t, in, 140, 40)
	h.keys("p")
	h.mustShow("Ali", "491711111111@s.whatsapp.net", "Security code with 491711111111@s.whatsapp.net (WhatsApp)", "not compared yet",
		"30035 44776 92869 39689 28698 76765", "45825 75691 62576 84344 09180 79131", "[V] they match")
	h.keys("V")
	h.mustShow("Do all 60 digits match the code on Ali's phone?", "[y] they match: mark compared")
	h.keys("n")
	h.mustShow("not marked")
	if wa.compared {
		t.Fatal("n marked the code compared")
	}
	p, err := in.PersonOf(waAlice)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := in.FindConversation(waAlice.Key())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := in.PlanRoute(context.Background(), conv, inbox.RouteOptions{})
	if err != nil || plan.Route.Encryption != protocols.EncE2EE {
		t.Fatalf("before: %+v %v", plan.Route, err)
	}

	h.keys("V", "y")
	if !wa.compared {
		t.Fatal("y did not mark the code compared")
	}
	h.mustShow("security code marked compared: E2EE verified", "✓ compared: E2EE verified")
	h.mustNotShow("[V] they match", "not compared yet")
	plan, err = in.PlanRoute(context.Background(), conv, inbox.RouteOptions{})
	if err != nil || plan.Route.Encryption != protocols.EncE2EEVerified || plan.Route.Network != protocols.WhatsApp {
		t.Fatalf("after comparing: %+v %v", plan.Route, err)
	}
	per, _ := in.Person(p)
	if per.Identities[0].Encryption != protocols.EncE2EEVerified || !strings.Contains(h.view(), "E2EE verified") {
		t.Fatalf("identity %+v", per.Identities[0])
	}
}

// TestPersonWhatsAppMergeSuggestion: the WhatsApp person is suggested
// with the XMPP contact that has the same phone number; m asks, n keeps
// them apart, y merges.
func TestPersonWhatsAppMergeSuggestion(t *testing.T) {
	in, _ := waWorld(t)
	xm := protocols.Address{Network: protocols.XMPP, ID: "+491711111111@sms.example"}
	h := newHarness(t, in, 140, 40)
	h.keys("p")
	h.mustShow("Maybe the same person", "A. S. — same phone number +491711111111")
	h.keys("j", "m")
	h.mustShow("Merge A. S. into Ali?", "[y] merge")
	h.keys("n")
	pWA, _ := in.PersonOf(waAlice)
	if pXM, _ := in.PersonOf(xm); pXM == pWA {
		t.Fatal("n merged them")
	}
	h.keys("m", "y")
	if pXM, _ := in.PersonOf(xm); pXM != pWA {
		t.Fatal("y did not merge them")
	}
	h.mustShow("merged", "+491711111111@sms.example", "491711111111@s.whatsapp.net")
	h.mustNotShow("same phone number")
}
