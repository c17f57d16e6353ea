package inbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"polyglot/protocols"
)

// errStayQueued marks outcomes that leave the message queued: the account
// is offline, the message is already in flight or no longer queued.
var errStayQueued = errors.New("stays queued")

// errDeferred is a transient network failure (timeout, lost link) while the
// account looked online: the message stays queued and the outbox tries
// again after outboxRetryDelay.
var errDeferred = fmt.Errorf("send deferred: %w", errStayQueued)

// outboxRetryDelay is the first wait before resending after a transient
// failure; it doubles per failed round up to outboxRetryMax. Variables so
// tests can shorten them.
var (
	outboxRetryDelay = 10 * time.Second
	outboxRetryMax   = 5 * time.Minute
)

// transient reports whether a send error should leave the message queued.
// Everything else (unknown peer, unsupported, encryption unavailable, a
// server refusal) is permanent: retrying would not help without the user.
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, protocols.ErrNotConnected) || errors.Is(err, protocols.ErrAuthFailed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// sendOne hands one queued message to its account's connector and records
// the outcome. It returns an error only for a permanent failure (the
// message is then marked failed with the reason); nil means sent or still
// queued. claimed says the caller already holds the message in flight.
func (in *Inbox) sendOne(ctx context.Context, id MessageID, claimed bool) error {
	var err error
	if claimed {
		err = in.sendClaimed(ctx, id)
	} else {
		err = in.trySend(ctx, id)
	}
	if errors.Is(err, errDeferred) {
		in.retryOutbox(in.accountOf(id))
	}
	if errors.Is(err, errStayQueued) {
		return nil
	}
	return err
}

func (in *Inbox) accountOf(id MessageID) string {
	var account string
	_ = in.db.QueryRow(`SELECT account FROM messages WHERE id = ?`, id).Scan(&account)
	return account
}

// claim marks a message in flight so only one goroutine hands it to a
// connector; release undoes it.
func (in *Inbox) claim(id MessageID) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.inflight[id] || in.closed {
		return false
	}
	in.inflight[id] = true
	return true
}

// markFresh records that id was just stored here and never sent.
func (in *Inbox) markFresh(id MessageID) {
	in.mu.Lock()
	in.fresh[id] = true
	in.mu.Unlock()
}

// resend reports whether handing id to a connector now may repeat an
// earlier attempt: one by this process, or by one that stored it and died
// before it recorded the answer. Only a message's first attempt here,
// right after this process stored it, is not.
func (in *Inbox) resend(id MessageID) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	first := in.fresh[id]
	delete(in.fresh, id)
	return !first
}

func (in *Inbox) release(id MessageID) {
	in.mu.Lock()
	delete(in.inflight, id)
	in.mu.Unlock()
}

func (in *Inbox) trySend(ctx context.Context, id MessageID) error {
	if !in.claim(id) {
		return errStayQueued
	}
	return in.sendClaimed(ctx, id)
}

