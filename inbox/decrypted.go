package inbox

import (
	"database/sql"
	"encoding/json"
	"errors"

	"polyglot/protocols"
)

// decrypted fills in a message stored as undecryptable when the connector
// delivers it again with its text (its key arrived late). The row keeps its
// place, unread count and ID, so the user sees the lock notice turn into the
// message rather than a second copy, and it is not marked edited: the sender
// changed nothing. Only the same sender's copy may fill the row.
func (g *ingester) decrypted(m protocols.Message, net protocols.Network) (bool, error) {
	if m.Undecryptable || m.NetworkID == "" {
		return false, nil
	}
	var id MessageID
	var conv ConversationID
	err := g.row(`SELECT id, conversation_id FROM messages
		WHERE network = ? AND network_id = ? AND undecryptable = 1 AND deleted = 0 AND sender = ?`,
		string(net), m.NetworkID, m.Sender.ID).Scan(&id, &conv)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The row may still wait for this batch's search indexing; index it
	// first so the update trigger swaps the right text.
	if err := g.indexPending(); err != nil {
		return false, err
	}
	var atts string
	if len(m.Attachments) > 0 {
		b, _ := json.Marshal(m.Attachments)
		atts = string(b)
	}
	if _, err := g.exec(`UPDATE messages SET body = ?, formatted = ?, notice = ?, reply_to = ?, attachments = ?,
		encryption = ?, undecryptable = 0 WHERE id = ?`,
		m.Body, m.FormattedBody, m.Notice, m.ReplyTo, atts, int(m.Encryption), id); err != nil {
		return false, err
	}
	if err := indexGrams(g.exec, int64(id), m.Body); err != nil {
		return false, err
	}
	for _, rc := range m.Reactions {
		if err := g.addReaction(id, rc.Key, rc.Sender.ID, false); err != nil {
			return false, err
		}
	}
	g.changed(ChangeMessages, conv)
	return true, g.refreshPreview(conv)
}
