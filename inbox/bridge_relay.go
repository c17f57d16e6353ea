package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"polyglot/protocols"
)

// Queue item kinds (bridge_queue.kind).
const (
	relayMessage = iota + 1
	relayEdit
	relayDelete
	relayReact
	relayUnreact
)

// relayTag marks a send the bridge makes: the relayed copy of src (0 for a
// notice) for link, consuming queue row seq. Send stores the mapping in
// the transaction that stores the copy.
type relayTag struct {
	link int64
	src  MessageID
	seq  int64
	// side is the leg the message goes into (for a notice).
	side int
	// notice: the link's notice into leg side.
	notice bool
}

// relayPrefix matches the attribution a bridge of ours puts before a
// relayed body: "name (Network · class): ". A message starting with it
// was relayed already and is never relayed again, whoever's bridge
// posted it (so two users' bridges over the same pair do not amplify).
var relayPrefix = regexp.MustCompile(`^[^\n]{1,80} \((Matrix|XMPP|WhatsApp|demo) · [^)\n]{1,24}\): `)

// bridgeTag starts every line a bridge of ours posts itself (notices,
// answers to !stop): never relayed, whoever's bridge posted it.
const bridgeTag = "[Polyglot bridge]"

// relayed says whether body was posted by a bridge: a relay or a
// bridge's own line.
func relayed(body string) bool {
	return strings.HasPrefix(body, bridgeTag) || relayPrefix.MatchString(body)
}

// attribution is the prefix of a message relayed from leg net with class
// enc: the original sender's name, network and the class of the leg it
// left on.
func attribution(name string, net protocols.Network, enc protocols.Encryption) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '(' || r == ')' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64]) + "…"
	}
	if name == "" {
		name = "someone"
	}
	return fmt.Sprintf("%s (%s · %s): ", name, NetworkName(net), enc.Label())
}

// accountAddress is the address part of a default account ID
// ("xmpp:alice@example.org"), else the ID itself.
func accountAddress(account string) string {
	_, addr := splitNetwork(account)
	return addr
}

// errPaused: the item cannot go now (an account is offline, a leg would
// go weaker); it stays at the head of its link's queue.
type errPaused struct{ why string }

func (e errPaused) Error() string { return e.why }

// bridgePausedRetry is how often a paused link looks again on its own
// (a leg's class can come back without any event saying so).
var bridgePausedRetry = 30 * time.Second

// bridgeLoop relays queued items whenever something may have changed.
func (in *Inbox) bridgeLoop() {
	defer in.wg.Done()
	retry := time.NewTimer(bridgePausedRetry)
	defer retry.Stop()
	for {
		select {
		case <-in.ctx.Done():
			return
		case <-in.bridge.kick:
		case <-retry.C:
		}
		if in.hasLinks() {
			in.relayPass(in.ctx)
		}
		retry.Reset(bridgePausedRetry)
	}
}

type queueItem struct {
	seq, link  int64
	side, kind int
	msg        MessageID
	key        string
}

