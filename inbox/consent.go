package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"polyglot/protocols"
)

// MaxRequests caps the Requests list (requests are few; a flood is capped).
const MaxRequests = 200

// Requests lists pending message requests, newest first: conversations from
// addresses the user never accepted, including ignored ones (marked by
// Consent == ConsentIgnored). Blocked ones are gone.
func (in *Inbox) Requests() ([]Request, error) {
	rows, err := in.db.Query(`SELECT c.id, c.request_kind, c.preview, c.last_at,
			(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.kind = 0),
			coalesce(i.network, ''), coalesce(i.addr_id, ''), coalesce(i.account, ''), coalesce(i.server, ''),
			coalesce(i.name, ''), coalesce(i.encryption, 0), coalesce(i.consent, 0), c.title, coalesce(i.person_id, 0)
		FROM conversations c INDEXED BY conversations_requests LEFT JOIN identities i ON i.id = c.request_from
		WHERE c.request = 1 AND c.hidden = 0 ORDER BY c.last_at DESC, c.id DESC LIMIT ?`, MaxRequests)
	if err != nil {
		return nil, fmt.Errorf("inbox: requests: %w", err)
	}
	out, err := scanRequests(rows)
	if err != nil {
		return nil, err
	}
	for i := range out {
		// The connector's live view of the peer's keys beats the stored one.
		if c, ok := in.connector(string(out[i].From.Account)); c != nil && ok {
			out[i].Encryption = c.PeerEncryption(out[i].From)
		}
		out[i].Verified = out[i].Encryption == protocols.EncE2EEVerified
	}
	return out, nil
}

