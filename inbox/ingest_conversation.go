package inbox

import (
	"database/sql"
	"errors"
	"strings"

	"polyglot/protocols"
)

type convDelta struct {
	lastAt  int64
	preview string
	unread  int
}

type directRow struct {
	conv    ConversationID
	request bool
}

// chatConv looks up the conversation a network chat of this account maps to.
func (g *ingester) chatConv(chat string) (ConversationID, error) {
	if chat == "" {
		return 0, nil
	}
	if c, ok := g.chats[chat]; ok {
		return c, nil
	}
	var id ConversationID
	err := g.row(`SELECT conversation_id FROM chats WHERE account = ? AND chat_id = ?`, g.account, chat).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	g.chats[chat] = id
	return id, nil
}

func (g *ingester) mapChat(net protocols.Network, chat string, conv ConversationID, group bool) error {
	if chat == "" {
		return nil
	}
	// Most messages arrive in a chat already mapped: a read is cheaper than
	// an upsert that rewrites the same row.
	if c, err := g.chatConv(chat); err != nil || c == conv {
		return err
	}
	if _, err := g.exec(`INSERT INTO chats(account, chat_id, network, conversation_id, grp) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(account, chat_id) DO UPDATE SET conversation_id = excluded.conversation_id`,
		g.account, chat, string(net), conv, boolInt(group)); err != nil {
		return err
	}
	g.chats[chat] = conv
	return nil
}

// directConv returns the person's one direct conversation, creating it.
func (g *ingester) directConv(r *identRow) (ConversationID, bool, error) {
	if d, ok := g.direct[r.person]; ok {
		return d.conv, d.request, nil
	}
	if g.direct == nil {
		g.direct = map[PersonID]directRow{}
	}
	var id ConversationID
	var req int
	err := g.row(`SELECT id, request FROM conversations WHERE kind = 1 AND person_id = ?`, r.person).Scan(&id, &req)
	if err == nil {
		g.direct[r.person] = directRow{id, req == 1}
		return id, req == 1, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	res, err := g.exec(`INSERT INTO conversations(kind, person_id, title, last_at) VALUES (1, ?, ?, 0)`, r.person, r.personNm)
	if err != nil {
		return 0, false, err
	}
	n, _ := res.LastInsertId()
	g.direct[r.person] = directRow{ConversationID(n), false}
	return ConversationID(n), false, nil
}

// groupConv returns the conversation of a group chat, creating it.
func (g *ingester) groupConv(net protocols.Network, chat protocols.Chat) (ConversationID, error) {
	id, err := g.chatConv(string(chat.ID))
	if err != nil || id != 0 {
		return id, err
	}
	title := chat.Name
	if title == "" {
		title = string(chat.ID)
	}
	res, err := g.exec(`INSERT INTO conversations(kind, title, last_at) VALUES (2, ?, 0)`, title)
	if err != nil {
		return 0, err
	}
	n, _ := res.LastInsertId()
	id = ConversationID(n)
	return id, g.mapChat(net, string(chat.ID), id, true)
}

// markRequest flags a direct conversation as a request from r unless some
// identity of the person is already accepted.
func (g *ingester) markRequest(conv ConversationID, r *identRow, kind protocols.RequestKind) (bool, error) {
	var accepted int
	if err := g.row(`SELECT EXISTS(SELECT 1 FROM identities WHERE person_id = ? AND consent = 1)`, r.person).Scan(&accepted); err != nil {
		return false, err
	}
	if accepted == 1 {
		return false, nil
	}
	_, err := g.exec(`UPDATE conversations SET request = 1, request_kind = ?, request_from = ? WHERE id = ? AND request = 0`, int(kind), r.id, conv)
	if d, ok := g.direct[r.person]; ok && d.conv == conv {
		g.direct[r.person] = directRow{conv, true}
	}
	return true, err
}

func (g *ingester) delta(conv ConversationID) *convDelta {
	d := g.deltas[conv]
	if d == nil {
		d = &convDelta{lastAt: -1}
		g.deltas[conv] = d
	}
	return d
}

// flush applies the collected conversation updates: last_at only grows and
// the preview follows the newest message.
func (g *ingester) flush() error {
	if err := g.indexPending(); err != nil {
		return err
	}
	for conv, d := range g.deltas {
		if _, err := g.exec(`UPDATE conversations SET
			preview = CASE WHEN ? >= last_at THEN ? ELSE preview END,
			last_at = max(last_at, ?), unread = unread + ? WHERE id = ?`,
			d.lastAt, d.preview, d.lastAt, d.unread, conv); err != nil {
			return err
		}
	}
	return nil
}

// indexPending adds the batch's new messages to the full-text index in
// one statement. It runs before anything in the batch rewrites a body (the
// FTS update trigger must find the old text indexed) and at the end.
func (g *ingester) indexPending() error {
	for _, r := range g.grams {
		if err := indexGrams(g.exec, r.id, r.body); err != nil {
			return err
		}
	}
	g.grams = g.grams[:0]
	if g.ftsFrom == 0 {
		return nil
	}
	_, err := g.exec(`INSERT INTO messages_fts(rowid, body) SELECT id, body FROM messages
		WHERE id BETWEEN ? AND ? AND fts_later = 1 AND kind = 0 AND deleted = 0`, g.ftsFrom, g.ftsTo)
	g.ftsFrom, g.ftsTo = 0, 0
	return err
}

// gramRow is a stored message whose text needs the character index.
type gramRow struct {
	id   int64
	body string
}

// previewOf is the first line of a message, or a stand-in for attachments.
func previewOf(body string, atts []protocols.Attachment) string {
	if i := strings.IndexByte(body, '\n'); i >= 0 {
		body = body[:i]
	}
	if len(body) > 200 {
		body = body[:200]
	}
	if body == "" && len(atts) > 0 {
		return "[attachment] " + atts[0].Name
	}
	return body
}
