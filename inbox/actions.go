package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"polyglot/protocols"
)

// Acting on one stored message: edit, react, retract, download. Each goes
// through the account the message travelled on (a network ID means
// nothing elsewhere), never into a conversation still waiting for the
// user's consent, and then applies the change locally through the same
// ingest path the network's echo takes, so the view updates at once and
// the echo finds nothing left to do.

// ErrNotOnNetwork refuses an action on a message the network has not
// acknowledged yet (queued or failed): there is nothing to point at.
var ErrNotOnNetwork = errors.New("message is not on the network yet")

// ErrNotOwn refuses editing or deleting someone else's message.
var ErrNotOwn = errors.New("only your own messages can be changed")

// maxReactionKey bounds a reaction key (Matrix keys are cut at 64 bytes on
// the way in, too).
const maxReactionKey = 64

// target is a message ready to act on, with its chat and connector.
type target struct {
	msg  Message
	chat string
	conn protocols.Connector
}

// actionTarget loads message id and checks what every action needs:
// consent, a network ID, and the account's connector online.
func (in *Inbox) actionTarget(id MessageID, own bool) (target, error) {
	var t target
	m, err := in.Message(id)
	if err != nil {
		return t, err
	}
	t.msg = m
	if m.Kind != KindText {
		return t, fmt.Errorf("inbox: message %d is a notice, not a message", id)
	}
	if m.Deleted {
		return t, fmt.Errorf("inbox: message %d was deleted", id)
	}
	if own && !m.Outgoing {
		return t, fmt.Errorf("inbox: message %d: %w", id, ErrNotOwn)
	}
	if err := in.mayActIn(m); err != nil {
		return t, err
	}
	if m.NetworkID == "" {
		return t, fmt.Errorf("inbox: message %d: %w", id, ErrNotOnNetwork)
	}
	if err := in.db.QueryRow(`SELECT chat_id FROM messages WHERE id = ?`, id).Scan(&t.chat); err != nil {
		return t, err
	}
	if t.chat == "" {
		t.chat = m.Sender.ID
	}
	c, online := in.connector(m.Account)
	if c == nil || !online {
		return t, fmt.Errorf("inbox: %s account %s: %w", NetworkName(m.Network), m.Account, protocols.ErrNotConnected)
	}
	t.conn = c
	return t, nil
}

// mayActIn says whether the user may act on m: never inside a request not
// accepted (or a blocked conversation), and on an incoming 1:1 message
// only when its sender is accepted — acting is a reply of sorts.
func (in *Inbox) mayActIn(m Message) error {
	conv, err := in.Conversation(m.Conversation)
	if err != nil {
		return err
	}
	var hidden int
	if err := in.db.QueryRow(`SELECT hidden FROM conversations WHERE id = ?`, m.Conversation).Scan(&hidden); err != nil {
		return err
	}
	if conv.Request || hidden == 1 {
		return fmt.Errorf("inbox: %s: %w", conv.Title, ErrRequestPending)
	}
	if conv.Kind == Direct && !m.Outgoing && m.Sender.ID != "" &&
		!in.identityAccepted(protocols.Address{Network: m.Network, ID: m.Sender.ID}) {
		return fmt.Errorf("inbox: %s: %w", conv.Title, ErrRequestPending)
	}
	return nil
}

func unsupported(m Message, what string) error {
	return fmt.Errorf("inbox: %s on %s: %w", what, NetworkName(m.Network), protocols.ErrUnsupported)
}

// Edit sends a correction of one of the user's own messages through the
// account it went out on, and shows it at once: Send with EditOf, so the
// route plan's downgrade rule holds for edits too.
func (in *Inbox) Edit(ctx context.Context, id MessageID, body string) error {
	m, err := in.Message(id)
	if err != nil {
		return err
	}
	_, err = in.Send(ctx, SendRequest{Conversation: m.Conversation, Body: body, EditOf: id})
	return err
}

