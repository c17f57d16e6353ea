package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"polyglot/protocols"
)

var _ protocols.ContactFinder = (*conn)(nil)

// lookupOnly are identities the simulated networks know but the user has
// never seen: a lookup can find them (Sam Okafor's number on Matrix).
var lookupOnly = map[string][]ident{
	"sam": {{net: protocols.Matrix, id: "@sam.okafor:" + matrixServer, enc: protocols.EncE2EE}},
}

// demoTerms is the simulated identity server's terms: accepted once, as
// on a real one.
var demoTerms = struct {
	sync.Mutex
	accepted map[*World]bool
}{accepted: map[*World]bool{}}

// FindContact answers from the cast as the real networks would: WhatsApp
// by phone number, XMPP by address, Matrix (a simulated identity server
// with terms to accept first) by email address — key@mail.example — or
// phone number.
func (c *conn) FindContact(ctx context.Context, q protocols.ContactQuery, opt protocols.FindOptions) (protocols.FindResult, error) {
	if err := c.check(ctx); err != nil {
		return protocols.FindResult{}, err
	}
	by := "address"
	switch {
	case q.IsPhone():
		by = "phone number"
		if c.net == protocols.XMPP {
			return protocols.FindResult{}, fmt.Errorf("XMPP finds people by their XMPP address: %w", protocols.ErrCannotLookUp)
		}
	case c.net == protocols.WhatsApp:
		return protocols.FindResult{}, fmt.Errorf("WhatsApp finds people by phone number only: %w", protocols.ErrCannotLookUp)
	case c.net == protocols.Matrix:
		by = "email address"
	}
	if c.net == protocols.Matrix {
		demoTerms.Lock()
		ok := demoTerms.accepted[c.w] || opt.AcceptTerms
		demoTerms.accepted[c.w] = ok
		demoTerms.Unlock()
		if !ok {
			return protocols.FindResult{}, &protocols.TermsError{Service: "https://identity." + matrixServer,
				Policies: []protocols.Policy{{Name: "Privacy Policy", Version: "1.0", URL: "https://identity." + matrixServer + "/privacy"}}}
		}
	}
	for _, p := range cast() {
		if !p.matches(q) {
			continue
		}
		for _, id := range append(append([]ident(nil), p.ids...), lookupOnly[p.key]...) {
			if id.net == c.net {
				a := id.address()
				a.Account = protocols.AccountID(c.account)
				return protocols.FindResult{Found: true, Address: a, By: by}, nil
			}
		}
	}
	return protocols.FindResult{By: by}, nil
}

// matches says whether q names p: their phone number (a WhatsApp
// identity's), an XMPP address of theirs, or their email key@mail.example.
func (p person) matches(q protocols.ContactQuery) bool {
	if q.Address == p.key+"@mail.example" {
		return true
	}
	for _, id := range p.ids {
		switch {
		case q.IsPhone() && id.net == protocols.WhatsApp && strings.TrimSuffix(id.id, "@"+waServer) == q.Phone:
			return true
		case !q.IsPhone() && id.net == protocols.XMPP && strings.EqualFold(id.id, q.Address):
			return true
		}
	}
	return false
}
