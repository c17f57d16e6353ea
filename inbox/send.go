package inbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"polyglot/protocols"
)

// ErrRequestPending refuses sending into a conversation that still waits for
// the user's consent decision (replying must not leak before Accept).
var ErrRequestPending = errors.New("message request not accepted yet")

// Send follows the route plan (PlanRoute with req.Options()), persists and
// sends one message. The message is committed (state queued, fresh client
// ID) before any connector sees it. It returns the stored message: sent,
// queued (every route is offline, the network timed out, or older messages
// of the account still wait and go first; the outbox resumes it with the
// same client ID) or failed, with the error. An edit (req.EditOf) goes
// through the account the message went out on and returns the corrected
// message. A *DowngradeError means nothing was stored or sent: the plan
// needs the user's OK (SendRequest.AllowDowngrade) or a wait (Queue).
// ErrNoRoute: no attached account reaches the conversation at all.
// ErrRequestPending: the conversation is a request not yet accepted.
func (in *Inbox) Send(ctx context.Context, req SendRequest) (Message, error) {
	var file *FileInfo
	if req.File != "" {
		if req.EditOf != 0 {
			return Message{}, errors.New("inbox: an edit cannot carry a file")
		}
		fi, err := InspectFile(req.File)
		if err != nil {
			return Message{}, err
		}
		file = &fi
	}
	if strings.TrimSpace(req.Body) == "" && file == nil {
		if req.EditOf != 0 {
			return Message{}, errors.New("inbox: an edit cannot be empty (delete the message instead)")
		}
		return Message{}, errors.New("inbox: empty message")
	}
	rs, rc, err := in.routes(req.Conversation)
	if err != nil {
		return Message{}, err
	}
	if rc.request {
		return Message{}, fmt.Errorf("inbox: %s: %w", rc.title, ErrRequestPending)
	}
	p, err := in.plan(req.Conversation, rs, rc, req.Options())
	if err != nil {
		return Message{}, err
	}
	if err := p.err(); err != nil {
		return Message{}, err
	}
	if p.Kind == PlanEdit {
		return in.sendEdit(ctx, req.EditOf, req.Body, p)
	}
	r := p.Route
	var atts []protocols.Attachment
	attJSON := ""
	if file != nil {
		if !p.Queued {
			if err := in.checkLimit(ctx, r, file.Size); err != nil {
				return Message{}, err
			}
		}
		atts = []protocols.Attachment{{Name: file.Name, MIME: file.MIME, Size: file.Size}}
		b, _ := json.Marshal(atts)
		attJSON = string(b)
	}
	chat := r.To.ID
	if rc.kind == Direct {
		chat = in.directChat(req.Conversation, rc, r)
	}
	clientID := in.opts.NewID()
	now := in.now()
	var (
		id      MessageID
		claimed bool
		bridged bool
	)
	err = in.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO messages(conversation_id, kind, client_id, network, account, chat_id, to_id, to_server, grp,
			outgoing, body, at, encryption, min_encryption, state, reply_to, notice, attachments)
			VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
			req.Conversation, clientID, string(r.Network), r.Account, chat, r.To.ID, r.To.Server, boolInt(rc.kind == Group),
			req.Body, toNanos(now), int(r.Encryption), int(r.Encryption), int(StateQueued), p.replyTo, p.Notice, attJSON)
		if err != nil {
			return err
		}
		n, _ := res.LastInsertId()
		id = MessageID(n)
		if file != nil {
			if _, err := tx.Exec(`INSERT INTO outgoing_files(message_id, path, name, mime, size, sha256) VALUES (?, ?, ?, ?, ?, ?)`,
				id, file.Path, file.Name, file.MIME, file.Size, file.SHA256); err != nil {
				return err
			}
		}
		in.markFresh(id)
		// Searchable from the start (no insert trigger does it: migration 6).
		if _, err := tx.Exec(`INSERT INTO messages_fts(rowid, body) VALUES (?, ?)`, id, req.Body); err != nil {
			return err
		}
		if err := indexGrams(tx.Exec, int64(id), req.Body); err != nil {
			return err
		}
		if bridged, err = in.bridgeStored(tx, req, id, r.Network); err != nil {
			return err
		}
		if !p.Queued {
			// Claim the message before it is committed, so a background
			// outbox run cannot take it and leave this call saying "queued".
			// If older messages of the account still wait, keep the order
			// the user wrote in: the outbox sends those first, then this.
			var older int
			if err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM messages INDEXED BY messages_outbox
				WHERE state = 1 AND account = ? AND id < ?)`, r.Account, id).Scan(&older); err != nil {
				return err
			}
			claimed = older == 0 && in.claim(id)
		}
		_, err = tx.Exec(`UPDATE conversations SET last_at = max(last_at, ?), preview = ?, unread = 0 WHERE id = ?`,
			toNanos(now), previewOf(req.Body, atts), req.Conversation)
		return err
	})
	if err != nil {
		if claimed {
			in.release(id)
		}
		return Message{}, fmt.Errorf("inbox: store message: %w", err)
	}
	in.log.Info().Int64("message", int64(id)).Str("account", r.Account).Str("encryption", r.Encryption.String()).
		Bool("queued", p.Queued).Msg("message stored")
	in.publish(Change{Kind: ChangeMessages, Conversation: req.Conversation}, Change{Kind: ChangeConversations})
	if bridged {
		in.kickBridge()
	}
	var sendErr error
	switch {
	case claimed:
		sendErr = in.sendOne(ctx, id, true)
	default:
		// Also when queued for an offline route: the account may have come
		// online since the router looked, its "online" kick finding
		// nothing yet. A run for an offline account just ends.
		in.kickOutbox(r.Account)
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
	return in.sendOne(ctx, id, false)
}

// directChat picks the network chat of a 1:1 route: the chat named like the
// peer (XMPP, WhatsApp), else the one chat of that account that is not the
// address of one of the person's identities (a Matrix DM room). When the
// person has several such rooms on the account (two identities, each with
// a DM room), the room where this peer last wrote or was written to wins;
// without such evidence "" lets the connector resolve the peer rather than
// post into another identity's room.
func (in *Inbox) directChat(conv ConversationID, rc routeCtx, r Route) string {
	var cands []string
	for _, c := range rc.chatList {
		if c.account != r.Account {
			continue
		}
		if c.chat == r.To.ID {
			return c.chat
		}
		if !rc.addrs[string(r.Network)+":"+c.chat] {
			cands = append(cands, c.chat)
		}
	}
	switch len(cands) {
	case 0:
		return ""
	case 1:
		return cands[0]
	}
	var chat string
	args := []any{conv, r.Account, r.To.ID, r.To.ID}
	q := `SELECT chat_id FROM messages WHERE conversation_id = ? AND account = ? AND (sender = ? OR to_id = ?) AND chat_id IN (?` +
		strings.Repeat(", ?", len(cands)-1) + `) ORDER BY id DESC LIMIT 1`
	for _, c := range cands {
		args = append(args, c)
	}
	if err := in.db.QueryRow(q, args...).Scan(&chat); err != nil {
		return ""
	}
	return chat
}
