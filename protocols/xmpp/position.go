package xmpp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"polyglot/protocols"
)

// Catch-up positions. The rule (see doc.go): a position only ever names an
// archive ID up to which every message is in the consumer's store. So it
// moves only through a CheckpointEvent emitted after the events it covers
// and committed by the consumer once they are stored; and live messages
// move it only after this session's catch-up reached the archive's end —
// before that, a live stanza-id lies past a range not fetched yet.

// posStart is the catch-up position "from the beginning of the archive".
const posStart = "^"

// catchUp fetches everything our archive got after from (the stored
// position if from is "") and returns the position it reached. A first run
// fetches only the newest page (firstLogin). It returns an error if the
// archive's end was not reached; the position then stays where the last
// stored page left it. final marks the pass after presence went out: only
// it may declare the archive caught up (see afterLogin).
func (c *Connector) catchUp(ctx context.Context, sess *mxmpp.Session, from string, final bool) (string, error) {
	pos := from
	if pos == "" {
		c.mu.Lock()
		pos = c.mamPos
		c.mu.Unlock()
	}
	if pos == "" {
		return c.firstLogin(ctx, sess)
	}
	for pages := 0; pages < 200; pages++ { // at most 20 000 messages per catch-up
		set := rsmSet{Max: 100}
		if pos != posStart {
			set.After = strp(pos)
		}
		items, fin, err := c.mamPage(ctx, sess, jid.JID{}, "", set)
		if err != nil {
			var se stanza.Error
			if errors.As(err, &se) && se.Condition == stanza.ItemNotFound && pages == 0 && !final {
				// The position expired from the archive: nothing older
				// can be fetched, so start again from now.
				c.log.Warn().Err(err).Msg("MAM position unknown to server; restarting from now")
				c.mu.Lock()
				c.mamPos = ""
				c.mu.Unlock()
				return c.firstLogin(ctx, sess)
			}
			return pos, err
		}
		c.emitArchived(items, nil, nil)
		if fin.Last != "" {
			pos = fin.Last
			c.emit(c.checkpoint("", pos))
		}
		if fin.Complete || len(items) == 0 {
			if final {
				c.setCaughtUp(nil)
			}
			return pos, nil
		}
	}
	// Still not at the end: live messages leave the position alone and
	// the next connect goes on from the last stored page.
	c.log.Warn().Msg("MAM catch-up stopped after 20 000 messages; the rest follows on the next connect")
	return pos, nil
}

// firstLogin fills recent history on an account's first run. The newest
// page is emitted, and becomes the position, before the login completes,
// so the pass after presence follows it without a gap; older pages, back
// to HistoryDays or HistoryMessages, come in the background while the
// account is online. An interrupted backfill is not resumed: the rest is
// older than the position and loads on demand (FetchHistory).
func (c *Connector) firstLogin(ctx context.Context, sess *mxmpp.Session) (string, error) {
	items, fin, err := c.mamPage(ctx, sess, jid.JID{}, "", rsmSet{Max: 100, Before: strp("")})
	if err != nil {
		return "", err
	}
	chats := map[protocols.ChatID]bool{}
	c.emitArchived(items, nil, chats)
	pos := fin.Last
	if pos == "" {
		pos = posStart // empty archive: next time, read it from the start
	}
	c.emit(c.checkpoint("", pos))
	if !fin.Complete && fin.First != "" && len(items) > 0 {
		// Started once the login is through (afterLogin), so its queries
		// do not queue before the login's own on the server.
		first, n, floor := fin.First, len(items), items[0].fwd.Delay.time()
		c.mu.Lock()
		c.backfillNext = func() { go c.backfill(sess, first, n, floor, chats) }
		c.mu.Unlock()
	}
	return pos, nil
}

// backfill pages our archive backwards from before, oldest-bound by the
// configured history depth, and reports its progress as it goes (chats:
// the conversations the newest page already touched).
func (c *Connector) backfill(sess *mxmpp.Session, before string, fetched int, floor time.Time, chats map[protocols.ChatID]bool) {
	ctx, cancel := c.linked(context.Background())
	defer cancel()
	days, most := c.cfg.HistoryDays, c.cfg.HistoryMessages
	if days <= 0 {
		days = defaultHistoryDays
	}
	if most <= 0 {
		most = defaultHistoryMsgs
	}
	progress := func(done bool) {
		c.emit(protocols.HistoryProgressEvent{Messages: fetched, Limit: most, Chats: len(chats), Done: done})
	}
	defer progress(true)
	progress(false)
	since := time.Now().AddDate(0, 0, -days)
	for fetched < most {
		items, fin, err := c.mamPage(ctx, sess, jid.JID{}, "", rsmSet{Max: min(100, most-fetched), Before: strp(before)})
		if err != nil {
			c.log.Info().Err(err).Int("messages", fetched).Msg("first-login history stopped; older messages load on demand")
			return
		}
		var keep []mamItem
		for _, it := range items {
			if it.fwd.Delay.time().IsZero() || !it.fwd.Delay.time().Before(since) {
				keep = append(keep, it)
			}
		}
		stamps := make([]time.Time, len(keep))
		for i, it := range keep {
			stamps[i] = it.fwd.Delay.time()
		}
		stamps, floor = protocols.OlderThan(stamps, floor)
		c.emitArchived(keep, stamps, chats)
		fetched += len(keep)
		if fin.Complete || fin.First == "" || len(items) == 0 || len(keep) < len(items) {
			break
		}
		progress(false)
		before = fin.First
	}
	c.log.Info().Int("messages", fetched).Int("chats", len(chats)).Msg("first-login history fetched")
}

