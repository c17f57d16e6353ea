package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"polyglot/protocols"
)

// MergeSuggestions proposes pairs of people that may be one human: equal
// normalized names, or the same phone number (a WhatsApp JID's number and a
// +number elsewhere). Nothing is merged until the user confirms with Merge.
func (in *Inbox) MergeSuggestions() ([]MergeSuggestion, error) {
	rows, err := in.db.Query(`
		SELECT a.id, b.id, 'same name' FROM people a JOIN people b ON b.norm_name = a.norm_name AND a.id < b.id
		WHERE a.norm_name <> ''
		UNION
		SELECT ia.person_id, ib.person_id, 'same phone number' FROM identities ia
		JOIN identities ib ON ib.phone = ia.phone AND ia.person_id < ib.person_id
		WHERE ia.phone <> '' AND ia.consent <> 2 AND ib.consent <> 2
		LIMIT 100`)
	if err != nil {
		return nil, fmt.Errorf("inbox: merge suggestions: %w", err)
	}
	defer rows.Close()
	seen := map[[2]PersonID]int{}
	var out []MergeSuggestion
	for rows.Next() {
		var s MergeSuggestion
		if err := rows.Scan(&s.A, &s.B, &s.Reason); err != nil {
			return nil, err
		}
		k := [2]PersonID{s.A, s.B}
		if i, ok := seen[k]; ok {
			out[i].Reason += ", " + s.Reason
			continue
		}
		seen[k] = len(out)
		out = append(out, s)
	}
	return out, rows.Err()
}

