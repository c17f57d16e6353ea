package inbox

import (
	"database/sql"
	"strings"

	"polyglot/protocols"
)

// The hooks below put what a link owes into bridge_queue inside the
// transaction that stores the message or change, so a crash between the
// two cannot lose or repeat a relay.

// bridgeNew queues a new message of conv for every link it is a leg of:
// once both notices went out, not older than the link, and never a
// message some bridge relayed already.
func (g *ingester) bridgeNew(conv ConversationID, id int64, net protocols.Network, m protocols.Message, at int64) error {
	links := g.in.linksOf(conv)
	if len(links) == 0 || m.Relayed || relayPrefix.MatchString(m.Body) {
		return nil
	}
	for _, l := range links {
		s := l.side(conv, net)
		if s < 0 || !l.live[0] || !l.live[1] || at < l.created {
			continue
		}
		if _, err := g.exec(`INSERT INTO bridge_queue(link_id, side, kind, message_id) VALUES (?, ?, ?, ?)`, l.id, s, relayMessage, id); err != nil {
			return err
		}
		g.bridged = true
	}
	return nil
}

// bridgeChange queues an edit, delete or reaction of message id; the
// worker finds whether it has a copy on the other leg.
func (g *ingester) bridgeChange(conv ConversationID, id MessageID, kind int, key string) error {
	links := g.in.linksOf(conv)
	if len(links) == 0 {
		return nil
	}
	var net string
	var posted int
	if err := g.row(`SELECT network, EXISTS(SELECT 1 FROM bridge_posts WHERE message_id = ?) FROM messages WHERE id = ?`, id, id).Scan(&net, &posted); err != nil {
		return err
	}
	if posted == 1 && kind != relayReact && kind != relayUnreact {
		return nil // our relay changed by us: the change came from its source
	}
	for _, l := range links {
		s := l.side(conv, protocols.Network(net))
		if s < 0 {
			continue
		}
		if _, err := g.exec(`INSERT INTO bridge_queue(link_id, side, kind, message_id, key) VALUES (?, ?, ?, ?, ?)`, l.id, s, kind, id, key); err != nil {
			return err
		}
		g.bridged = true
	}
	return nil
}

// bridgeStored records, in Send's transaction, what the bridge sent (its
// mapping, the queue row it consumes, a link's notice), or queues the
// user's own message for the links of its conversation.
func (in *Inbox) bridgeStored(tx *sql.Tx, req SendRequest, id MessageID, net protocols.Network) (queued bool, err error) {
	if t := req.relay; t != nil {
		if _, err := tx.Exec(`INSERT INTO bridge_posts(message_id, link_id) VALUES (?, ?)`, id, t.link); err != nil {
			return false, err
		}
		if t.src != 0 {
			if _, err := tx.Exec(`INSERT INTO bridge_map(link_id, src, dst) VALUES (?, ?, ?)`, t.link, t.src, id); err != nil {
				return false, err
			}
		}
		if t.seq != 0 {
			if _, err := tx.Exec(`DELETE FROM bridge_queue WHERE seq = ?`, t.seq); err != nil {
				return false, err
			}
		}
		if t.notice {
			col := [2]string{"notice_a", "notice_b"}[t.side]
			if _, err := tx.Exec(`UPDATE bridge_links SET `+col+` = ? WHERE id = ?`, id, t.link); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	if req.EditOf != 0 || strings.TrimSpace(req.Body) == "" && req.File == "" {
		return false, nil
	}
	for _, l := range in.linksOf(req.Conversation) {
		s := l.side(req.Conversation, net)
		if s < 0 || !l.live[0] || !l.live[1] {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO bridge_queue(link_id, side, kind, message_id) VALUES (?, ?, ?, ?)`, l.id, s, relayMessage, id); err != nil {
			return false, err
		}
		queued = true
	}
	return queued, nil
}
