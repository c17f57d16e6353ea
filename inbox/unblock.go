package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Unblock takes back a Block or an Ignore of person p: their blocked and
// ignored identities are undecided again and what the block hid shows
// again — their conversation in the inbox if another of their identities
// is accepted, else in Requests to decide anew, and the groups they invited
// the user to back in Requests. The network is not told (the user may
// accept from Requests). It returns how many identities changed;
// 0 means there was nothing to undo.
func (in *Inbox) Unblock(p PersonID) (int, error) {
	var n int
	err := in.write(func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT id FROM identities WHERE person_id = ? AND consent IN (?, ?)`,
			p, int(ConsentBlocked), int(ConsentIgnored))
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if n = len(ids); n == 0 {
			return nil
		}
		set := "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
		if _, err := tx.Exec(`UPDATE identities SET consent = ? WHERE id IN `+set, append([]any{int(ConsentUnknown)}, ids...)...); err != nil {
			return err
		}
		var accepted bool
		if err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM identities WHERE person_id = ? AND (consent = ? OR contact = 1))`,
			p, int(ConsentAccepted)).Scan(&accepted); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE conversations SET hidden = 0, request = ? WHERE kind = ? AND person_id = ? AND hidden = 1`,
			boolInt(!accepted), Direct, p); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE conversations SET hidden = 0, request = 1 WHERE kind <> ? AND hidden = 1 AND request_from IN `+set,
			append([]any{Direct}, ids...)...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("inbox: unblock: %w", err)
	}
	if n > 0 {
		in.publish(Change{Kind: ChangeRequests}, Change{Kind: ChangeConversations}, Change{Kind: ChangePeople})
	}
	return n, nil
}

// UnblockAddress is Unblock for the person whose identity has address
// addr ("bob@example.org", or "xmpp:bob@example.org" to name the network).
// It returns the person's name.
func (in *Inbox) UnblockAddress(addr string) (string, int, error) {
	network, id := splitNetwork(strings.TrimSpace(addr))
	net := string(network)
	var p PersonID
	var name string
	err := in.db.QueryRow(`SELECT p.id, p.name FROM identities i JOIN people p ON p.id = i.person_id
		WHERE i.addr_id = ? AND (? = '' OR i.network = ?) ORDER BY i.consent IN (?, ?) DESC, i.id LIMIT 1`,
		id, net, net, int(ConsentBlocked), int(ConsentIgnored)).Scan(&p, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("no contact with address %q: %w", addr, ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("inbox: unblock: %w", err)
	}
	if name == "" {
		name = id
	}
	n, err := in.Unblock(p)
	return name, n, err
}

// Blocked lists what the user blocked, newest first, so it can be undone:
// one entry per conversation a block hid, with the blocked address.
func (in *Inbox) Blocked() ([]Request, error) {
	rows, err := in.db.Query(`SELECT c.id, c.request_kind, c.preview, c.last_at,
			(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.kind = 0),
			i.network, i.addr_id, i.account, i.server, i.name, i.encryption, i.consent, c.title, i.person_id
		FROM conversations c JOIN identities i ON i.id = coalesce(c.request_from,
			(SELECT id FROM identities WHERE person_id = c.person_id AND consent = ? ORDER BY id LIMIT 1))
		WHERE c.hidden = 1 AND i.consent = ? ORDER BY c.last_at DESC, c.id DESC LIMIT ?`,
		int(ConsentBlocked), int(ConsentBlocked), MaxRequests)
	if err != nil {
		return nil, fmt.Errorf("inbox: blocked: %w", err)
	}
	return scanRequests(rows)
}
