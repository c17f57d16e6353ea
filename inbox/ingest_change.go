package inbox

import (
	"database/sql"
	"errors"

	"polyglot/protocols"
)

// target finds the message an edit, delete, reaction or receipt points at,
// by network ID or by our client ID.
func (g *ingester) target(net protocols.Network, ref string) (id MessageID, conv ConversationID, outgoing bool, sender string, ok bool, err error) {
	var out int
	err = g.row(`SELECT id, conversation_id, outgoing, sender FROM messages WHERE network = ? AND network_id = ?
		UNION ALL SELECT id, conversation_id, outgoing, sender FROM messages WHERE client_id = ? LIMIT 1`,
		string(net), ref, ref).Scan(&id, &conv, &out, &sender)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, "", false, nil
	}
	return id, conv, out == 1, sender, err == nil, err
}

// mayAlter says whether from may edit or retract a message: only its author.
// Our own messages may be changed by our other devices, never by a known
// contact.
func (g *ingester) mayAlter(net protocols.Network, from protocols.Address, outgoing bool, sender string) (bool, error) {
	if !outgoing {
		return from.ID == sender, nil
	}
	if from.IsZero() || from.ID == g.account {
		return true, nil
	}
	r, err := g.ident(net, from, false, "")
	return r == nil, err
}

func (g *ingester) edit(from protocols.Address, targetID, body, formatted, chat string) error {
	if err := g.indexPending(); err != nil {
		return err
	}
	net := g.network(from)
	id, conv, out, sender, ok, err := g.target(net, targetID)
	if err != nil || !ok {
		return err
	}
	if allowed, err := g.mayAlter(net, from, out, sender); err != nil || !allowed {
		return err
	}
	res, err := g.exec(`UPDATE messages SET body = ?, formatted = ?, edited = 1 WHERE id = ? AND deleted = 0`, body, formatted, id)
	if err != nil {
		return err
	}
	// The update trigger took the old text out of the character index.
	if n, _ := res.RowsAffected(); n > 0 {
		if err := indexGrams(g.exec, int64(id), body); err != nil {
			return err
		}
		if err := g.bridgeChange(conv, id, relayEdit, ""); err != nil {
			return err
		}
	}
	g.changed(ChangeMessages, conv)
	return g.refreshPreview(conv)
}

func (g *ingester) delete(e protocols.DeleteEvent) error {
	if err := g.indexPending(); err != nil {
		return err
	}
	net := g.network(e.From)
	id, conv, out, sender, ok, err := g.target(net, string(e.TargetID))
	if err != nil || !ok {
		return err
	}
	if allowed, err := g.mayAlter(net, e.From, out, sender); err != nil || !allowed {
		return err
	}
	// The retracted text is dropped: it leaves search and previews, and the
	// store no longer holds what the sender took back.
	if _, err := g.exec(`UPDATE messages SET deleted = 1, body = '', formatted = '', attachments = '' WHERE id = ?`, id); err != nil {
		return err
	}
	if err := g.bridgeChange(conv, id, relayDelete, ""); err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return g.refreshPreview(conv)
}

// DeletedPreview stands in for a retracted message in the list preview.
const DeletedPreview = "(message deleted)"

func (g *ingester) refreshPreview(conv ConversationID) error {
	if _, err := g.exec(`UPDATE conversations SET preview = coalesce((SELECT CASE WHEN deleted = 1 THEN ? ELSE substr(body, 1, 200) END
		FROM messages WHERE conversation_id = ? AND kind = 0 ORDER BY at DESC, id DESC LIMIT 1), '') WHERE id = ?`,
		DeletedPreview, conv, conv); err != nil {
		return err
	}
	// Delete deltas of this batch would overwrite it; fold them in.
	if d, ok := g.deltas[conv]; ok {
		var p string
		if err := g.row(`SELECT coalesce((SELECT CASE WHEN deleted = 1 THEN ? ELSE body END FROM messages WHERE conversation_id = ? AND kind = 0 ORDER BY at DESC, id DESC LIMIT 1), '')`, DeletedPreview, conv).Scan(&p); err != nil {
			return err
		}
		d.preview = previewOf(p, nil)
	}
	g.changed(ChangeConversations, 0)
	return nil
}

