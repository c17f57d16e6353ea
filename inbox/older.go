package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"polyglot/protocols"
)

// chatKey names one chat of one account.
type chatKey struct{ account, chat string }

// olderCursor is where a chat's history continues on the server; done
// once the server has nothing older.
type olderCursor struct {
	before string
	done   bool
}

// LoadOlder fetches, from the servers, the page of a conversation's
// history older than what the store holds — for each of its chats whose
// account is online and can page history — and stores it (as history:
// no unread, no notification). It returns how many messages were new to
// the store; 0 and no error means the servers have nothing older. The
// view calls it when the user scrolls past the oldest stored message.
func (in *Inbox) LoadOlder(ctx context.Context, conv ConversationID, limit int) (int, error) {
	rows, err := in.db.QueryContext(ctx, `SELECT account, chat_id FROM chats WHERE conversation_id = ?`, conv)
	if err != nil {
		return 0, fmt.Errorf("inbox: %w", err)
	}
	var chats []chatKey
	for rows.Next() {
		var k chatKey
		if err := rows.Scan(&k.account, &k.chat); err != nil {
			rows.Close()
			return 0, fmt.Errorf("inbox: %w", err)
		}
		chats = append(chats, k)
	}
	rows.Close()
	before, err := in.countMessages(ctx, conv)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, k := range chats {
		if err := in.loadOlderChat(ctx, k, limit); err != nil {
			errs = append(errs, err)
		}
	}
	after, err := in.countMessages(ctx, conv)
	if err != nil {
		return 0, err
	}
	if after > before {
		return after - before, nil // some chat had more: the others' errors can wait
	}
	return 0, errors.Join(errs...)
}

func (in *Inbox) loadOlderChat(ctx context.Context, k chatKey, limit int) error {
	c, online := in.connector(k.account)
	if c == nil || !c.Capabilities().History {
		return nil
	}
	in.mu.Lock()
	cur, seen := in.older[k]
	in.mu.Unlock()
	if cur.done {
		return nil
	}
	if !online {
		return protocols.ErrNotConnected
	}
	// The oldest message held: its network ID is a cursor every
	// connector understands, and the page must sort before it.
	var oldestID sql.NullString
	var oldestAt int64
	err := in.db.QueryRowContext(ctx, `SELECT network_id, at FROM messages INDEXED BY messages_page
		WHERE conversation_id = (SELECT conversation_id FROM chats WHERE account = ? AND chat_id = ?)
		AND account = ? AND chat_id = ? AND network_id IS NOT NULL AND network_id <> ''
		ORDER BY at, id LIMIT 1`, k.account, k.chat, k.account, k.chat).Scan(&oldestID, &oldestAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("inbox: %w", err)
	}
	if !seen {
		cur.before = oldestID.String
	}
	page, err := c.FetchHistory(ctx, protocols.ChatID(k.chat), cur.before, limit)
	if err != nil {
		return err
	}
	stamps := make([]time.Time, len(page.Messages))
	for i, m := range page.Messages {
		stamps[i] = m.Sent
	}
	var floor time.Time
	if oldestID.Valid {
		floor = fromNanos(oldestAt)
	}
	stamps, _ = protocols.OlderThan(stamps, floor)
	evs := make([]protocols.Event, 0, len(page.Messages))
	for i, m := range page.Messages {
		m.Sent = stamps[i]
		evs = append(evs, protocols.MessageEvent{Message: m, Historical: true})
	}
	if len(evs) > 0 {
		if err := in.IngestBatch(k.account, evs); err != nil {
			return err
		}
	}
	in.mu.Lock()
	in.older[k] = olderCursor{before: page.Before, done: page.Before == "" || len(page.Messages) == 0}
	in.mu.Unlock()
	return nil
}

func (in *Inbox) countMessages(ctx context.Context, conv ConversationID) (int, error) {
	var n int
	if err := in.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE conversation_id = ?`, conv).Scan(&n); err != nil {
		return 0, fmt.Errorf("inbox: %w", err)
	}
	return n, nil
}
