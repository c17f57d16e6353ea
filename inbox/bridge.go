package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"polyglot/protocols"
)

// A client-side bridge links two conversations on different networks:
// each new message in one is relayed into the other by the user's own
// account there, on this device only. The queue, the message map and the
// links live in the store (migration 10); nothing about a link is told to
// any server beyond the notices posted into both conversations.

// BridgeLeg is one side of a link: a conversation pinned to one network
// and address (the peer of a 1:1 chat or the room of a group).
type BridgeLeg struct {
	Conversation ConversationID
	Network      protocols.Network
	Address      string
	Title        string               // raw
	Encryption   protocols.Encryption // what a message on this leg gets now
	Online       bool
}

// String names the leg as `bridge add` takes it.
func (l BridgeLeg) String() string { return string(l.Network) + ":" + l.Address }

// BridgeLink is one link as views show it.
type BridgeLink struct {
	ID   int64
	A, B BridgeLeg
	// Weakest is the weaker class of the two legs: what the link as a
	// whole protects.
	Weakest protocols.Encryption
	// Weaker: the user confirmed linking an end-to-end encrypted leg with
	// one that is not.
	Weaker  bool
	Created time.Time
	// State is "active", or why nothing is relayed now ("paused: …",
	// "waiting for the notices to go out").
	State string
	// Pending counts relays owed (paused links catch up from these).
	Pending int
}

// BridgePlan is what linking two legs would mean, shown before the user
// confirms.
type BridgePlan struct {
	A, B    BridgeLeg
	Weakest protocols.Encryption
	// NeedsConfirm: one leg is end-to-end encrypted and the other is not;
	// AddBridge refuses without allowWeaker.
	NeedsConfirm bool
}

var (
	// ErrBridgeCycle: the two conversations are already connected through
	// links; one more would relay messages around in a circle.
	ErrBridgeCycle = errors.New("the conversations are already connected through links (a cycle would relay messages in a circle)")
	// ErrBridgeWeaker: linking would relay end-to-end encrypted messages
	// onto a leg that is not; it needs the user's explicit yes.
	ErrBridgeWeaker = errors.New("linking would carry end-to-end encrypted messages onto a leg that is not end-to-end encrypted")
	// ErrBridgeSameNetwork: both legs are on one network.
	ErrBridgeSameNetwork = errors.New("both conversations are on the same network: link conversations on two networks")
)

// BridgeLegs lists the legs a conversation can be linked through: one per
// network and address its routes reach.
func (in *Inbox) BridgeLegs(conv ConversationID) ([]BridgeLeg, error) {
	rs, rc, err := in.routes(conv)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []BridgeLeg
	for _, r := range rs {
		l := BridgeLeg{Conversation: conv, Network: r.Network, Address: r.To.ID, Title: rc.title, Encryption: r.Encryption, Online: r.Online}
		if seen[l.String()] {
			continue
		}
		seen[l.String()] = true
		out = append(out, l)
	}
	return out, nil
}

// ResolveBridgeLeg turns an address as `bridge add` takes it into a leg:
// `@bob:server` or `matrix:!room:server`, `xmpp:carol@server`, a person's
// exact name (their best route).
func (in *Inbox) ResolveBridgeLeg(addr string) (BridgeLeg, error) {
	conv, err := in.FindConversation(addr)
	if err != nil {
		return BridgeLeg{}, err
	}
	return in.BridgeLegFor(conv, addr)
}

// BridgeLegFor is the leg of conv that addr names (the conversation's best
// route when addr is a name).
func (in *Inbox) BridgeLegFor(conv ConversationID, addr string) (BridgeLeg, error) {
	legs, err := in.BridgeLegs(conv)
	if err != nil {
		return BridgeLeg{}, err
	}
	if len(legs) == 0 {
		return BridgeLeg{}, fmt.Errorf("inbox: no account of yours reaches %q: %w", addr, ErrNoRoute)
	}
	_, id := splitNetwork(strings.TrimSpace(addr))
	for _, l := range legs {
		if l.Address == id {
			return l, nil
		}
	}
	return legs[0], nil
}

