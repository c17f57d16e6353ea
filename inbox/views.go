package inbox

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"polyglot/protocols"
)

// MaxPage caps every paged read.
const MaxPage = 500

func clampLimit(limit int) int {
	if limit <= 0 || limit > MaxPage {
		return MaxPage
	}
	return limit
}

// cursorBound turns a Cursor into (at, id) for a "strictly before" bound;
// the zero Cursor means "from the newest".
func cursorBound(c Cursor) (int64, int64) {
	if c.At.IsZero() && c.ID == 0 {
		return math.MaxInt64, math.MaxInt64
	}
	id := c.ID
	if id == 0 {
		id = math.MaxInt64
	}
	return toNanos(c.At), id
}

const convCols = `c.id, c.kind, coalesce(c.person_id, 0), c.title, c.preview, c.last_at, c.unread, c.request`

func (in *Inbox) scanConv(sc interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var lastAt int64
	var req int
	if err := sc.Scan(&c.ID, &c.Kind, &c.Person, &c.Title, &c.Preview, &lastAt, &c.Unread, &req); err != nil {
		return c, err
	}
	c.LastAt, c.Request = fromNanos(lastAt), req == 1
	return c, nil
}

// fillConv adds what lives outside the conversations row.
func (in *Inbox) fillConv(c *Conversation) error {
	var rows *sql.Rows
	var err error
	if c.Kind == Direct {
		rows, err = in.db.Query(`SELECT DISTINCT network FROM identities WHERE person_id = ?`, c.Person)
	} else {
		rows, err = in.db.Query(`SELECT DISTINCT network FROM chats WHERE conversation_id = ?`, c.ID)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		c.Networks = append(c.Networks, protocols.Network(n))
	}
	sort.Slice(c.Networks, func(i, j int) bool { return netOrder(c.Networks[i]) < netOrder(c.Networks[j]) })
	c.Typing = in.isTyping(c.ID)
	return rows.Err()
}

func netOrder(n protocols.Network) int {
	for i, k := range protocols.Networks {
		if k == n {
			return i
		}
	}
	return len(protocols.Networks)
}

