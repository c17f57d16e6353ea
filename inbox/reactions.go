package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxReactionsPerSender bounds the distinct reactions one sender keeps on
// one message. A peer decides what it sends (one XEP-0444 stanza may carry
// a thousand keys); this decides what we store. Reactions past it are
// dropped, and the drop is logged once.
const MaxReactionsPerSender = 20

// validReactionKey is the shape a stored reaction key has: short text
// without control characters (an emoji, or a few words on Matrix).
func validReactionKey(key string) bool {
	return key != "" && len(key) <= maxReactionKey && utf8.ValidString(key) &&
		strings.IndexFunc(key, unicode.IsControl) < 0
}

// addReaction stores one sender's reaction on a message. The same key
// twice is one row (the table's key); a malformed key, or a new key from a
// sender already at MaxReactionsPerSender on this message, is dropped.
func (g *ingester) addReaction(msg MessageID, key, sender string, mine bool) error {
	if !validReactionKey(key) {
		g.in.log.Debug().Int("bytes", len(key)).Msg("reaction key dropped: empty, too long or with control characters")
		return nil
	}
	res, err := g.exec(`INSERT OR IGNORE INTO reactions(message_id, key, sender, mine)
		SELECT ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM reactions WHERE message_id = ? AND sender = ?) < ?`,
		msg, key, sender, boolInt(mine), msg, sender, MaxReactionsPerSender)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var one int
	err = g.row(`SELECT 1 FROM reactions WHERE message_id = ? AND key = ? AND sender = ?`, msg, key, sender).Scan(&one)
	if err == nil {
		return nil // already there
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if g.in.reactCaps.first(msg, sender) {
		g.in.log.Warn().Int64("message", int64(msg)).Int("cap", MaxReactionsPerSender).
			Msg("a sender reached the reaction cap on a message; further reactions are dropped")
	}
	return nil
}

// reactionCaps remembers which (message, sender) pairs already logged the
// cap, so a thousand-reaction burst logs once. It forgets everything past
// a few hundred pairs: at worst a pair logs again, memory stays bounded.
type reactionCaps struct {
	mu   sync.Mutex
	seen map[reactionSlot]bool
}

type reactionSlot struct {
	msg    MessageID
	sender string
}

const reactionCapsRemembered = 256

// first says whether the pair reaches the cap for the first time.
func (c *reactionCaps) first(msg MessageID, sender string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := reactionSlot{msg, sender}
	if c.seen[s] {
		return false
	}
	if c.seen == nil || len(c.seen) >= reactionCapsRemembered {
		c.seen = map[reactionSlot]bool{}
	}
	c.seen[s] = true
	return true
}

// ownReactionRoom refuses a new reaction of the user's past the cap: the
// network would carry it, but the store would not keep it.
func (in *Inbox) ownReactionRoom(id MessageID, key string) error {
	var have, n int
	err := in.db.QueryRow(`SELECT COALESCE(SUM(key = ?), 0), COUNT(*) FROM reactions WHERE message_id = ? AND sender = ''`,
		key, id).Scan(&have, &n)
	if err != nil {
		return err
	}
	if have == 0 && n >= MaxReactionsPerSender {
		return fmt.Errorf("at most %d reactions of yours on one message: take one back first", MaxReactionsPerSender)
	}
	return nil
}
