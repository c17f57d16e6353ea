package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"polyglot/protocols"
)

// ErrRequestPending refuses sending into a conversation that still waits for
// the user's consent decision (replying must not leak before Accept).
var ErrRequestPending = errors.New("message request not accepted yet")

// Send routes, persists and sends one message. The message is committed
// (state queued, fresh client ID) before any connector sees it. It returns
// the stored message: sent, queued (the route is offline or the network
// timed out; the outbox resumes it) or failed. A *DowngradeError means
// nothing was stored: the user must allow the weaker route or queue.
func (in *Inbox) Send(ctx context.Context, req SendRequest) (Message, error) {
	if strings.TrimSpace(req.Body) == "" {
		return Message{}, errors.New("inbox: empty message")
	}
	rs, rc, err := in.routes(req.Conversation)
	if err != nil {
		return Message{}, err
	}
	if rc.request {
		return Message{}, fmt.Errorf("inbox: %s: %w", rc.title, ErrRequestPending)
	}
	ch, err := choose(rs, req.Route, req.AllowDowngrade, rc.allowDowngrade, req.Queue, rc.title)
	if err != nil {
		return Message{}, err
	}
	r := ch.route
	chat := rc.chats[r.Account]
	if rc.kind == Group {
		chat = r.To.ID
	}
	clientID := in.opts.NewID()
	now := in.now()
	var id MessageID
	err = in.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO messages(conversation_id, kind, client_id, network, account, chat_id, to_id, to_server, grp,
			outgoing, body, at, encryption, min_encryption, state, reply_to, notice)
			VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
			req.Conversation, clientID, string(r.Network), r.Account, chat, r.To.ID, r.To.Server, boolInt(rc.kind == Group),
			req.Body, toNanos(now), int(r.Encryption), int(r.Encryption), int(StateQueued), req.ReplyTo, ch.notice)
		if err != nil {
			return err
		}
		n, _ := res.LastInsertId()
		id = MessageID(n)
		_, err = tx.Exec(`UPDATE conversations SET last_at = max(last_at, ?), preview = ?, unread = 0 WHERE id = ?`,
			toNanos(now), previewOf(req.Body, nil), req.Conversation)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("inbox: store message: %w", err)
	}
	in.log.Info().Int64("message", int64(id)).Str("account", r.Account).Str("encryption", r.Encryption.String()).
		Bool("queued", ch.queued).Msg("message stored")
	in.publish(Change{Kind: ChangeMessages, Conversation: req.Conversation}, Change{Kind: ChangeConversations})
	var sendErr error
	if !ch.queued {
		sendErr = in.sendOne(ctx, id)
	}
	m, err := in.Message(id)
	if err != nil {
		return m, err
	}
	return m, sendErr
}

