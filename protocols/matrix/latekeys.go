package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Late room keys. A Megolm key often reaches us long after its messages
// (the sender's device was offline, a slow federation link, a key forwarded
// by our other device hours later). Each message that had no key is kept
// (ciphertext only, as the server holds it) in polyglot_matrix_undecrypted
// until the key for its session arrives, even across restarts, and is then
// re-emitted decrypted under the same event ID: the inbox replaces the
// "unable to decrypt" row with the text.

// undecryptedKeep bounds the table: the oldest entries beyond it are given
// up (they stay shown as undecryptable).
const undecryptedKeep = 2000

// keyGrace is how long a missing key may be in flight (the key and the
// message usually come in the same or the next sync) before the message is
// shown as undecryptable and the key is requested.
const keyGrace = 2 * time.Second

func (s *store) putUndecrypted(ctx context.Context, evt *event.Event) error {
	content := evt.Content.AsEncrypted()
	raw, err := json.Marshal(evt)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO polyglot_matrix_undecrypted(event_id, room_id, session_id, event)
		VALUES(?, ?, ?, ?)`, evt.ID.String(), evt.RoomID.String(), content.SessionID.String(), raw); err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `DELETE FROM polyglot_matrix_undecrypted WHERE rowid NOT IN
		(SELECT rowid FROM polyglot_matrix_undecrypted ORDER BY rowid DESC LIMIT ?)`, undecryptedKeep)
	return err
}

// undecrypted returns the waiting events of one session (all, if session is
// empty), oldest first.
func (s *store) undecrypted(ctx context.Context, room id.RoomID, session id.SessionID) ([]*event.Event, error) {
	q, args := `SELECT event FROM polyglot_matrix_undecrypted WHERE room_id=? AND session_id=? ORDER BY rowid`, []any{room.String(), session.String()}
	if session == "" {
		q, args = `SELECT event FROM polyglot_matrix_undecrypted ORDER BY rowid`, nil
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*event.Event
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var evt event.Event
		if json.Unmarshal(raw, &evt) != nil || evt.Content.ParseRaw(event.EventEncrypted) != nil {
			continue
		}
		evt.Type.Class = event.MessageEventType
		out = append(out, &evt)
	}
	return out, rows.Err()
}

func (s *store) isUndecrypted(ctx context.Context, evtID id.EventID) bool {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1 FROM polyglot_matrix_undecrypted WHERE event_id=?`, evtID.String()).Scan(&one) == nil
}

// dropUndecrypted removes the entry and says whether it was still there, so
// of two retries racing for one event only one emits it.
func (s *store) dropUndecrypted(ctx context.Context, evtID id.EventID) bool {
	res, err := s.db.ExecContext(ctx, `DELETE FROM polyglot_matrix_undecrypted WHERE event_id=?`, evtID.String())
	if err != nil {
		return false
	}
	n, _ := res.RowsAffected()
	return n == 1
}

// decrypt decrypts evt. Without its key, the event waits: after a short
// grace it is shown as undecryptable, the key is requested from the sender
// and our other devices, and onSession re-emits it when the key arrives.
func (c *Connector) decrypt(ctx context.Context, evt *event.Event) *event.Event {
	dec, err := c.mach.DecryptMegolmEvent(ctx, evt)
	if err == nil {
		return dec
	}
	if errors.Is(err, crypto.ErrDuplicateMessageIndex) {
		// The ciphertext of an earlier event again, under a new event ID:
		// a sender's retry after the server lost its transaction record
		// (Dendrite keeps them in memory), or a replay. Either way not a
		// new message, and no "unable to decrypt" row either.
		c.log.Info().Str("event_id", evt.ID.String()).Msg("replayed Megolm ciphertext of an earlier event: not shown")
		return nil
	}
	if !waitsForKey(err) {
		c.emitLocked(ctx, evt, "could not decrypt: "+err.Error())
		return nil
	}
	if err := c.st.putUndecrypted(ctx, evt); err != nil {
		c.log.Warn().Err(err).Str("event_id", evt.ID.String()).Msg("cannot keep undecryptable event for a later key")
	}
	content := evt.Content.AsEncrypted()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		bg := c.backgroundCtx()
		if c.mach.WaitForSession(bg, evt.RoomID, content.SenderKey, content.SessionID, keyGrace) {
			c.retryUndecrypted(bg, evt.RoomID, content.SessionID)
		}
		if bg.Err() != nil || !c.st.isUndecrypted(bg, evt.ID) {
			return
		}
		c.emitLocked(bg, evt, "waiting for the sender's keys")
		c.cli.Crypto.RequestSession(bg, evt.RoomID, content.SenderKey, content.SessionID, evt.Sender, content.DeviceID)
	}()
	return nil
}

// onSession is the OlmMachine's SessionReceived hook: a Megolm key was
// stored (room key, forwarded key, backup or import).
func (c *Connector) onSession(ctx context.Context, room id.RoomID, session id.SessionID, _ uint32) {
	c.retryUndecrypted(ctx, room, session)
}

// retryUndecrypted decrypts the waiting events of a session (every session
// if empty) and emits each one that now decrypts. An event whose key is
// still missing, or only known from a later index than the event's, keeps
// waiting for a better key.
func (c *Connector) retryUndecrypted(ctx context.Context, room id.RoomID, session id.SessionID) {
	evts, err := c.st.undecrypted(ctx, room, session)
	if err != nil {
		c.log.Warn().Err(err).Msg("reading events waiting for keys")
		return
	}
	for _, evt := range evts {
		dec, err := c.mach.DecryptMegolmEvent(ctx, evt)
		switch {
		case err == nil:
			if c.st.dropUndecrypted(ctx, evt.ID) {
				c.dispatchDecrypted(ctx, dec)
			}
		case waitsForKey(err):
			// still waiting
		case errors.Is(err, crypto.ErrDuplicateMessageIndex):
			c.st.dropUndecrypted(ctx, evt.ID) // a replay (see decrypt)
		default:
			if c.st.dropUndecrypted(ctx, evt.ID) {
				c.emitLocked(ctx, evt, "could not decrypt: "+err.Error())
			}
		}
	}
}

// waitsForKey: the error goes away with a (better) key for the session.
func waitsForKey(err error) bool {
	return errors.Is(err, crypto.ErrNoSessionFound) || errors.Is(err, olm.ErrUnknownMessageIndex)
}

// emitLocked shows evt as an undecryptable message, unless its cleartext
// m.relates_to says it is an edit or a reaction: those change another
// message and get no row of their own, so a lock row would only be noise
// that stays after the key comes.
func (c *Connector) emitLocked(ctx context.Context, evt *event.Event, why string) {
	if !standsAlone(evt) {
		return
	}
	c.emitUndecryptable(ctx, evt, why)
}

func standsAlone(evt *event.Event) bool {
	enc, ok := evt.Content.Parsed.(*event.EncryptedEventContent)
	if !ok || enc.RelatesTo == nil {
		return true
	}
	return enc.RelatesTo.Type != event.RelReplace && enc.RelatesTo.Type != event.RelAnnotation
}