func (g *ingester) reaction(e protocols.ReactionEvent) error {
	net := g.network(e.From)
	id, conv, _, _, ok, err := g.target(net, string(e.TargetID))
	if err != nil || !ok {
		return err
	}
	// The user's own reactions are stored under one sender (""), so the
	// copy applied when the user reacted and the network's echo of it are
	// one row.
	mine := g.self(net, e.From)
	sender := e.From.ID
	if mine {
		sender = ""
	}
	switch {
	case e.Remove && mine:
		_, err = g.exec(`DELETE FROM reactions WHERE message_id = ? AND key = ? AND (mine = 1 OR sender = ?)`, id, e.Key, e.From.ID)
	case e.Remove:
		_, err = g.exec(`DELETE FROM reactions WHERE message_id = ? AND key = ? AND sender = ?`, id, e.Key, sender)
	default:
		err = g.addReaction(id, e.Key, sender, mine)
	}
	if err != nil {
		return err
	}
	if !mine {
		kind := relayReact
		if e.Remove {
			kind = relayUnreact
		}
		if err := g.bridgeChange(conv, id, kind, e.Key); err != nil {
			return err
		}
	}
	g.changed(ChangeMessages, conv)
	return nil
}

// self says whether from is the user: no address (a change the user made
// here), the account itself, or the address a default account ID
// ("network:address") names.
func (g *ingester) self(net protocols.Network, from protocols.Address) bool {
	return from.IsZero() || from.ID == g.account || g.account == string(net)+":"+from.ID
}

func (g *ingester) receipt(e protocols.ReceiptEvent) error {
	net := g.network(e.From)
	to := StateDelivered
	if e.Kind == protocols.ReceiptRead {
		to = StateRead
	}
	for _, ref := range e.IDs {
		id, conv, out, _, ok, err := g.target(net, string(ref))
		if err != nil {
			return err
		}
		if !ok || !out {
			continue
		}
		// States only move forward; failed messages are left alone.
		if _, err := g.exec(`UPDATE messages SET state = ?, fail_reason = '' WHERE id = ? AND state IN (1, 2, 3) AND state < ?`, int(to), id, int(to)); err != nil {
			return err
		}
		if to == StateRead {
			// A read marker covers everything before it in the conversation.
			if _, err := g.exec(`UPDATE messages SET state = 4 WHERE conversation_id = ? AND outgoing = 1 AND state IN (2, 3)
				AND at <= (SELECT at FROM messages WHERE id = ?)`, conv, id); err != nil {
				return err
			}
		}
		g.changed(ChangeMessages, conv)
	}
	return nil
}

func (g *ingester) typingEv(e protocols.TypingEvent) error {
	net := g.network(e.From)
	r, err := g.ident(net, e.From, false, "")
	if err != nil || (r != nil && r.consent == ConsentBlocked) {
		return err
	}
	conv, err := g.chatConv(string(e.Chat))
	if err != nil {
		return err
	}
	if conv == 0 && r != nil {
		if err := g.row(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, r.person).Scan(&conv); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if conv == 0 {
		return nil
	}
	if g.typing == nil {
		g.typing = map[ConversationID]bool{}
	}
	g.typing[conv] = e.Typing
	return nil
}

func (g *ingester) presence(e protocols.PresenceEvent) error {
	net := g.network(e.From)
	res, err := g.exec(`UPDATE identities SET presence = ? WHERE network = ? AND addr_id = ?`, int(e.State), string(net), e.From.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		g.changed(ChangePeople, 0)
	}
	return nil
}