// sendClaimed sends a message the caller claimed, and releases it.
func (in *Inbox) sendClaimed(ctx context.Context, id MessageID) error {
	defer in.release(id)

	var (
		conv                             ConversationID
		clientID, net, account, chat, to string
		toServer, body, replyTo          string
		grp, state, minEnc               int
		at                               int64
	)
	err := in.db.QueryRow(`SELECT conversation_id, client_id, network, account, chat_id, to_id, to_server, body, reply_to, grp, state, min_encryption, at
		FROM messages WHERE id = ?`, id).Scan(&conv, &clientID, &net, &account, &chat, &to, &toServer, &body, &replyTo, &grp, &state, &minEnc, &at)
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
	file, err := in.outgoingFile(id)
	if err != nil {
		return fmt.Errorf("inbox: load outgoing file %d: %w", id, err)
	}
	timeout := in.opts.SendTimeout
	upDone := func() {}
	if file != nil {
		// An upload takes as long as it takes; the progress shows it moves.
		timeout = max(timeout, uploadTimeout(file.Size))
		var done func()
		file.Progress, done = in.progress(id, conv, file.Name)
		// Gone before the outcome is published, so no screen keeps a
		// finished upload on its status bar.
		defer done()
		upDone = done
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	res, sendErr := c.Send(sctx, protocols.OutgoingMessage{
		File:     file,
		ClientID: protocols.ClientID(clientID),
		To:       protocols.Address{Network: protocols.Network(net), Account: protocols.AccountID(account), ID: to, Server: toServer},
		Chat:     protocols.ChatID(chat), Group: grp == 1, Body: body, ReplyTo: protocols.MessageID(replyTo),
		MinEncryption: protocols.Encryption(minEnc),
		Resend:        in.resend(id), At: fromNanos(at),
		Profile: in.relayProfile(id),
	})
	cancel()
	upDone()
	if sendErr != nil && transient(sendErr) {
		in.log.Info().Int64("message", int64(id)).Str("account", account).Err(sendErr).Msg("send deferred")
		return errDeferred
	}
	if sendErr != nil {
		reason := sendErr.Error()
		if errors.Is(sendErr, protocols.ErrFileChanged) {
			reason = "the file changed or is gone since you sent it; nothing was uploaded — send it again"
		}
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
		// have moved the state past sent. A queued notice is no longer true.
		q := `UPDATE messages SET state = CASE WHEN state = 1 THEN 2 ELSE state END, fail_reason = '',
			notice = CASE WHEN instr(notice, ?) > 0 THEN '' ELSE notice END,
			network_id = coalesce(network_id, ?), encryption = ?, chat_id = CASE WHEN ? <> '' THEN ? ELSE chat_id END WHERE id = ?`
		if _, err := tx.Exec(q, queuedNotice, nullStr(string(res.NetworkID)), int(res.Encryption), res.Chat, res.Chat, id); err != nil {
			// The network ID is already held by a copy without our client ID
			// (echo raced ahead): drop the copy, keep ours.
			if _, err2 := tx.Exec(`DELETE FROM messages WHERE network = ? AND network_id = ? AND id <> ? AND client_id IS NULL`, net, res.NetworkID, id); err2 != nil {
				return err
			}
			if _, err := tx.Exec(q, queuedNotice, nullStr(string(res.NetworkID)), int(res.Encryption), res.Chat, res.Chat, id); err != nil {
				return err
			}
		}
		if len(res.Attachments) > 0 {
			b, _ := json.Marshal(res.Attachments)
			if _, err := tx.Exec(`UPDATE messages SET attachments = ? WHERE id = ?`, string(b), id); err != nil {
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
	in.bridgeSent(id)
	return nil
}

// outboxRun is one account's background resume. A kick while it runs
// makes it go round once more (again) and wakes it from a retry wait.
type outboxRun struct {
	again bool // drain again now
	retry bool // a send failed transiently meanwhile: wait, then drain again
	wake  chan struct{}
}

// kickOutbox resends, in order, the queued messages of account in the
// background, now.
func (in *Inbox) kickOutbox(account string) { in.startOutbox(account, false) }

// retryOutbox resends the queued messages of account after the retry delay
// (a send just failed transiently), unless a run is already going.
func (in *Inbox) retryOutbox(account string) { in.startOutbox(account, true) }

func (in *Inbox) startOutbox(account string, wait bool) {
	in.mu.Lock()
	if in.closed || account == "" {
		in.mu.Unlock()
		return
	}
	if r := in.outbox[account]; r != nil {
		if wait {
			r.retry = true
		} else {
			r.again = true
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
		in.mu.Unlock()
		return
	}
	r := &outboxRun{wake: make(chan struct{}, 1)}
	in.outbox[account] = r
	in.wg.Add(1)
	in.mu.Unlock()
	go in.runOutbox(account, r, wait)
}

// runOutbox drains the account's queue until it is empty, the account goes
// offline (its next "online" starts a new run) or the inbox closes. After a
// transient failure it waits, with doubling delay, and tries again.
func (in *Inbox) runOutbox(account string, r *outboxRun, wait bool) {
	defer in.wg.Done()
	delay := outboxRetryDelay
	for {
		if wait {
			t := time.NewTimer(delay)
			select {
			case <-in.ctx.Done():
			case <-r.wake:
			case <-t.C:
			}
			t.Stop()
			delay = min(2*delay, outboxRetryMax)
		}
		deferred := in.drain(account)
		in.mu.Lock()
		_, online := in.conns[account]
		online = online && in.states[account].State == protocols.ConnOnline
		switch {
		case in.closed || in.ctx.Err() != nil || !online:
		case r.again:
			r.again, wait = false, false
			in.mu.Unlock()
			continue
		case deferred || r.retry:
			r.retry, wait = false, true
			in.mu.Unlock()
			continue
		}
		delete(in.outbox, account)
		in.mu.Unlock()
		return
	}
}

// drain sends the account's queued messages oldest first. It stops at the
// first transient failure (reporting deferred) so messages keep their order
// and a dead link does not cost one timeout per message.
func (in *Inbox) drain(account string) (deferred bool) {
	var after MessageID
	for in.ctx.Err() == nil {
		rows, err := in.db.Query(`SELECT id FROM messages INDEXED BY messages_outbox WHERE state = 1 AND account = ? AND id > ? ORDER BY id LIMIT 100`, account, after)
		if err != nil {
			in.log.Error().Err(err).Msg("outbox query")
			return true
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
			return false
		}
		for _, id := range ids {
			after = id
			err := in.trySend(in.ctx, id)
			if errors.Is(err, errDeferred) {
				return true
			}
			if errors.Is(err, errStayQueued) {
				if _, online := in.connector(account); !online {
					return false // the account dropped; its next "online" resumes
				}
			}
		}
	}
	return false
}
