package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"polyglot/protocols"
)

// OpenTarget opens the conversation t names through account: the direct
// conversation with a person (StartConversation: writing to someone is the
// user's consent), or a group chat the account joins first. The account
// must be on t's network; joining needs it online.
func (in *Inbox) OpenTarget(ctx context.Context, account string, t Target) (ConversationID, error) {
	if n := in.accountNetwork(account); n != "" && n != t.Network {
		return 0, fmt.Errorf("%s is a %s address, %s is a %s account", t.ID, NetworkName(t.Network), account, NetworkName(n))
	}
	if !t.Room {
		return in.StartConversation(account, protocols.Address{Network: t.Network, ID: t.ID, Server: t.server()})
	}
	c, online := in.connector(account)
	if c == nil || !online {
		return 0, fmt.Errorf("joining %s needs %s online: %w", t.ID, account, protocols.ErrNotConnected)
	}
	j, ok := c.(protocols.Joiner)
	if !ok {
		return 0, fmt.Errorf("%s cannot join group chats: %w", account, protocols.ErrUnsupported)
	}
	chat, err := j.Join(ctx, t.ID)
	if err != nil {
		return 0, err
	}
	chat.Group = true
	// The connector's own ChatEvent may come later; this one makes the
	// conversation exist now, so it can open.
	room := protocols.Address{Network: c.Network(), Account: protocols.AccountID(account), ID: string(chat.ID)}
	if err := in.Ingest(account, protocols.ChatEvent{Chat: chat, Encryption: c.PeerEncryption(room)}); err != nil {
		return 0, err
	}
	var conv ConversationID
	err = in.db.QueryRow(`SELECT conversation_id FROM chats WHERE account = ? AND chat_id = ?`, account, chat.ID).Scan(&conv)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("inbox: joined %s but found no conversation for it: %w", chat.ID, ErrNotFound)
	}
	return conv, err
}

// NextUnread is the inbox conversation with unread messages after from in
// the list's order (newest first), or before it when backward, wrapping
// around; from itself never counts. 0: there is none. from 0 starts at
// the top (backward: at the bottom).
func (in *Inbox) NextUnread(from ConversationID, backward bool) (ConversationID, error) {
	var at, id int64
	if from != 0 {
		err := in.db.QueryRow(`SELECT last_at, id FROM conversations WHERE id = ?`, from).Scan(&at, &id)
		if errors.Is(err, sql.ErrNoRows) {
			from = 0
		} else if err != nil {
			return 0, fmt.Errorf("inbox: next unread: %w", err)
		}
	}
	const base = `SELECT id FROM conversations INDEXED BY conversations_list
		WHERE request = 0 AND hidden = 0 AND unread > 0 AND id <> ?`
	after, wrap := base+` AND (last_at, id) < (?, ?) ORDER BY last_at DESC, id DESC LIMIT 1`,
		base+` ORDER BY last_at DESC, id DESC LIMIT 1`
	if backward {
		after, wrap = base+` AND (last_at, id) > (?, ?) ORDER BY last_at, id LIMIT 1`,
			base+` ORDER BY last_at, id LIMIT 1`
	}
	var next ConversationID
	err := sql.ErrNoRows
	if from != 0 {
		err = in.db.QueryRow(after, from, at, id).Scan(&next)
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = in.db.QueryRow(wrap, from).Scan(&next)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("inbox: next unread: %w", err)
	}
	return next, nil
}

// OwnNames lists, per account, the names others use for the user there
// (SelfNamer connectors: local part, display name, nick), without
// duplicates. It reads the connectors' cached state only.
func (in *Inbox) OwnNames() map[string][]string {
	in.mu.Lock()
	conns := make(map[string]protocols.Connector, len(in.conns))
	for a, c := range in.conns {
		conns[a] = c
	}
	in.mu.Unlock()
	out := map[string][]string{}
	for a, c := range conns {
		sn, ok := c.(protocols.SelfNamer)
		if !ok {
			continue
		}
		seen := map[string]bool{}
		var names []string
		for _, n := range sn.SelfNames() {
			n = strings.TrimSpace(n)
			if k := strings.ToLower(n); n != "" && !seen[k] {
				seen[k] = true
				names = append(names, n)
			}
		}
		sort.Strings(names)
		if len(names) > 0 {
			out[a] = names
		}
	}
	return out
}