// Retry re-queues a failed (or still queued) outgoing message and tries it
// now with the same client ID.
func (in *Inbox) Retry(ctx context.Context, id MessageID) error {
	var res sql.Result
	err := in.write(func(tx *sql.Tx) error {
		var err error
		res, err = tx.Exec(`UPDATE messages SET state = ?, fail_reason = '' WHERE id = ? AND outgoing = 1 AND state IN (?, ?)`,
			int(StateQueued), id, int(StateFailed), int(StateQueued))
		return err
	})
	if err != nil {
		return fmt.Errorf("inbox: retry: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("inbox: retry message %d: not a failed or queued message of ours: %w", id, ErrNotFound)
	}
	m, err := in.Message(id)
	if err != nil {
		return err
	}
	in.publish(Change{Kind: ChangeMessages, Conversation: m.Conversation})
	return in.sendOne(ctx, id)
}

// errStayQueued marks outcomes that leave the message queued.
var errStayQueued = errors.New("stays queued")

// transient reports whether a send error should leave the message queued.
func transient(err error) bool {
	return errors.Is(err, protocols.ErrNotConnected) || errors.Is(err, protocols.ErrAuthFailed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// sendOne hands one queued message to its account's connector and records
// the outcome. It returns an error only for a permanent failure (the
// message is then marked failed with the reason); nil means sent or still
// queued.
func (in *Inbox) sendOne(ctx context.Context, id MessageID) error {
	err := in.trySend(ctx, id)
	if errors.Is(err, errStayQueued) {
		return nil
	}
	return err
}

func (in *Inbox) trySend(ctx context.Context, id MessageID) error {
	in.mu.Lock()
	if in.inflight[id] || in.closed {
		in.mu.Unlock()
		return errStayQueued
	}
	in.inflight[id] = true
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		delete(in.inflight, id)
		in.mu.Unlock()
	}()

	var (
		conv                             ConversationID
		clientID, net, account, chat, to string
		toServer, body, replyTo          string
		grp, state, minEnc               int
	)
	err := in.db.QueryRow(`SELECT conversation_id, client_id, network, account, chat_id, to_id, to_server, body, reply_to, grp, state, min_encryption
		FROM messages WHERE id = ?`, id).Scan(&conv, &clientID, &net, &account, &chat, &to, &toServer, &body, &replyTo, &grp, &state, &minEnc)
	if err != nil {
		return fmt.Errorf("inbox: load outgoing %d: %w", id, err)
	}
	if MessageState(state) != StateQueued {
		return errStayQueued
	}
	c, online := in.connector(account)
	if c == nil || !online {
		return errStayQueued
	}
	sctx, cancel := context.WithTimeout(ctx, in.opts.SendTimeout)
	res, sendErr := c.Send(sctx, protocols.OutgoingMessage{
		ClientID: clientID,
		To:       protocols.Address{Network: protocols.Network(net), Account: account, ID: to, Server: toServer},
		Chat:     chat, Group: grp == 1, Body: body, ReplyTo: replyTo,
		MinEncryption: protocols.Encryption(minEnc),
	})
	cancel()
	if sendErr != nil && transient(sendErr) {
		in.log.Info().Int64("message", int64(id)).Str("account", account).Err(sendErr).Msg("send deferred")
		return errStayQueued
	}
	if sendErr != nil {
		reason := sendErr.Error()
		if errors.Is(sendErr, protocols.ErrEncryptionUnavailable) {
			reason = fmt.Sprintf("%s cannot send with %s to this contact now; not sent weaker", NetworkName(protocols.Network(net)), protocols.Encryption(minEnc).Label())
		}
		werr := in.write(func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE messages SET state = ?, fail_reason = ? WHERE id = ? AND state = ?`, int(StateFailed), reason, id, int(StateQueued))
			return err
		})
		in.log.Warn().Int64("message", int64(id)).Str("account", account).Err(sendErr).Msg("send failed")
		in.publish(Change{Kind: ChangeMessages, Conversation: conv})
		if werr != nil {
			return werr
		}
		return fmt.Errorf("inbox: send failed: %w", sendErr)
	}
	err = in.write(func(tx *sql.Tx) error {
		// An echo may have filled network_id first; a receipt may already
		// have moved the state past sent.
		q := `UPDATE messages SET state = CASE WHEN state = 1 THEN 2 ELSE state END, fail_reason = '',
			network_id = coalesce(network_id, ?), encryption = ?, chat_id = CASE WHEN ? <> '' THEN ? ELSE chat_id END WHERE id = ?`
		if _, err := tx.Exec(q, nullStr(res.NetworkID), int(res.Encryption), res.Chat, res.Chat, id); err != nil {
			// The network ID is already held by a copy without our client ID
			// (echo raced ahead): drop the copy, keep ours.
			if _, err2 := tx.Exec(`DELETE FROM messages WHERE network = ? AND network_id = ? AND id <> ? AND client_id IS NULL`, net, res.NetworkID, id); err2 != nil {
				return err
			}
			if _, err := tx.Exec(q, nullStr(res.NetworkID), int(res.Encryption), res.Chat, res.Chat, id); err != nil {
				return err
			}
		}
		if res.Chat != "" && grp == 0 {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO chats(account, chat_id, network, conversation_id, grp) VALUES (?, ?, ?, ?, 0)`,
				account, res.Chat, net, conv); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`UPDATE people SET last_network = ? WHERE id = (SELECT person_id FROM conversations WHERE id = ? AND kind = 1)`, net, conv)
		return err
	})
	if err != nil {
		return fmt.Errorf("inbox: record sent message: %w", err)
	}
	if res.Encryption < protocols.Encryption(minEnc) {
		// The connector broke its contract; record the truth loudly.
		in.log.Error().Int64("message", int64(id)).Str("account", account).Msg("connector sent weaker than allowed")
	}
	in.publish(Change{Kind: ChangeMessages, Conversation: conv})
	return nil
}

// outboxRun is one account's background resume; a kick while it runs makes
// it go round once more.
type outboxRun struct{ again bool }

// kickOutbox resends, in order, the queued messages of account in the
// background.
func (in *Inbox) kickOutbox(account string) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	if r := in.outbox[account]; r != nil {
		r.again = true
		in.mu.Unlock()
		return
	}
	r := &outboxRun{}
	in.outbox[account] = r
	in.wg.Add(1)
	in.mu.Unlock()
	go func() {
		defer in.wg.Done()
		for {
			in.drain(account)
			in.mu.Lock()
			if r.again && !in.closed {
				r.again = false
				in.mu.Unlock()
				continue
			}
			delete(in.outbox, account)
			in.mu.Unlock()
			return
		}
	}()
}

func (in *Inbox) drain(account string) {
	var after MessageID
	for in.ctx.Err() == nil {
		rows, err := in.db.Query(`SELECT id FROM messages INDEXED BY messages_outbox WHERE state = 1 AND account = ? AND id > ? ORDER BY id LIMIT 100`, account, after)
		if err != nil {
			in.log.Error().Err(err).Msg("outbox query")
			return
		}
		var ids []MessageID
		for rows.Next() {
			var id MessageID
			if rows.Scan(&id) == nil {
				ids = append(ids, id)
			}
		}
		rows.Close()
		if len(ids) == 0 {
			return
		}
		for _, id := range ids {
			after = id
			if err := in.trySend(in.ctx, id); errors.Is(err, errStayQueued) {
				if _, online := in.connector(account); !online {
					return // the account dropped again; its next "online" resumes
				}
			}
		}
	}
}
