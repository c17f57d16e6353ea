package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"polyglot/protocols"
)

// ErrBadQuery: what the user asked to find is neither an address nor an
// international phone number.
var ErrBadQuery = errors.New("not an address or a phone number")

// ParseContactQuery reads what the user asked to find: "+49 170 1234567"
// (or tel:+…, or a WhatsApp JID) is a phone number; name@domain (or
// mailto:/xmpp:name@domain) an address.
func ParseContactQuery(s string) (protocols.ContactQuery, error) {
	s = strings.TrimSpace(s)
	low := strings.ToLower(s)
	for _, p := range []string{"tel:", "mailto:", "xmpp:", "whatsapp:"} {
		if strings.HasPrefix(low, p) {
			s, low = strings.TrimSpace(s[len(p):]), low[len(p):]
			low = strings.TrimSpace(low)
		}
	}
	if strings.HasSuffix(low, "@s.whatsapp.net") {
		s = "+" + strings.TrimSuffix(low, "@s.whatsapp.net")
	}
	switch {
	case strings.HasPrefix(s, "+"):
		var b strings.Builder
		for _, r := range s[1:] {
			switch {
			case r >= '0' && r <= '9':
				b.WriteRune(r)
			case strings.ContainsRune(" -().", r):
			default:
				return protocols.ContactQuery{}, fmt.Errorf("%q: %w", s, ErrBadQuery)
			}
		}
		if b.Len() < 6 || b.Len() > 15 {
			return protocols.ContactQuery{}, fmt.Errorf("%q is not an international phone number: %w", s, ErrBadQuery)
		}
		return protocols.ContactQuery{Phone: b.String()}, nil
	case strings.HasPrefix(s, "@"):
		return protocols.ContactQuery{}, fmt.Errorf("%q is a Matrix ID, already an address: give an email address, an XMPP address or a +phone number: %w", s, ErrBadQuery)
	case strings.Count(s, "@") == 1 && !strings.HasSuffix(s, "@") && !strings.ContainsAny(s, " \t/"):
		return protocols.ContactQuery{Address: low}, nil
	case s != "" && strings.Trim(s, "0123456789 -().") == "":
		return protocols.ContactQuery{}, fmt.Errorf("%q: write the number in international form, starting with + and the country code: %w", s, ErrBadQuery)
	}
	return protocols.ContactQuery{}, fmt.Errorf("%q: %w", s, ErrBadQuery)
}

// FindOutcome is one account's answer to a contact lookup.
type FindOutcome struct {
	Account string
	Network protocols.Network
	Result  protocols.FindResult
	// Err is why the account could not ask (offline, cannot look that
	// kind of query up, terms to accept, …); Result is then empty.
	Err error
}

