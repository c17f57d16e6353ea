package inbox

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"polyglot/protocols"
)

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (g *ingester) message(m protocols.Message, historical bool) error {
	net := g.network(m.Sender)
	if net == "" {
		net = g.in.accountNetwork(g.account)
	}
	if net == "" {
		return fmt.Errorf("%w: message on account %q: unknown network", errUnstorable, g.account)
	}
	if m.EditOf != "" {
		return g.edit(m.Sender, string(m.EditOf), m.Body, m.FormattedBody, string(m.Chat.ID))
	}
	at := m.Sent
	if at.IsZero() {
		at = m.Received
	}
	if at.IsZero() {
		at = g.now
	}

	var conv ConversationID
	var ident *identRow
	request := false
	newRequest := false // this message opened the request
	// Our own message in a 1:1 chat whose peer the network did not name
	// (e.g. a Matrix DM before its m.direct entry is seen) belongs to the
	// conversation the chat is already mapped to — not to a "person" made
	// of the chat ID.
	var mapped ConversationID
	if !m.Chat.Group && m.Outgoing && m.Chat.Peer.IsZero() {
		var err error
		if mapped, err = g.chatConv(string(m.Chat.ID)); err != nil {
			return err
		}
	}
	if mapped != 0 {
		conv = mapped
		var req int
		if err := g.row(`SELECT request FROM conversations WHERE id = ?`, conv).Scan(&req); err != nil {
			return err
		}
		request = req == 1
	} else if m.Chat.Group {
		if !m.Outgoing && !m.Sender.IsZero() {
			// Joining the room was consent to its members: no reachability
			// gate and no person made per member; a block stands.
			r, ok, err := g.admit(net, m.Sender, admitMember)
			if err != nil || !ok {
				return err
			}
			ident = r // a known member's name labels the line
		}
		var err error
		if conv, err = g.groupConv(net, m.Chat); err != nil {
			return err
		}
		var hidden, req int
		if err := g.row(`SELECT hidden, request FROM conversations WHERE id = ?`, conv).Scan(&hidden, &req); err != nil {
			return err
		}
		if hidden == 1 {
			return nil
		}
		request = req == 1
	} else {
		peer := g.directPeer(m, net)
		if peer.ID == "" {
			return fmt.Errorf("%w: direct message on %q without peer or chat", errUnstorable, g.account)
		}
		gt := admitStranger
		if m.Outgoing {
			gt = admitOwn // the user wrote to them
		}
		r, ok, err := g.admit(net, peer, gt.named(m.Chat.Name))
		if err != nil || !ok {
			return err
		}
		if m.Outgoing && r.consent == ConsentUnknown {
			// The user wrote to them (from another device): that is consent.
			if err := g.setConsent(r, ConsentAccepted); err != nil {
				return err
			}
		}
		ident = r
		if !m.Outgoing && m.Chat.Name != "" {
			if err := g.adoptName(r, peer, m.Chat.Name); err != nil {
				return err
			}
		}
		if conv, request, err = g.directConv(r); err != nil {
			return err
		}
		if err := g.mapChat(net, string(m.Chat.ID), conv, false); err != nil {
			return err
		}
		if !m.Outgoing && (r.consent == ConsentUnknown || r.consent == ConsentIgnored) && !request {
			if request, err = g.markRequest(conv, r, protocols.RequestMessage); err != nil {
				return err
			}
			newRequest = request
		}
	}

	state := StateReceived
	if m.Outgoing {
		state = StateSent
	}
	var atts string
	if len(m.Attachments) > 0 {
		b, _ := json.Marshal(m.Attachments)
		atts = string(b)
	}
	// Optional text goes in as NULL when empty (coalesce stores ''): the
	// driver copies every text argument into C memory, a NULL costs nothing.
	res, err := g.exec(`INSERT INTO messages(conversation_id, kind, client_id, network, account, network_id, chat_id, grp,
		sender, sender_server, sender_name, outgoing, body, formatted, at, encryption, state, reply_to, notice, attachments, fts_later, undecryptable)
		VALUES (?, 0, ?, ?, ?, ?, coalesce(?, ''), ?, ?, coalesce(?, ''), coalesce(?, ''), ?, ?, coalesce(?, ''), ?, ?, ?,
		coalesce(?, ''), coalesce(?, ''), coalesce(?, ''), 1, ?) ON CONFLICT DO NOTHING`,
		conv, nullStr(string(m.ClientID)), string(net), g.account, nullStr(string(m.NetworkID)), nullStr(string(m.Chat.ID)), boolInt(m.Chat.Group),
		m.Sender.ID, nullStr(addrServer(m.Sender)), nullStr(senderName(ident, m)), boolInt(m.Outgoing), m.Body, nullStr(m.FormattedBody),
		toNanos(at), int(m.Encryption), int(state), nullStr(string(m.ReplyTo)), nullStr(m.Notice), nullStr(atts), boolInt(m.Undecryptable))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if done, err := g.decrypted(m, net); err != nil || done {
			return err
		}
		return g.echo(m, net)
	}
	msgID, _ := res.LastInsertId()
	if err := g.bridgeNew(conv, msgID, net, m, toNanos(at)); err != nil {
		return err
	}
	if g.ftsFrom == 0 {
		g.ftsFrom = msgID
	}
	g.ftsTo = msgID
	if hasGrams(m.Body) {
		g.grams = append(g.grams, gramRow{msgID, m.Body})
	}
	for _, rc := range m.Reactions {
		if err := g.addReaction(MessageID(msgID), rc.Key, rc.Sender.ID, false); err != nil {
			return err
		}
	}
	d := g.delta(conv)
	if toNanos(at) >= d.lastAt {
		d.lastAt, d.preview = toNanos(at), previewOf(m.Body, m.Attachments)
	}
	silent := historical || m.Outgoing || (ident != nil && ident.consent == ConsentIgnored)
	if !silent {
		d.unread++
	}
	if ident != nil && !m.Outgoing {
		if ident.enc != m.Encryption && !m.Undecryptable {
			if _, err := g.exec(`UPDATE identities SET encryption = ? WHERE id = ?`, int(m.Encryption), ident.id); err != nil {
				return err
			}
			ident.enc = m.Encryption
		}
		if g.typing == nil {
			g.typing = map[ConversationID]bool{}
		}
		g.typing[conv] = false
	}
	if ident != nil && !historical && ident.lastNet != net {
		if _, err := g.exec(`UPDATE people SET last_network = ? WHERE id = ?`, string(net), ident.person); err != nil {
			return err
		}
		ident.lastNet = net
	}
	g.changed(ChangeMessages, conv)
	if request {
		g.changed(ChangeRequests, 0)
	} else {
		g.changed(ChangeConversations, 0)
	}
	// A pending request notifies once, when it opens: a stranger cannot
	// ring the bell with every further message.
	if !silent && (!request || newRequest) {
		g.changed(ChangeIncoming, conv)
	}
	return nil
}