// MergeSuggestionsFor proposes the people that may be the same human as
// person, with why: the same phone number on any two identities (a
// WhatsApp number, a +number in an XMPP or Matrix address), or the same
// name, where a name is the person's or any identity's (a WhatsApp push
// name, an address-book or roster name), or a contact lookup that tied
// them (find.go). Blocked identities suggest nothing. Nothing is merged until the user confirms with Merge.
func (in *Inbox) MergeSuggestionsFor(person PersonID) ([]MergeSuggestion, error) {
	p, err := in.Person(person)
	if err != nil {
		return nil, err
	}
	type match struct {
		other   PersonID
		reasons []string
	}
	var order []PersonID
	found := map[PersonID]*match{}
	add := func(o PersonID, reason string) {
		if o == person {
			return
		}
		m, ok := found[o]
		if !ok {
			m = &match{other: o}
			found[o] = m
			order = append(order, o)
		}
		for _, r := range m.reasons {
			if r == reason {
				return
			}
		}
		m.reasons = append(m.reasons, reason)
	}

	rows, err := in.db.Query(`SELECT DISTINCT ib.person_id, ia.phone FROM identities ia
		JOIN identities ib ON ib.phone = ia.phone AND ib.person_id <> ia.person_id
		WHERE ia.person_id = ? AND ia.phone <> '' AND ia.consent <> ? AND ib.consent <> ?
		ORDER BY ib.person_id LIMIT 100`, person, int(ConsentBlocked), int(ConsentBlocked))
	if err != nil {
		return nil, fmt.Errorf("inbox: merge suggestions: %w", err)
	}
	for rows.Next() {
		var o PersonID
		var phone string
		if err := rows.Scan(&o, &phone); err != nil {
			rows.Close()
			return nil, err
		}
		add(o, "same phone number +"+phone)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// What the user's own lookups found (contact find): reasons such as
	// "found on WhatsApp by phone number".
	if err := in.foundSuggestions(p, add); err != nil {
		return nil, err
	}

	// The names this person goes by, normalized → as first seen.
	names := map[string]string{}
	addName := func(n string) {
		if k := normName(n); k != "" {
			if _, ok := names[k]; !ok {
				names[k] = n
			}
		}
	}
	addName(p.Name)
	for _, id := range p.Identities {
		if id.Consent != ConsentBlocked {
			addName(id.Name)
		}
	}
	// An address used as a name matches nobody else: leave it out.
	for _, id := range p.Identities {
		delete(names, normName(id.Address.ID))
	}
	if len(names) > 0 {
		keys := make([]any, 0, len(names)+1)
		keys = append(keys, person)
		marks := make([]string, 0, len(names))
		for k := range names {
			keys = append(keys, k)
			marks = append(marks, "?")
		}
		rows, err := in.db.Query(`SELECT id, norm_name FROM people WHERE id <> ? AND norm_name IN (`+strings.Join(marks, ",")+`) ORDER BY id LIMIT 100`, keys...)
		if err != nil {
			return nil, fmt.Errorf("inbox: merge suggestions: %w", err)
		}
		for rows.Next() {
			var o PersonID
			var k string
			if err := rows.Scan(&o, &k); err != nil {
				rows.Close()
				return nil, err
			}
			add(o, "same name “"+names[k]+"”")
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		// Identity names are not normalized in the store: compare here.
		rows, err = in.db.Query(`SELECT person_id, name FROM identities WHERE person_id <> ? AND name <> '' AND consent <> ? ORDER BY person_id`,
			person, int(ConsentBlocked))
		if err != nil {
			return nil, fmt.Errorf("inbox: merge suggestions: %w", err)
		}
		for rows.Next() {
			var o PersonID
			var n string
			if err := rows.Scan(&o, &n); err != nil {
				rows.Close()
				return nil, err
			}
			if shown, ok := names[normName(n)]; ok {
				add(o, "same name “"+shown+"”")
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}

	out := make([]MergeSuggestion, 0, len(order))
	for _, o := range order {
		a, b := person, o
		if b < a {
			a, b = b, a
		}
		out = append(out, MergeSuggestion{A: a, B: b, Reason: strings.Join(found[o].reasons, ", ")})
	}
	return out, nil
}

// Merge folds person other into keep, on the user's explicit confirmation:
// other's identities move to keep, the two direct conversations become one
// (messages and chats move), and other disappears. keep's downgrade rule
// stays as it was: a merge never loosens encryption silently.
func (in *Inbox) Merge(keep, other PersonID) error {
	if keep == other {
		return fmt.Errorf("inbox: merge: person %d with itself", keep)
	}
	var keepConv ConversationID
	err := in.write(func(tx *sql.Tx) error {
		for _, p := range []PersonID{keep, other} {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM people WHERE id = ?`, p).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("person %d: %w", p, ErrNotFound)
			}
		}
		if _, err := tx.Exec(`UPDATE identities SET person_id = ? WHERE person_id = ?`, keep, other); err != nil {
			return err
		}
		conv := func(p PersonID) (ConversationID, error) {
			var id ConversationID
			err := tx.QueryRow(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, p).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return 0, nil
			}
			return id, err
		}
		kc, err := conv(keep)
		if err != nil {
			return err
		}
		oc, err := conv(other)
		if err != nil {
			return err
		}
		switch {
		case oc != 0 && kc == 0:
			if _, err := tx.Exec(`UPDATE conversations SET person_id = ? WHERE id = ?`, keep, oc); err != nil {
				return err
			}
			kc = oc
		case oc != 0:
			for _, q := range []string{
				`UPDATE messages SET conversation_id = ? WHERE conversation_id = ?`,
				`UPDATE chats SET conversation_id = ? WHERE conversation_id = ?`,
			} {
				if _, err := tx.Exec(q, kc, oc); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(`UPDATE conversations SET
				unread = unread + (SELECT unread FROM conversations WHERE id = ?),
				last_at = max(last_at, (SELECT last_at FROM conversations WHERE id = ?)),
				preview = CASE WHEN (SELECT last_at FROM conversations WHERE id = ?) > last_at
					THEN (SELECT preview FROM conversations WHERE id = ?) ELSE preview END,
				hidden = hidden AND (SELECT hidden FROM conversations WHERE id = ?)
				WHERE id = ?`, oc, oc, oc, oc, oc, kc); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM conversations WHERE id = ?`, oc); err != nil {
				return err
			}
		}
		keepConv = kc
		if kc != 0 {
			// One accepted identity makes the merged conversation a normal one.
			if _, err := tx.Exec(`UPDATE conversations SET request = 0 WHERE id = ? AND EXISTS
				(SELECT 1 FROM identities WHERE person_id = ? AND consent = 1)`, kc, keep); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`UPDATE people SET
			preferred = CASE WHEN preferred = '' THEN (SELECT preferred FROM people WHERE id = ?) ELSE preferred END,
			last_network = CASE WHEN last_network = '' THEN (SELECT last_network FROM people WHERE id = ?) ELSE last_network END
			WHERE id = ?`, other, other, keep); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM people WHERE id = ?`, other)
		return err
	})
	if err != nil {
		return fmt.Errorf("inbox: merge: %w", err)
	}
	in.publish(Change{Kind: ChangePeople}, Change{Kind: ChangeConversations}, Change{Kind: ChangeRequests},
		Change{Kind: ChangeMessages, Conversation: keepConv})
	return nil
}

// SetPreferred sets the person's preferred network ("" clears it). It only
// breaks ties within the same encryption class.
func (in *Inbox) SetPreferred(p PersonID, n protocols.Network) error {
	if n != "" {
		if _, err := protocols.ParseNetwork(string(n)); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
	}
	return in.setPerson(p, `UPDATE people SET preferred = ? WHERE id = ?`, string(n))
}

// SetAllowDowngrade sets the visible per-person rule that lets the router
// fall back to a weaker encryption class without asking.
func (in *Inbox) SetAllowDowngrade(p PersonID, allow bool) error {
	return in.setPerson(p, `UPDATE people SET allow_downgrade = ? WHERE id = ?`, boolInt(allow))
}

func (in *Inbox) setPerson(p PersonID, q string, v any) error {
	var n int64
	err := in.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(q, v, p)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("inbox: person %d: %w", p, ErrNotFound)
	}
	in.publish(Change{Kind: ChangePeople})
	return nil
}

// PersonOf is the person an address belongs to.
func (in *Inbox) PersonOf(a protocols.Address) (PersonID, error) {
	var p PersonID
	err := in.db.QueryRow(`SELECT person_id FROM identities WHERE network = ? AND addr_id = ?`, string(a.Network), a.ID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("inbox: no identity %s: %w", a.Key(), ErrNotFound)
	}
	return p, err
}

// StartConversation opens the direct conversation with addr, making it a
// contact first: the user writing to someone is their consent. It is what
// `polyglot send --to` uses for an address not seen before.
func (in *Inbox) StartConversation(account string, addr protocols.Address) (ConversationID, error) {
	addr.Account = protocols.AccountID(account)
	if err := in.Ingest(account, protocols.ContactEvent{Contact: addr}); err != nil {
		return 0, err
	}
	p, err := in.PersonOf(addr)
	if err != nil {
		return 0, err
	}
	var conv ConversationID
	err = in.write(func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, p).Scan(&conv)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.Exec(`INSERT INTO conversations(kind, person_id, title, last_at)
			SELECT 1, id, name, 0 FROM people WHERE id = ?`, p)
		if err != nil {
			return err
		}
		n, err := res.LastInsertId()
		conv = ConversationID(n)
		return err
	})
	if err == nil {
		in.publish(Change{Kind: ChangeConversations})
	}
	return conv, err
}