// FindContact asks each of the user's accounts, once, whether its network
// knows the person q names; nothing else is looked up and nothing runs in
// the background. What was found is kept: merge suggestions for the
// person view come from it (MergeSuggestionsFor, FoundFor).
func (in *Inbox) FindContact(ctx context.Context, q protocols.ContactQuery, opt protocols.FindOptions) ([]FindOutcome, error) {
	in.mu.Lock()
	accts := map[string]protocols.Network{}
	for a, st := range in.states {
		accts[a] = st.Network
	}
	for a, c := range in.conns {
		accts[a] = c.Network()
	}
	in.mu.Unlock()
	out := make([]FindOutcome, 0, len(accts))
	for a, n := range accts {
		out = append(out, FindOutcome{Account: a, Network: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Network != out[j].Network {
			return netOrder(out[i].Network) < netOrder(out[j].Network)
		}
		return out[i].Account < out[j].Account
	})
	var wg sync.WaitGroup
	for i := range out {
		o := &out[i]
		c, online := in.connector(o.Account)
		f, can := c.(protocols.ContactFinder)
		switch {
		case c == nil || !online:
			o.Err = fmt.Errorf("the account is offline: %w", protocols.ErrNotConnected)
			continue
		case !can:
			o.Err = protocols.ErrCannotLookUp
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.Result, o.Err = f.FindContact(ctx, q, opt)
		}()
	}
	wg.Wait()
	for _, o := range out {
		if o.Err == nil && o.Result.Found {
			if err := in.recordFound(q, o); err != nil {
				return out, err
			}
		}
	}
	in.publish(Change{Kind: ChangePeople})
	return out, nil
}

func (in *Inbox) recordFound(q protocols.ContactQuery, o FindOutcome) error {
	return in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO found(query, network, addr_id, account, by, at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT(query, network, addr_id) DO UPDATE SET account = excluded.account, by = excluded.by, at = excluded.at`,
			q.String(), string(o.Result.Address.Network), o.Result.Address.ID, o.Account, o.Result.By, time.Now().UnixMilli())
		return err
	})
}

// FoundAddress is an address a lookup found for a person that no person
// in the store holds yet; the user may add it to the person (AddFound).
type FoundAddress struct {
	Address protocols.Address
	Reason  string // "found on Matrix by phone number"
}

// foundReason is the suggestion's why, e.g. "found on WhatsApp by phone number".
func foundReason(n protocols.Network, by string) string {
	if by == "" {
		by = "address"
	}
	return "found on " + NetworkName(n) + " by " + by
}

type foundRow struct {
	query, network, addr, account, by string
}

// findings are the lookups that concern person: the queries that name one
// of their identities (their phone number or address), or that found one
// of them, and every address those queries found.
func (in *Inbox) findings(p Person) ([]foundRow, map[string]bool, error) {
	keys := map[string]bool{}
	mine := map[string]bool{}
	for _, id := range p.Identities {
		if id.Consent == ConsentBlocked {
			continue
		}
		mine[string(id.Address.Network)+":"+id.Address.ID] = true
		keys[strings.ToLower(id.Address.ID)] = true
		if ph := phoneDigits(id.Address.ID); ph != "" {
			keys["+"+ph] = true
		}
	}
	rows, err := in.db.Query(`SELECT query, network, addr_id, account, by FROM found ORDER BY at, rowid LIMIT 1000`)
	if err != nil {
		return nil, nil, fmt.Errorf("inbox: found addresses: %w", err)
	}
	defer rows.Close()
	var all []foundRow
	for rows.Next() {
		var r foundRow
		if err := rows.Scan(&r.query, &r.network, &r.addr, &r.account, &r.by); err != nil {
			return nil, nil, err
		}
		all = append(all, r)
		if mine[r.network+":"+r.addr] {
			keys[r.query] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var out []foundRow
	for _, r := range all {
		if keys[r.query] {
			out = append(out, r)
		}
	}
	return out, mine, nil
}

// foundSuggestions adds, through add, the other people a lookup tied to
// person: one holds an address found for a query naming this person, or
// is named by a query that found this person.
func (in *Inbox) foundSuggestions(p Person, add func(PersonID, string)) error {
	rows, mine, err := in.findings(p)
	if err != nil {
		return err
	}
	for _, r := range rows {
		reason := foundReason(protocols.Network(r.network), r.by)
		if !mine[r.network+":"+r.addr] {
			o, err := in.PersonOf(protocols.Address{Network: protocols.Network(r.network), ID: r.addr})
			if err == nil && !in.blockedIdentity(protocols.Network(r.network), r.addr) {
				add(o, reason)
			}
			continue
		}
		// A query that found this person names someone else too: the
		// person whose phone number or address the user asked about.
		var others *sql.Rows
		if strings.HasPrefix(r.query, "+") {
			others, err = in.db.Query(`SELECT DISTINCT person_id FROM identities WHERE phone = ? AND consent <> ? LIMIT 100`, r.query[1:], int(ConsentBlocked))
		} else {
			others, err = in.db.Query(`SELECT DISTINCT person_id FROM identities WHERE lower(addr_id) = ? AND consent <> ? LIMIT 100`, r.query, int(ConsentBlocked))
		}
		if err != nil {
			return fmt.Errorf("inbox: merge suggestions: %w", err)
		}
		for others.Next() {
			var o PersonID
			if err := others.Scan(&o); err != nil {
				others.Close()
				return err
			}
			add(o, reason)
		}
		others.Close()
	}
	return nil
}

func (in *Inbox) blockedIdentity(n protocols.Network, addr string) bool {
	var c int
	err := in.db.QueryRow(`SELECT consent FROM identities WHERE network = ? AND addr_id = ?`, string(n), addr).Scan(&c)
	return err == nil && Consent(c) == ConsentBlocked
}

// FoundFor lists the addresses lookups found for person that nobody in the
// store holds yet, with why.
func (in *Inbox) FoundFor(person PersonID) ([]FoundAddress, error) {
	p, err := in.Person(person)
	if err != nil {
		return nil, err
	}
	rows, mine, err := in.findings(p)
	if err != nil {
		return nil, err
	}
	var out []FoundAddress
	seen := map[string]bool{}
	for _, r := range rows {
		k := r.network + ":" + r.addr
		if mine[k] || seen[k] {
			continue
		}
		seen[k] = true
		a := protocols.Address{Network: protocols.Network(r.network), Account: protocols.AccountID(r.account), ID: r.addr, Server: serverOf(r.addr)}
		if _, err := in.PersonOf(a); err == nil {
			continue // someone's already: a merge suggestion instead
		}
		out = append(out, FoundAddress{Address: a, Reason: foundReason(a.Network, r.by)})
	}
	return out, nil
}

// AddFound adds a found address to person, on the user's explicit yes:
// the address becomes one of the person's identities (a contact, as if
// the user had written to it). Nothing is sent to the network.
func (in *Inbox) AddFound(person PersonID, a protocols.Address) error {
	if _, err := in.Person(person); err != nil {
		return err
	}
	account := string(a.Account)
	if err := in.Ingest(account, protocols.ContactEvent{Contact: a}); err != nil {
		return err
	}
	other, err := in.PersonOf(a)
	if err != nil {
		return err
	}
	if other == person {
		return nil
	}
	return in.Merge(person, other)
}