// sendEdit carries out an edit's plan and records the encryption the
// correction actually travelled with: the text shown is the edit's.
func (in *Inbox) sendEdit(ctx context.Context, id MessageID, body string, p RoutePlan) (Message, error) {
	t, err := in.actionTarget(id, true)
	if err != nil {
		return Message{}, err
	}
	ed, ok := t.conn.(protocols.Editor)
	if !ok || !t.conn.Capabilities().Edits {
		return Message{}, unsupported(t.msg, "editing")
	}
	res, err := ed.Edit(ctx, protocols.ChatID(t.chat), protocols.MessageID(t.msg.NetworkID), protocols.ClientID(in.opts.NewID()), body)
	if err != nil {
		return Message{}, fmt.Errorf("inbox: edit: %w", err)
	}
	if err := in.Ingest(t.msg.Account, protocols.EditEvent{Chat: protocols.ChatID(t.chat), TargetID: protocols.MessageID(t.msg.NetworkID),
		NetworkID: res.NetworkID, Body: body, At: in.now()}); err != nil {
		return Message{}, err
	}
	if res.Encryption < p.Route.Encryption {
		in.log.Error().Int64("message", int64(id)).Str("account", t.msg.Account).Msg("connector edited weaker than planned")
	}
	err = in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE messages SET encryption = ?, notice = CASE WHEN ? <> '' THEN ? ELSE notice END WHERE id = ?`,
			int(res.Encryption), p.Notice, p.Notice, id)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("inbox: record edit: %w", err)
	}
	in.publish(Change{Kind: ChangeMessages, Conversation: t.msg.Conversation})
	return in.Message(id)
}

// React sets (or, with remove, takes back) the user's reaction key on a
// message through the account it travelled on.
func (in *Inbox) React(ctx context.Context, id MessageID, key string, remove bool) error {
	key = strings.TrimSpace(key)
	switch {
	case key == "":
		return errors.New("inbox: empty reaction")
	case len(key) > maxReactionKey || !utf8.ValidString(key) || strings.IndexFunc(key, unicode.IsControl) >= 0:
		return fmt.Errorf("inbox: a reaction is one emoji or short text (at most %d bytes, no control characters)", maxReactionKey)
	}
	t, err := in.actionTarget(id, false)
	if err != nil {
		return err
	}
	if !remove {
		if err := in.ownReactionRoom(id, key); err != nil {
			return err
		}
	}
	re, ok := t.conn.(protocols.Reactor)
	if !ok || !t.conn.Capabilities().Reactions {
		return unsupported(t.msg, "reactions")
	}
	if err := re.React(ctx, protocols.ChatID(t.chat), protocols.MessageID(t.msg.NetworkID), key, remove); err != nil {
		return fmt.Errorf("inbox: react: %w", err)
	}
	return in.Ingest(t.msg.Account, protocols.ReactionEvent{Chat: protocols.ChatID(t.chat), TargetID: protocols.MessageID(t.msg.NetworkID),
		Key: key, Remove: remove, At: in.now()})
}

// Retract deletes one of the user's own messages for everyone, through the
// account it went out on; the local copy loses its text at once.
func (in *Inbox) Retract(ctx context.Context, id MessageID) error {
	t, err := in.actionTarget(id, true)
	if err != nil {
		return err
	}
	rt, ok := t.conn.(protocols.Retractor)
	if !ok || !t.conn.Capabilities().Retractions {
		return unsupported(t.msg, "deleting")
	}
	if err := rt.Retract(ctx, protocols.ChatID(t.chat), protocols.MessageID(t.msg.NetworkID)); err != nil {
		return fmt.Errorf("inbox: delete: %w", err)
	}
	return in.Ingest(t.msg.Account, protocols.DeleteEvent{Chat: protocols.ChatID(t.chat), TargetID: protocols.MessageID(t.msg.NetworkID), At: in.now()})
}

// Download fetches attachment index of message id into the download
// directory and returns the file's path. A file downloaded before (and
// still there) is reused. Attachments of a request not accepted stay on
// the server: fetching them would tell the sender's server we looked.
func (in *Inbox) Download(ctx context.Context, id MessageID, index int) (string, error) {
	dir := in.opts.DownloadDir
	if dir == "" {
		return "", errors.New("inbox: no download directory configured")
	}
	m, err := in.Message(id)
	if err != nil {
		return "", err
	}
	if index < 0 || index >= len(m.Attachments) {
		return "", fmt.Errorf("inbox: message %d has no attachment %d: %w", id, index+1, ErrNotFound)
	}
	if err := in.mayActIn(m); err != nil {
		return "", err
	}
	var have string
	err = in.db.QueryRow(`SELECT path FROM downloads WHERE message_id = ? AND idx = ?`, id, index).Scan(&have)
	switch {
	case err == nil:
		if st, serr := os.Lstat(have); serr == nil && st.Mode().IsRegular() && inDir(dir, have) {
			return have, nil
		}
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	}
	c, online := in.connector(m.Account)
	if c == nil || !online {
		return "", fmt.Errorf("inbox: %s account %s: %w", NetworkName(m.Network), m.Account, protocols.ErrNotConnected)
	}
	dl, ok := c.(protocols.Downloader)
	if !ok {
		return "", unsupported(m, "downloading attachments")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("inbox: download directory: %w", err)
	}
	path, err := dl.Download(ctx, m.Attachments[index], dir)
	if err != nil {
		return "", fmt.Errorf("inbox: download: %w", err)
	}
	// The connector promised a safe name inside dir; a broken promise
	// must not hand the opener a file elsewhere.
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() || !inDir(dir, path) || !SafeFileName(filepath.Base(path)) {
		return "", fmt.Errorf("inbox: download: the %s connector saved the attachment outside %s or under an unsafe name", NetworkName(m.Network), dir)
	}
	if err := in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO downloads(message_id, idx, path) VALUES (?, ?, ?)
			ON CONFLICT(message_id, idx) DO UPDATE SET path = excluded.path`, id, index, path)
		return err
	}); err != nil {
		return "", fmt.Errorf("inbox: record download: %w", err)
	}
	in.log.Info().Int64("message", int64(id)).Str("account", m.Account).Msg("attachment downloaded")
	return path, nil
}

// inDir says whether path lies directly in dir.
func inDir(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	return err1 == nil && err2 == nil && filepath.Dir(p) == d
}

// SafeFileName says whether name is a file name a remote party may have
// chosen without harm: no separators, not "." or "..", no hidden dot
// file, no control or format characters (which can disguise an extension,
// e.g. U+202E), valid UTF-8.
func SafeFileName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