// emitArchived emits archive results (oldest first) as historical events,
// stamped with stamps if given, else with their delay stamps; chats, if
// given, collects the conversations they belong to.
func (c *Connector) emitArchived(items []mamItem, stamps []time.Time, chats map[protocols.ChatID]bool) {
	for i, it := range items {
		stamp := it.fwd.Delay.time()
		if stamps != nil {
			stamp = stamps[i]
		}
		for _, ev := range c.convert(it.fwd.Message, false, true, it.id, stamp) {
			if me, ok := ev.(protocols.MessageEvent); ok && chats != nil {
				chats[me.Message.Chat.ID] = true
			}
			c.emit(ev)
		}
	}
}

// roomCatchUp pages the room's archive after since, oldest first. Until it
// reaches the end, live room messages do not move the room's position.
func (c *Connector) roomCatchUp(ctx context.Context, sess *mxmpp.Session, r *room, since string) error {
	ctx, cancel := c.linked(ctx)
	defer cancel()
	pos := since
	key := r.jid.String()
	for pages := 0; pages < 50; pages++ { // at most 5 000 messages per room
		items, fin, err := c.mamPage(ctx, sess, r.jid, "", rsmSet{Max: 100, After: strp(pos)})
		if err != nil {
			var se stanza.Error
			if errors.As(err, &se) {
				// The room keeps no archive, or not back to our position:
				// what comes live is all there is.
				c.setCaughtUp(r)
			}
			return err
		}
		for _, it := range items {
			m := it.fwd.Message
			if m.Type == "" {
				m.Type = "groupchat"
			}
			for _, ev := range c.convert(m, false, true, it.id, it.fwd.Delay.time()) {
				c.emit(ev)
			}
		}
		if fin.Last != "" {
			pos = fin.Last
			c.emit(c.checkpoint(key, pos))
		}
		if fin.Complete || len(items) == 0 {
			c.setCaughtUp(r)
			return nil
		}
	}
	return nil
}

// noArchive tells a server without MAM (nothing to catch up from) from a
// catch-up that was cut short.
func noArchive(err error) bool {
	var se stanza.Error
	return errors.As(err, &se) && (se.Condition == stanza.ServiceUnavailable || se.Condition == stanza.FeatureNotImplemented)
}

// setCaughtUp marks our archive (r nil) or room r as caught up for this
// session.
func (c *Connector) setCaughtUp(r *room) {
	c.mu.Lock()
	if r == nil {
		c.caughtUp = true
	} else {
		r.caughtUp = true
	}
	c.mu.Unlock()
}

// liveCheckpoint returns the checkpoint a live message with stanza-id netID
// carries, if it may move a position: a 1:1 message (or carbon) once our
// archive is caught up and carbons show us every message; a room message
// (live or join history) once that room is caught up. Archive results
// (archiveID set) are covered by their page's checkpoint.
func (c *Connector) liveCheckpoint(r *room, group, historical bool, archiveID, netID string) (protocols.CheckpointEvent, bool) {
	if archiveID != "" {
		return protocols.CheckpointEvent{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !group && !historical && c.caughtUp && c.carbons:
		return c.checkpoint("", netID), true
	case group && r != nil && r.caughtUp:
		return c.checkpoint(r.jid.String(), netID), true
	}
	return protocols.CheckpointEvent{}, false
}

// checkpoint makes the event that, once committed, stores pos as the
// position of our archive (room "") or of room.
func (c *Connector) checkpoint(room, pos string) protocols.CheckpointEvent {
	return protocols.CheckpointEvent{Commit: func() {
		c.mu.Lock()
		if room == "" {
			c.mamPos = pos
		} else {
			c.roomPos[room] = pos
		}
		c.mu.Unlock()
		c.savePos()
	}}
}

// The positions are not secrets; they are kept in DataDir so a restart
// resumes where the last run's store ends. First line: our archive's
// position; then one "room<TAB>room stanza-id" line per room.
func (c *Connector) posFile() string {
	if c.cfg.DataDir == "" {
		return ""
	}
	name := strings.NewReplacer("/", "_", "@", "_at_").Replace(c.me.String())
	return filepath.Join(c.cfg.DataDir, "xmpp-mam-"+name)
}

func (c *Connector) loadPos() (string, map[string]string) {
	rooms := map[string]string{}
	f := c.posFile()
	if f == "" {
		return "", rooms
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return "", rooms
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for _, l := range lines[1:] {
		if room, last, ok := strings.Cut(l, "\t"); ok && room != "" && last != "" {
			rooms[room] = last
		}
	}
	return strings.TrimSpace(lines[0]), rooms
}

// savePos writes the stored positions (atomically: a crash leaves the old
// file or the new one, both true).
func (c *Connector) savePos() {
	f := c.posFile()
	if f == "" {
		return
	}
	c.mu.Lock()
	var b strings.Builder
	b.WriteString(c.mamPos + "\n")
	for k, pos := range c.roomPos {
		b.WriteString(k + "\t" + pos + "\n")
	}
	c.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		c.log.Warn().Err(err).Msg("MAM position not saved")
		return
	}
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err == nil {
		_ = os.Rename(tmp, f)
	}
}