// directPeer is the other party of a direct message: the sender, or for
// the user's own messages the chat's peer (else the chat itself).
func (g *ingester) directPeer(m protocols.Message, net protocols.Network) protocols.Address {
	peer := m.Sender
	switch {
	case (m.Outgoing || peer.IsZero()) && !m.Chat.Peer.IsZero():
		peer = m.Chat.Peer
	case m.Outgoing || peer.IsZero():
		peer = protocols.Address{Network: net, Account: protocols.AccountID(g.account), ID: string(m.Chat.ID)}
	}
	return peer
}

func senderName(r *identRow, m protocols.Message) string {
	if m.Outgoing {
		return ""
	}
	if r != nil && r.name != "" {
		return r.name
	}
	return ""
}

// echo handles a message we already hold: our own send coming back (by
// client ID: carbons, Matrix echo) gets its network ID and at least "sent".
func (g *ingester) echo(m protocols.Message, net protocols.Network) error {
	if m.ClientID == "" {
		return nil // plain duplicate by network ID
	}
	var id MessageID
	var conv ConversationID
	var netID sql.NullString
	err := g.row(`SELECT id, conversation_id, network_id FROM messages WHERE client_id = ?`, m.ClientID).Scan(&id, &conv, &netID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if !netID.Valid && m.NetworkID != "" {
		var taken int
		if err := g.row(`SELECT EXISTS(SELECT 1 FROM messages WHERE network = ? AND network_id = ?)`, string(net), m.NetworkID).Scan(&taken); err != nil {
			return err
		}
		if taken == 0 {
			if _, err := g.exec(`UPDATE messages SET network_id = ? WHERE id = ?`, m.NetworkID, id); err != nil {
				return err
			}
		}
	}
	if _, err := g.exec(`UPDATE messages SET state = ?, fail_reason = '' WHERE id = ? AND state = ?`, int(StateSent), id, int(StateQueued)); err != nil {
		return err
	}
	g.changed(ChangeMessages, conv)
	return nil
}