// leg re-reads a stored leg's title, class and reachability now.
func (in *Inbox) leg(conv ConversationID, net protocols.Network, addr string) BridgeLeg {
	l := BridgeLeg{Conversation: conv, Network: net, Address: addr}
	legs, err := in.BridgeLegs(conv)
	if err != nil {
		return l
	}
	for _, c := range legs {
		l.Title = c.Title
		if c.Network == net && c.Address == addr {
			return c
		}
	}
	return l
}

// PlanBridge says what linking a and b would mean, or why it cannot be.
func (in *Inbox) PlanBridge(a, b BridgeLeg) (BridgePlan, error) {
	p := BridgePlan{A: a, B: b, Weakest: min(a.Encryption, b.Encryption)}
	if a.Conversation == b.Conversation {
		return p, errors.New("inbox: a conversation cannot be linked with itself")
	}
	if a.Network == b.Network {
		return p, fmt.Errorf("inbox: %w", ErrBridgeSameNetwork)
	}
	connected, err := in.bridgeConnected(a.Conversation, b.Conversation)
	if err != nil {
		return p, err
	}
	if connected {
		return p, fmt.Errorf("inbox: %w", ErrBridgeCycle)
	}
	p.NeedsConfirm = a.Encryption.IsE2EE() != b.Encryption.IsE2EE()
	return p, nil
}

// bridgeConnected reports whether links already connect a and b, directly
// or through other conversations.
func (in *Inbox) bridgeConnected(a, b ConversationID) (bool, error) {
	rows, err := in.db.Query(`SELECT conv_a, conv_b FROM bridge_links`)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	next := map[ConversationID][]ConversationID{}
	for rows.Next() {
		var x, y ConversationID
		if err := rows.Scan(&x, &y); err != nil {
			return false, err
		}
		next[x] = append(next[x], y)
		next[y] = append(next[y], x)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	seen := map[ConversationID]bool{a: true}
	todo := []ConversationID{a}
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		for _, n := range next[c] {
			if n == b {
				return true, nil
			}
			if !seen[n] {
				seen[n] = true
				todo = append(todo, n)
			}
		}
	}
	return false, nil
}

// AddBridge links a and b. It posts a notice into both conversations
// (queued in each account's outbox, so it goes out before anything the
// bridge relays there); relaying starts once both notices are out.
// allowWeaker is the user's explicit yes to linking an end-to-end
// encrypted leg with one that is not (ErrBridgeWeaker without it).
func (in *Inbox) AddBridge(ctx context.Context, a, b BridgeLeg, allowWeaker bool) (BridgeLink, error) {
	// The classes as they are now, not as a plan shown earlier said: the
	// user's yes covers what is true when the link is made.
	for _, l := range []*BridgeLeg{&a, &b} {
		*l = in.leg(l.Conversation, l.Network, l.Address)
		c, err := in.Conversation(l.Conversation)
		if err != nil {
			return BridgeLink{}, err
		}
		if c.Request {
			// A notice would answer someone the user has not answered.
			return BridgeLink{}, fmt.Errorf("inbox: %s: %w (accept it first)", c.Title, ErrRequestPending)
		}
	}
	p, err := in.PlanBridge(a, b)
	if err != nil {
		return BridgeLink{}, err
	}
	if p.NeedsConfirm && !allowWeaker {
		return BridgeLink{}, fmt.Errorf("inbox: %w (%s on %s, %s on %s)", ErrBridgeWeaker,
			a.Encryption.Label(), NetworkName(a.Network), b.Encryption.Label(), NetworkName(b.Network))
	}
	var id int64
	err = in.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO bridge_links(conv_a, network_a, addr_a, conv_b, network_b, addr_b, enc_a, enc_b, weaker, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Conversation, string(a.Network), a.Address, b.Conversation, string(b.Network), b.Address,
			int(a.Encryption), int(b.Encryption), boolInt(p.NeedsConfirm), toNanos(in.now()))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return BridgeLink{}, fmt.Errorf("inbox: store link: %w", err)
	}
	in.log.Info().Int64("link", id).Str("a", string(a.Network)).Str("b", string(b.Network)).Bool("weaker", p.NeedsConfirm).Msg("bridge link added")
	for side, l := range []BridgeLeg{a, b} {
		other := b
		if side == 1 {
			other = a
		}
		if err := in.postLinkNotice(ctx, id, side, l, other); err != nil {
			in.log.Error().Err(err).Int64("link", id).Msg("bridge notice not stored")
			_ = in.RemoveBridge(id)
			return BridgeLink{}, fmt.Errorf("inbox: post the link's notice into %s: %w", l.Title, err)
		}
	}
	in.loadBridges()
	in.publish(Change{Kind: ChangeBridges}, Change{Kind: ChangeConversations})
	in.kickBridge()
	return in.Bridge(id)
}