// relayPass works through the queue in order; a link's leg that cannot go
// now keeps its items (and the order) for a later pass.
func (in *Inbox) relayPass(ctx context.Context) {
	rows, err := in.db.QueryContext(ctx, `SELECT seq, link_id, side, kind, message_id, key FROM bridge_queue ORDER BY seq LIMIT 500`)
	if err != nil {
		in.log.Error().Err(err).Msg("bridge queue not read")
		return
	}
	var items []queueItem
	for rows.Next() {
		var q queueItem
		if err := rows.Scan(&q.seq, &q.link, &q.side, &q.kind, &q.msg, &q.key); err != nil {
			rows.Close()
			return
		}
		items = append(items, q)
	}
	rows.Close()
	blocked := map[[2]int64]bool{}
	paused := map[int64]string{}
	for _, q := range items {
		if ctx.Err() != nil {
			return
		}
		k := [2]int64{q.link, int64(q.side)}
		if blocked[k] {
			continue
		}
		in.mu.Lock()
		l := in.bridge.links[q.link]
		var lc linkRow
		if l != nil {
			lc = *l
		}
		in.mu.Unlock()
		if l == nil {
			continue // removed meanwhile: its rows went with it
		}
		err := in.relayItem(ctx, lc, q)
		var p errPaused
		switch {
		case errors.As(err, &p):
			blocked[k] = true
			paused[q.link] = p.why
			continue
		case err != nil:
			in.log.Warn().Err(err).Int64("link", q.link).Int("kind", q.kind).Msg("bridge item dropped")
		}
		// Items Send did not consume (dropped, edits, reactions) leave here.
		if err := in.write(func(tx *sql.Tx) error {
			_, err := tx.Exec(`DELETE FROM bridge_queue WHERE seq = ?`, q.seq)
			return err
		}); err != nil {
			in.log.Error().Err(err).Msg("bridge queue not updated")
			return
		}
	}
	in.mu.Lock()
	changed := len(paused) != len(in.bridge.paused)
	for id, why := range paused {
		changed = changed || in.bridge.paused[id] != why
	}
	in.bridge.paused = paused
	in.mu.Unlock()
	if changed {
		in.publish(Change{Kind: ChangeBridges})
	}
	if len(items) == 500 && len(blocked) == 0 {
		in.kickBridge()
	}
}

// legRoute is the route a relay into leg s takes, if it may go now: its
// account online and the leg no weaker than when the user linked it.
func (in *Inbox) legRoute(l linkRow, s int) (Route, error) {
	r, err := in.routeOf(l.leg(s))
	switch {
	case errors.Is(err, ErrNoRoute):
		return r, errPaused{fmt.Sprintf("no account of yours reaches %s on %s now", l.addr[s], NetworkName(l.network[s]))}
	case err != nil:
		return r, err
	case !r.Online:
		return r, errPaused{NetworkName(r.Network) + " is offline"}
	case r.Encryption < l.enc[s]:
		return r, errPaused{fmt.Sprintf("%s would go %s, weaker than the %s it was linked with", NetworkName(r.Network),
			r.Encryption.Label(), l.enc[s].Label())}
	}
	return r, nil
}

func (in *Inbox) relayItem(ctx context.Context, l linkRow, q queueItem) error {
	src := q.side
	dst := 1 - src
	m, err := in.Message(q.msg)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if q.kind != relayMessage {
		return in.relayChange(ctx, l, q, m)
	}
	if m.Deleted || m.Kind != KindText {
		return nil
	}
	if !m.Outgoing {
		handled, err := in.memberGate(ctx, l, src, m)
		if err != nil || handled {
			return err
		}
	}
	r, err := in.legRoute(l, dst)
	if err != nil {
		return err
	}
	name, from := m.SenderName, m.Sender.ID
	if m.Outgoing {
		name, from = accountAddress(m.Account), accountAddress(m.Account)
	}
	if name == "" {
		name = from
	}
	body := attribution(name, m.Network, m.Encryption) + m.Body
	req := SendRequest{Conversation: l.conv[dst], Body: body, Route: &r, AllowDowngrade: true,
		relay: &relayTag{link: l.id, src: m.ID, seq: q.seq, side: dst}}
	if m.ReplyTo != "" {
		req.ReplyTo = in.counterpartByNetworkID(l, src, m.ReplyTo)
	}
	if len(m.Attachments) > 0 {
		// An upload the leg's server could read is weaker than the leg.
		if fe := in.fileEncryption(r); fe < l.enc[dst] {
			return errPaused{fmt.Sprintf("a file on %s would go %s, weaker than the %s it was linked with", NetworkName(r.Network),
				fe.Label(), l.enc[dst].Label())}
		}
		// The file goes as a file, downloaded (and decrypted) here only.
		path, err := in.Download(ctx, m.ID, 0)
		if err != nil {
			if transient(err) {
				return errPaused{"the attachment cannot be fetched now"}
			}
			req.Body += "\n[attachment " + m.Attachments[0].Name + " could not be relayed]"
		} else {
			req.File = path
		}
	}
	_, err = in.Send(ctx, req)
	var down *DowngradeError
	switch {
	case errors.As(err, &down):
		return errPaused{"a relay would go weaker than its leg"}
	case errors.Is(err, ErrNoRoute):
		return errPaused{err.Error()}
	}
	if err != nil && in.queued(q.seq) {
		return err // not stored: dropped with a log line, never sent twice
	}
	return nil // stored (sent, queued or failed visibly): Send consumed the item
}