// Decide records the user's answer to a request. Accept moves the
// conversation into the inbox and tells the network yes where it must be
// answered; Block hides it, drops everything the addresses send from now on
// and tells the network no; Ignore keeps it silent in Requests and answers
// nothing. The decision is stored and never asked again (Unblock takes a
// Block or an Ignore back).
func (in *Inbox) Decide(ctx context.Context, id ConversationID, d Decision) error {
	var consent Consent
	switch d {
	case Accept:
		consent = ConsentAccepted
	case Block:
		consent = ConsentBlocked
	case Ignore:
		consent = ConsentIgnored
	default:
		return fmt.Errorf("inbox: unknown decision %d", d)
	}
	type answer struct {
		from protocols.Address
		chat string
	}
	var answers []answer
	err := in.write(func(tx *sql.Tx) error {
		var kind ConversationKind
		var person sql.NullInt64
		var from sql.NullInt64
		err := tx.QueryRow(`SELECT kind, person_id, request_from FROM conversations WHERE id = ?`, id).Scan(&kind, &person, &from)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("conversation %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		// Which identities the decision covers: all undecided ones of the
		// person (a block covers every one), or a group's inviter.
		var q string
		var arg int64
		switch {
		case kind == Direct && d == Block:
			q, arg = `SELECT id, network, addr_id, account, server FROM identities WHERE person_id = ?`, person.Int64
		case kind == Direct:
			q, arg = `SELECT id, network, addr_id, account, server FROM identities WHERE person_id = ? AND consent IN (0, 3)`, person.Int64
		default:
			q, arg = `SELECT id, network, addr_id, account, server FROM identities WHERE id = ?`, from.Int64
		}
		rows, err := tx.Query(q, arg)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var iid int64
			var a protocols.Address
			if err := rows.Scan(&iid, &a.Network, &a.ID, &a.Account, &a.Server); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, iid)
			answers = append(answers, answer{from: a})
		}
		rows.Close()
		for _, iid := range ids {
			if _, err := tx.Exec(`UPDATE identities SET consent = ? WHERE id = ?`, int(consent), iid); err != nil {
				return err
			}
		}
		for i := range answers {
			_ = tx.QueryRow(`SELECT chat_id FROM chats WHERE conversation_id = ? AND account = ? LIMIT 1`, id, answers[i].from.Account).Scan(&answers[i].chat)
		}
		switch d {
		case Accept:
			_, err = tx.Exec(`UPDATE conversations SET request = 0, unread = unread WHERE id = ?`, id)
		case Block:
			_, err = tx.Exec(`UPDATE conversations SET request = 0, hidden = 1, unread = 0 WHERE id = ?`, id)
		case Ignore:
			_, err = tx.Exec(`UPDATE conversations SET unread = 0 WHERE id = ?`, id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("inbox: decide: %w", err)
	}
	in.publish(Change{Kind: ChangeRequests}, Change{Kind: ChangeConversations}, Change{Kind: ChangePeople})
	if d == Ignore {
		return nil // ignored requests are never answered
	}
	var errs []error
	for _, a := range answers {
		c := in.connFor(a.from)
		rr, ok := c.(protocols.RequestResponder)
		if !ok {
			continue
		}
		if err := rr.AnswerRequest(ctx, a.from, protocols.ChatID(a.chat), d == Accept); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The decision is stored; the network answer can be repeated.
		return fmt.Errorf("inbox: decision saved, but telling the network failed: %w", errors.Join(errs...))
	}
	return nil
}

// connFor is the connector an address is reached through: its account, or
// any attached account of its network.
func (in *Inbox) connFor(a protocols.Address) protocols.Connector {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.conns[string(a.Account)]; ok {
		return c
	}
	for _, c := range in.conns {
		if c.Network() == a.Network {
			return c
		}
	}
	return nil
}

// outTarget is where a read marker or typing notice would go.
type outTarget struct {
	account, chat, networkID string
}

// consentedTarget finds where to send a read marker/typing notice for a
// conversation, or ok=false when the user has not accepted the peer (then
// NOTHING may go back).
func (in *Inbox) consentedTarget(id ConversationID, needMsg bool) (t outTarget, conv Conversation, ok bool, err error) {
	conv, err = in.Conversation(id)
	if err != nil {
		return t, conv, false, err
	}
	if conv.Request {
		return t, conv, false, nil
	}
	var hidden int
	if err := in.db.QueryRow(`SELECT hidden FROM conversations WHERE id = ?`, id).Scan(&hidden); err != nil || hidden == 1 {
		return t, conv, false, err
	}
	// The newest incoming message tells which account and chat the peer
	// is active on.
	q := `SELECT m.account, m.chat_id, coalesce(m.network_id, '') FROM messages m INDEXED BY messages_page
		WHERE m.conversation_id = ? AND m.outgoing = 0 AND m.kind = 0 AND m.network_id IS NOT NULL`
	if conv.Kind == Direct {
		// Only identities the user accepted.
		q += ` AND EXISTS (SELECT 1 FROM identities i WHERE i.network = m.network AND i.addr_id = m.sender AND i.consent = 1)`
	}
	q += ` ORDER BY m.at DESC, m.id DESC LIMIT 1`
	err = in.db.QueryRow(q, id).Scan(&t.account, &t.chat, &t.networkID)
	if errors.Is(err, sql.ErrNoRows) {
		if needMsg {
			return t, conv, false, nil
		}
		// Typing before any message: use the best route's chat.
		rs, rc, err := in.routes(id)
		if err != nil || len(rs) == 0 {
			return t, conv, false, err
		}
		t.account, t.chat = rs[0].Account, rc.chats[rs[0].Account]
		if t.chat == "" {
			t.chat = rs[0].To.ID
		}
		return t, conv, conv.Kind == Group || in.identityAccepted(rs[0].To), nil
	}
	if err != nil {
		return t, conv, false, err
	}
	if t.chat == "" {
		return t, conv, false, nil
	}
	return t, conv, true, nil
}

// Accepted reports whether the user accepted a (connectors ask before
// sending anything back, such as a delivery receipt).
func (in *Inbox) Accepted(a protocols.Address) bool { return in.identityAccepted(a) }

func (in *Inbox) identityAccepted(a protocols.Address) bool {
	var c int
	err := in.db.QueryRow(`SELECT consent FROM identities WHERE network = ? AND addr_id = ?`, string(a.Network), a.ID).Scan(&c)
	return err == nil && Consent(c) == ConsentAccepted
}

// MarkRead clears the unread count and, only if the user accepted the peer,
// sends a read marker for the newest incoming message.
func (in *Inbox) MarkRead(ctx context.Context, id ConversationID) error {
	if err := in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE conversations SET unread = 0 WHERE id = ?`, id)
		return err
	}); err != nil {
		return fmt.Errorf("inbox: mark read: %w", err)
	}
	in.publish(Change{Kind: ChangeConversations, Conversation: id})
	t, _, ok, err := in.consentedTarget(id, true)
	if err != nil || !ok {
		return err
	}
	c, online := in.connector(t.account)
	if c == nil || !online || !c.Capabilities().ReadMarkers {
		return nil
	}
	if err := c.MarkRead(ctx, protocols.ChatID(t.chat), protocols.MessageID(t.networkID)); err != nil && !errors.Is(err, protocols.ErrUnsupported) {
		return fmt.Errorf("inbox: read marker: %w", err)
	}
	return nil
}

// SetTyping tells the peer the user is (not) typing — only if the user
// accepted the peer.
func (in *Inbox) SetTyping(ctx context.Context, id ConversationID, typing bool) error {
	t, _, ok, err := in.consentedTarget(id, false)
	if err != nil || !ok {
		return err
	}
	c, online := in.connector(t.account)
	if c == nil || !online || !c.Capabilities().Typing {
		return nil
	}
	if err := c.SetTyping(ctx, protocols.ChatID(t.chat), typing); err != nil && !errors.Is(err, protocols.ErrUnsupported) {
		return fmt.Errorf("inbox: typing: %w", err)
	}
	return nil
}

// SetReachability sets who may start conversations on account; it is
// stored and applies to everything ingested from now on.
func (in *Inbox) SetReachability(account string, r Reachability) error {
	if r < Everyone || r > OwnServerOnly {
		return fmt.Errorf("inbox: unknown reachability %d", r)
	}
	return in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO account_settings(account, reachability) VALUES (?, ?)
			ON CONFLICT(account) DO UPDATE SET reachability = excluded.reachability`, account, int(r))
		return err
	})
}

// Reachability reads the setting of account (Everyone when never set).
func (in *Inbox) Reachability(account string) (Reachability, error) {
	var r int
	err := in.db.QueryRow(`SELECT reachability FROM account_settings WHERE account = ?`, account).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return Everyone, nil
	}
	return Reachability(r), err
}

// SetAccountServer records the server that OwnServerOnly compares senders
// against. Without it the server is derived from the account ID
// (user@server, @user:server); an account ID without one admits no
// strangers under OwnServerOnly.
func (in *Inbox) SetAccountServer(account, server string) error {
	return in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO account_settings(account, server) VALUES (?, lower(?))
			ON CONFLICT(account) DO UPDATE SET server = excluded.server`, account, server)
		return err
	})
}

// scanRequests reads rows of Requests' and Blocked's columns and closes them.
func scanRequests(rows *sql.Rows) ([]Request, error) {
	defer rows.Close()
	var out []Request
	for rows.Next() {
		var r Request
		var at int64
		var title string
		if err := rows.Scan(&r.Conversation, &r.Kind, &r.Preview, &at, &r.Count, &r.From.Network, &r.From.ID,
			&r.From.Account, &r.From.Server, &r.Name, &r.Encryption, &r.Consent, &title, &r.Person); err != nil {
			return nil, err
		}
		r.At = fromNanos(at)
		if r.Name == "" {
			r.Name = title
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