// RemoveBridge ends a link at once: nothing more is relayed, owed relays
// are dropped. What was relayed stays where it is.
func (in *Inbox) RemoveBridge(id int64) error {
	var n int64
	err := in.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM bridge_links WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := tx.Exec(`DELETE FROM bridge_posts WHERE link_id = ?`, id); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("inbox: remove link: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("inbox: link %d: %w", id, ErrNotFound)
	}
	in.log.Info().Int64("link", id).Msg("bridge link removed")
	in.loadBridges()
	in.publish(Change{Kind: ChangeBridges}, Change{Kind: ChangeConversations})
	return nil
}

// Bridges lists every link, oldest first.
func (in *Inbox) Bridges() ([]BridgeLink, error) { return in.bridges(0, 0) }

// BridgesOf lists the links one conversation is a leg of.
func (in *Inbox) BridgesOf(conv ConversationID) ([]BridgeLink, error) { return in.bridges(conv, 0) }

// Bridge reads one link.
func (in *Inbox) Bridge(id int64) (BridgeLink, error) {
	ls, err := in.bridges(0, id)
	if err != nil {
		return BridgeLink{}, err
	}
	if len(ls) == 0 {
		return BridgeLink{}, fmt.Errorf("inbox: link %d: %w", id, ErrNotFound)
	}
	return ls[0], nil
}

// bridges reads the links of conv (0: all), or the one link id.
func (in *Inbox) bridges(conv ConversationID, id int64) ([]BridgeLink, error) {
	rows, err := in.db.Query(`SELECT l.id, l.conv_a, l.network_a, l.addr_a, l.conv_b, l.network_b, l.addr_b, l.weaker, l.created_at,
		(SELECT count(*) FROM bridge_queue q WHERE q.link_id = l.id)
		FROM bridge_links l WHERE (? = 0 OR l.conv_a = ? OR l.conv_b = ?) AND (? = 0 OR l.id = ?) ORDER BY l.id`, conv, conv, conv, id, id)
	if err != nil {
		return nil, err
	}
	type row struct {
		id             int64
		ca, cb         ConversationID
		na, aa, nb, ab string
		weaker         int
		at             int64
		pending        int
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.ca, &r.na, &r.aa, &r.cb, &r.nb, &r.ab, &r.weaker, &r.at, &r.pending); err != nil {
			rows.Close()
			return nil, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]BridgeLink, 0, len(rs))
	for _, r := range rs {
		l := BridgeLink{ID: r.id, A: in.leg(r.ca, protocols.Network(r.na), r.aa), B: in.leg(r.cb, protocols.Network(r.nb), r.ab),
			Weaker: r.weaker == 1, Created: fromNanos(r.at), Pending: r.pending}
		l.Weakest = min(l.A.Encryption, l.B.Encryption)
		l.State = in.bridgeState(r.id, l)
		out = append(out, l)
	}
	return out, nil
}

// bridgeState says whether a link relays now, and if not, why.
func (in *Inbox) bridgeState(id int64, l BridgeLink) string {
	in.mu.Lock()
	why := in.bridge.paused[id]
	live := in.bridge.links[id]
	in.mu.Unlock()
	switch {
	case live != nil && !(live.live[0] && live.live[1]):
		return "waiting for the notices to go out"
	case !l.A.Online:
		return "paused: " + NetworkName(l.A.Network) + " is offline"
	case !l.B.Online:
		return "paused: " + NetworkName(l.B.Network) + " is offline"
	case why != "":
		return "paused: " + why
	}
	return "active"
}