// queued reports whether a queue row is still there.
func (in *Inbox) queued(seq int64) bool {
	var n int
	_ = in.db.QueryRow(`SELECT count(*) FROM bridge_queue WHERE seq = ?`, seq).Scan(&n)
	return n > 0
}

// counterpartByNetworkID is the copy, on the other leg, of the message
// netID names on leg s (0: none).
func (in *Inbox) counterpartByNetworkID(l linkRow, s int, netID string) MessageID {
	var id MessageID
	if err := in.db.QueryRow(`SELECT id FROM messages WHERE conversation_id = ? AND (network_id = ? OR client_id = ?) LIMIT 1`,
		l.conv[s], netID, netID).Scan(&id); err != nil {
		return 0
	}
	other, _ := in.counterpart(l.id, id)
	return other
}

// counterpart is the other copy of message id over link: its relay when
// id is a source, its source when id is a relay.
func (in *Inbox) counterpart(link int64, id MessageID) (other MessageID, isSource bool) {
	err := in.db.QueryRow(`SELECT dst, 1 FROM bridge_map WHERE link_id = ? AND src = ?
		UNION ALL SELECT src, 0 FROM bridge_map WHERE link_id = ? AND dst = ? LIMIT 1`, link, id, link, id).Scan(&other, &isSource)
	if err != nil {
		return 0, false
	}
	return other, isSource
}

// relayChange carries an edit, delete or reaction over to the other copy.
// Edits and deletes follow a source to its relay only; reactions go both
// ways (a reaction on a relayed copy reaches the original).
func (in *Inbox) relayChange(ctx context.Context, l linkRow, q queueItem, m Message) error {
	other, isSource := in.counterpart(l.id, m.ID)
	if other == 0 || (!isSource && q.kind != relayReact && q.kind != relayUnreact) {
		return nil
	}
	om, err := in.Message(other)
	if err != nil {
		return nil
	}
	into := 1 - q.side
	if _, err := in.legRoute(l, into); err != nil {
		return err
	}
	switch q.kind {
	case relayEdit:
		body := m.Body
		if p := relayPrefix.FindString(om.Body); p != "" {
			body = p + body
		}
		if om.State == StateQueued {
			return in.editQueued(om.ID, body)
		}
		err = in.Edit(ctx, om.ID, body)
	case relayDelete:
		if om.State == StateQueued {
			return in.dropQueued(om.ID)
		}
		err = in.Retract(ctx, om.ID)
	case relayReact, relayUnreact:
		err = in.React(ctx, om.ID, q.key, q.kind == relayUnreact)
	}
	if err != nil && transient(err) {
		return errPaused{NetworkName(om.Network) + " is offline"}
	}
	return err
}

// editQueued changes the text of a relay that has not left yet.
func (in *Inbox) editQueued(id MessageID, body string) error {
	err := in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE messages SET body = ? WHERE id = ? AND state = ?`, body, id, int(StateQueued))
		return err
	})
	if err == nil {
		in.publishMessage(id)
	}
	return err
}

// dropQueued takes back a relay that has not left yet: its source was
// deleted first.
func (in *Inbox) dropQueued(id MessageID) error {
	err := in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE messages SET deleted = 1, body = '', state = ?, fail_reason = 'deleted at its source before it was relayed'
			WHERE id = ? AND state = ?`, int(StateFailed), id, int(StateQueued))
		return err
	})
	if err == nil {
		in.publishMessage(id)
	}
	return err
}

func (in *Inbox) publishMessage(id MessageID) {
	if m, err := in.Message(id); err == nil {
		in.publish(Change{Kind: ChangeMessages, Conversation: m.Conversation})
	}
}
