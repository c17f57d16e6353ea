package protocols

import (
	"context"
	"errors"
	"strings"
)

// ContactQuery is one person the user asked to find: an address (an email
// address or an XMPP address) or a phone number, never both. Lookups are
// made one contact at a time and only when the user asks.
type ContactQuery struct {
	// Address is lower-case, without a "mailto:"/"xmpp:" prefix.
	Address string
	// Phone is the international number's digits, without "+" (E.164).
	Phone string
}

// IsPhone reports whether the query is a phone number.
func (q ContactQuery) IsPhone() bool { return q.Phone != "" }

// String is the query as the user would write it.
func (q ContactQuery) String() string {
	if q.Phone != "" {
		return "+" + q.Phone
	}
	return q.Address
}

// FindOptions is what the user decided for this one lookup.
type FindOptions struct {
	// AcceptTerms: the user accepted the lookup service's terms (a Matrix
	// identity server's policies) for this lookup and later ones.
	AcceptTerms bool
}

// FindResult is one network's answer.
type FindResult struct {
	Found bool
	// Address is the identity found (zero when not found).
	Address Address
	// By says what matched: "phone number", "email address", "address".
	By string
}

// ContactFinder is implemented by connectors that can ask their network
// whether it knows a person, one at a time. What leaves the device is the
// connector's to document (README "Finding contacts").
type ContactFinder interface {
	FindContact(ctx context.Context, q ContactQuery, opt FindOptions) (FindResult, error)
}

// ErrCannotLookUp: this network cannot look up that kind of query (e.g.
// WhatsApp for an email address).
var ErrCannotLookUp = errors.New("this network cannot look that up")

// Policy is one document of a lookup service's terms.
type Policy struct {
	Name    string // e.g. "Privacy Policy"
	Version string
	URL     string
}

// TermsError: the lookup service asks the user to accept its terms before
// anything is looked up; nothing was sent about the person.
type TermsError struct {
	Service  string // e.g. the identity server's URL
	Policies []Policy
}

func (e *TermsError) Error() string {
	var urls []string
	for _, p := range e.Policies {
		urls = append(urls, p.URL)
	}
	return "the identity server " + e.Service + " asks you to accept its terms first: " + strings.Join(urls, " ")
}