// Conversations lists inbox conversations (not requests, not blocked),
// newest first, strictly after the cursor (the last item of the previous
// page: Cursor{At: c.LastAt, ID: int64(c.ID)}).
func (in *Inbox) Conversations(after Cursor, limit int) ([]Conversation, error) {
	at, id := cursorBound(after)
	rows, err := in.db.Query(`SELECT `+convCols+` FROM conversations c INDEXED BY conversations_list
		WHERE c.request = 0 AND c.hidden = 0 AND (c.last_at, c.id) < (?, ?)
		ORDER BY c.last_at DESC, c.id DESC LIMIT ?`, at, id, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("inbox: conversations: %w", err)
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		c, err := in.scanConv(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := in.fillConv(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Conversation reads one conversation (also a request or a blocked one).
func (in *Inbox) Conversation(id ConversationID) (Conversation, error) {
	c, err := in.scanConv(in.db.QueryRow(`SELECT `+convCols+` FROM conversations c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("inbox: conversation %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("inbox: conversation %d: %w", id, err)
	}
	return c, in.fillConv(&c)
}

const msgCols = `id, conversation_id, kind, coalesce(client_id, ''), network, account, coalesce(network_id, ''),
	sender, sender_server, sender_name, outgoing, body, formatted, at, encryption, state, fail_reason, reply_to,
	edited, deleted, notice, attachments`

func scanMessage(sc interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var at int64
	var out, edited, deleted int
	var atts string
	if err := sc.Scan(&m.ID, &m.Conversation, &m.Kind, &m.ClientID, &m.Network, &m.Account, &m.NetworkID,
		&m.Sender.ID, &m.Sender.Server, &m.SenderName, &out, &m.Body, &m.Formatted, &at, &m.Encryption, &m.State,
		&m.FailReason, &m.ReplyTo, &edited, &deleted, &m.Notice, &atts); err != nil {
		return m, err
	}
	m.At, m.Outgoing, m.Edited, m.Deleted = fromNanos(at), out == 1, edited == 1, deleted == 1
	if m.Sender.ID != "" {
		m.Sender.Network = m.Network
		m.Sender.Account = protocols.AccountID(m.Account)
	}
	if atts != "" {
		_ = json.Unmarshal([]byte(atts), &m.Attachments) // written by us; a bad row shows no attachments
	}
	return m, nil
}

// Messages returns up to limit messages of a conversation older than the
// cursor (zero: the newest), oldest first. The next older page is keyed by
// the first message: Cursor{At: m.At, ID: int64(m.ID)}.
func (in *Inbox) Messages(id ConversationID, before Cursor, limit int) ([]Message, error) {
	at, mid := cursorBound(before)
	rows, err := in.db.Query(`SELECT `+msgCols+` FROM messages INDEXED BY messages_page
		WHERE conversation_id = ? AND (at, id) < (?, ?) ORDER BY at DESC, id DESC LIMIT ?`, id, at, mid, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("inbox: messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, in.fillReactions(out)
}

// Message reads one stored message.
func (in *Inbox) Message(id MessageID) (Message, error) {
	m, err := scanMessage(in.db.QueryRow(`SELECT `+msgCols+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("inbox: message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, err
	}
	ms := []Message{m}
	err = in.fillReactions(ms)
	return ms[0], err
}

func (in *Inbox) fillReactions(ms []Message) error {
	if len(ms) == 0 {
		return nil
	}
	idx := make(map[MessageID]int, len(ms))
	args := make([]any, len(ms))
	for i, m := range ms {
		idx[m.ID] = i
		args[i] = m.ID
	}
	rows, err := in.db.Query(`SELECT message_id, key, sender, mine FROM reactions WHERE message_id IN (?`+
		strings.Repeat(",?", len(ms)-1)+`) ORDER BY message_id, key, sender`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id MessageID
		var key, sender string
		var mine int
		if err := rows.Scan(&id, &key, &sender, &mine); err != nil {
			return err
		}
		m := &ms[idx[id]]
		n := len(m.Reactions)
		if n == 0 || m.Reactions[n-1].Key != key {
			m.Reactions = append(m.Reactions, ReactionCount{Key: key})
			n++
		}
		rc := &m.Reactions[n-1]
		rc.Count++
		rc.Senders = append(rc.Senders, sender)
		rc.Mine = rc.Mine || mine == 1
	}
	return rows.Err()
}

// Person reads a person with all identities and preferences.
func (in *Inbox) Person(id PersonID) (Person, error) {
	var p Person
	var pref string
	var allow int
	err := in.db.QueryRow(`SELECT id, name, preferred, allow_downgrade FROM people WHERE id = ?`, id).Scan(&p.ID, &p.Name, &pref, &allow)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("inbox: person %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, err
	}
	p.Preferred, p.AllowDowngrade = protocols.Network(pref), allow == 1
	p.Identities, err = in.identities(id)
	return p, err
}

func (in *Inbox) identities(person PersonID) ([]Identity, error) {
	rows, err := in.db.Query(`SELECT id, person_id, network, addr_id, account, server, name, encryption, presence, consent, contact
		FROM identities WHERE person_id = ? ORDER BY id`, person)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Identity
	for rows.Next() {
		var i Identity
		if err := rows.Scan(&i.ID, &i.Person, &i.Address.Network, &i.Address.ID, &i.Address.Account, &i.Address.Server,
			&i.Name, &i.Encryption, &i.Presence, &i.Consent, &i.Contact); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// FindConversation resolves an address ("bob@example.org",
// "xmpp:bob@example.org", "@bob:example.org", a group chat ID) or an exact
// person name to a conversation, for `polyglot send --to`.
func (in *Inbox) FindConversation(addr string) (ConversationID, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return 0, fmt.Errorf("inbox: empty address")
	}
	network, id := splitNetwork(addr)
	net := string(network)
	var conv ConversationID
	err := in.db.QueryRow(`SELECT c.id FROM identities i JOIN conversations c ON c.kind = 1 AND c.person_id = i.person_id
		WHERE i.addr_id = ? AND (? = '' OR i.network = ?) AND c.hidden = 0 ORDER BY c.id LIMIT 1`, id, net, net).Scan(&conv)
	if err == nil {
		return conv, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	err = in.db.QueryRow(`SELECT conversation_id FROM chats WHERE chat_id = ? AND (? = '' OR network = ?) LIMIT 1`, id, net, net).Scan(&conv)
	if err == nil {
		return conv, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	var n int
	err = in.db.QueryRow(`SELECT coalesce(min(c.id), 0), count(*) FROM people p JOIN conversations c ON c.kind = 1 AND c.person_id = p.id
		WHERE p.norm_name = ? AND c.hidden = 0`, normName(addr)).Scan(&conv, &n)
	if err == nil && n == 1 {
		return conv, nil
	}
	if err == nil && n > 1 {
		return 0, &AmbiguousError{Name: addr, People: n}
	}
	return 0, fmt.Errorf("inbox: no conversation with %q: %w", addr, ErrNotFound)
}
