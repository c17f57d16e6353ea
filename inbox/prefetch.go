package inbox

import (
	"database/sql"
	"strings"

	"polyglot/protocols"
)

// prefetchSizes are the sender counts one lookup statement covers. A few
// fixed sizes (a chunk is padded with NULL rows, which match nothing, up to
// the next size) keep the statement texts, and so their cached prepared
// statements, the same for every batch, while a single live message still
// binds only one row.
var prefetchSizes = []int{1, 8, 32}

// prefetchQueries[size] finds, for each (network, address, chat) row, the
// identity with its person, the person's direct conversation and the
// conversation the chat is mapped to on the account (the last parameter).
var prefetchQueries = func() map[int]string {
	m := map[int]string{}
	for _, n := range prefetchSizes {
		m[n] = `WITH want(net, addr, chat) AS (VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", n), ",") + `)
	SELECT want.net, want.addr, i.id, i.person_id, i.consent, i.contact, i.encryption, i.name, p.last_network, p.name,
		want.chat, c.id, c.request, ch.conversation_id
	FROM want JOIN identities i ON i.network = want.net AND i.addr_id = want.addr
	JOIN people p ON p.id = i.person_id
	LEFT JOIN conversations c ON c.kind = 1 AND c.person_id = i.person_id
	LEFT JOIN chats ch ON ch.account = ? AND ch.chat_id = want.chat`
	}
	return m
}()

// prefetch loads what the batch's direct messages need into the batch's
// caches, a few senders per query: a sender's identity, their direct
// conversation and their chat's mapping were three queries per sender and
// a tenth of the time of a history batch from many contacts. Senders
// without identity are remembered as such; ident creates them on use.
func (g *ingester) prefetch(evs []protocols.Event) error {
	type want struct {
		key  identKey
		chat string
	}
	var wants []want
	seen := map[identKey]bool{}
	for _, ev := range evs {
		var m protocols.Message
		switch e := ev.(type) {
		case protocols.MessageEvent:
			m = e.Message
		case *protocols.MessageEvent:
			m = e.Message
		default:
			continue
		}
		if m.Chat.Group || m.EditOf != "" {
			continue
		}
		net := g.network(m.Sender)
		if net == "" {
			continue // message reports it
		}
		key := identKey{net, g.directPeer(m, net).ID}
		if _, cached := g.idents[key]; key.addr == "" || cached || seen[key] {
			continue
		}
		seen[key] = true
		wants = append(wants, want{key, string(m.Chat.ID)})
	}
	largest := prefetchSizes[len(prefetchSizes)-1]
	for len(wants) > 0 {
		n := min(len(wants), largest)
		chunk := wants[:n]
		wants = wants[n:]
		size := largest
		for _, sz := range prefetchSizes {
			if sz >= n {
				size = sz
				break
			}
		}
		args := make([]any, 0, 3*size+1)
		for i := range size {
			if i >= n {
				args = append(args, nil, nil, nil) // matches nothing
				continue
			}
			args = append(args, string(chunk[i].key.net), chunk[i].key.addr, chunk[i].chat)
		}
		args = append(args, g.account)
		if err := g.prefetchChunk(prefetchQueries[size], args); err != nil {
			return err
		}
		for _, w := range chunk {
			if _, ok := g.idents[w.key]; !ok {
				g.idents[w.key] = nil
			}
		}
	}
	return nil
}

// prefetchChunk runs one of prefetchQueries and fills the caches with what it found;
// what the batch already cached stays (it may be newer than the store).
func (g *ingester) prefetchChunk(q string, args []any) error {
	s, err := g.stmt(q)
	if err != nil {
		return err
	}
	rows, err := s.Query(args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r := &identRow{}
		var net, addr, chat, lastNet string
		var consent, enc, contact int
		var conv, request, chatConv sql.NullInt64
		if err := rows.Scan(&net, &addr, &r.id, &r.person, &consent, &contact, &enc, &r.name, &lastNet, &r.personNm,
			&chat, &conv, &request, &chatConv); err != nil {
			return err
		}
		key := identKey{protocols.Network(net), addr}
		if _, ok := g.idents[key]; ok {
			continue // the batch's copy may be newer
		}
		r.consent, r.contact, r.enc, r.lastNet = Consent(consent), contact == 1, protocols.Encryption(enc), protocols.Network(lastNet)
		g.idents[key] = r
		if _, ok := g.direct[r.person]; !ok && conv.Valid {
			if g.direct == nil {
				g.direct = map[PersonID]directRow{}
			}
			g.direct[r.person] = directRow{ConversationID(conv.Int64), request.Int64 == 1}
		}
		if _, ok := g.chats[chat]; !ok && chat != "" && chatConv.Valid {
			g.chats[chat] = ConversationID(chatConv.Int64)
		}
	}
	return rows.Err()
}
