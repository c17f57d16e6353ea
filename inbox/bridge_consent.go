package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"polyglot/protocols"
)

// The people in a linked conversation are told before anything of theirs
// is relayed: the link's notice goes into both conversations first, and
// who was there when it went out is recorded. Someone who speaks later
// without having been told gets a notice of their own, and only what they
// write after it is relayed. Anyone may say !stop (and !start).

const (
	cmdStop  = "!stop"
	cmdStart = "!start"
)

// linkNotice is the notice a leg gets when the link is made.
func linkNotice(own string, other BridgeLeg) string {
	return fmt.Sprintf(bridgeTag+" Messages here are now relayed to %q on %s (%s), and messages from there appear here, "+
		"by %s's Polyglot on their own device (a client-side bridge: nothing is decrypted anywhere else). "+
		"Reply %s to keep your messages from being relayed, %s to allow it again.",
		other.Title, NetworkName(other.Network), other.Encryption.Label(), own, cmdStop, cmdStart)
}

// postLinkNotice stores the link's notice into leg side (queued if its
// account is offline: it still goes out before any relay on that account).
func (in *Inbox) postLinkNotice(ctx context.Context, link int64, side int, l, other BridgeLeg) error {
	r, err := in.routeOf(l)
	if err != nil {
		return err
	}
	own := accountAddress(r.Account)
	_, err = in.Send(ctx, SendRequest{Conversation: l.Conversation, Body: linkNotice(own, other), Route: &r, AllowDowngrade: true,
		relay: &relayTag{link: link, side: side, notice: true}})
	var down *DowngradeError
	if err != nil && (errors.As(err, &down) || errors.Is(err, ErrNoRoute)) {
		return err
	}
	return nil // stored: sent, queued or failed visibly
}

// routeOf is the route of a leg, online or not.
func (in *Inbox) routeOf(l BridgeLeg) (Route, error) {
	rs, err := in.Routes(l.Conversation)
	if err != nil {
		return Route{}, err
	}
	for _, r := range rs {
		if r.Network == l.Network && r.To.ID == l.Address {
			return r, nil
		}
	}
	return Route{}, fmt.Errorf("inbox: no account of yours reaches %s: %w", l, ErrNoRoute)
}

// recordTold notes who was in leg s when its notice went out: the room's
// members as its network lists them, else everyone who wrote there
// before, and the peer of a 1:1 chat.
func (in *Inbox) recordTold(ctx context.Context, l linkRow, s int) {
	addrs := map[string]bool{l.addr[s]: true}
	if members, ok := in.members(ctx, l, s); ok {
		for _, a := range members {
			addrs[a] = true
		}
	} else {
		rows, err := in.db.Query(`SELECT DISTINCT sender FROM messages WHERE conversation_id = ? AND network = ? AND outgoing = 0 AND sender <> ''`,
			l.conv[s], string(l.network[s]))
		if err == nil {
			for rows.Next() {
				var a string
				if rows.Scan(&a) == nil {
					addrs[a] = true
				}
			}
			rows.Close()
		}
	}
	err := in.write(func(tx *sql.Tx) error {
		for a := range addrs {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO bridge_members(link_id, side, addr) VALUES (?, ?, ?)`, l.id, s, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		in.log.Error().Err(err).Int64("link", l.id).Msg("bridge members not recorded")
	}
}

// members asks the leg's connector for the room's members.
func (in *Inbox) members(ctx context.Context, l linkRow, s int) ([]string, bool) {
	r, err := in.routeOf(l.leg(s))
	if err != nil {
		return nil, false
	}
	c, _ := in.connector(r.Account)
	ml, ok := c.(protocols.MemberLister)
	if !ok {
		return nil, false
	}
	as, err := ml.Members(ctx, protocols.ChatID(l.addr[s]))
	if err != nil {
		in.log.Warn().Err(err).Int64("link", l.id).Msg("room members not listed")
		return nil, false
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out, true
}

// memberGate applies the people's say to a message of someone else on leg
// s: !stop and !start, a sender who stopped, a sender not yet told.
// handled: the message is not relayed.
func (in *Inbox) memberGate(ctx context.Context, l linkRow, s int, m Message) (handled bool, err error) {
	who := m.Sender.ID
	name := m.SenderName
	if name == "" {
		name = who
	}
	var stopped int
	err = in.db.QueryRow(`SELECT stopped FROM bridge_members WHERE link_id = ? AND side = ? AND addr = ?`, l.id, s, who).Scan(&stopped)
	told := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	cmd := strings.ToLower(strings.TrimSpace(m.Body))
	switch {
	case cmd == cmdStop || cmd == cmdStart:
		stop := cmd == cmdStop
		if err := in.write(func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO bridge_members(link_id, side, addr, stopped) VALUES (?, ?, ?, ?)
				ON CONFLICT(link_id, side, addr) DO UPDATE SET stopped = excluded.stopped`, l.id, s, who, boolInt(stop))
			return err
		}); err != nil {
			return false, err
		}
		text := fmt.Sprintf(bridgeTag+" OK, %s: your messages here are no longer relayed. Say %s to allow it again.", name, cmdStart)
		if !stop {
			text = fmt.Sprintf(bridgeTag+" OK, %s: your messages here are relayed again. Say %s to stop it.", name, cmdStop)
		}
		in.log.Info().Int64("link", l.id).Bool("stop", stop).Msg("a member changed their relaying")
		return true, in.postBridgeLine(ctx, l, s, text)
	case stopped == 1:
		return true, nil
	case !told:
		if err := in.write(func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT OR IGNORE INTO bridge_members(link_id, side, addr) VALUES (?, ?, ?)`, l.id, s, who)
			return err
		}); err != nil {
			return false, err
		}
		other := in.leg(l.conv[1-s], l.network[1-s], l.addr[1-s])
		text := fmt.Sprintf(bridgeTag+" %s: you joined after this conversation was linked, so that message was not relayed. "+
			"Messages here are relayed to %q on %s (%s); reply %s to keep yours here.", name, other.Title, NetworkName(other.Network),
			other.Encryption.Label(), cmdStop)
		return true, in.postBridgeLine(ctx, l, s, text)
	}
	return false, nil
}

// postBridgeLine posts a line of the bridge's own into leg s.
func (in *Inbox) postBridgeLine(ctx context.Context, l linkRow, s int, text string) error {
	r, err := in.legRoute(l, s)
	if err != nil {
		return err
	}
	_, err = in.Send(ctx, SendRequest{Conversation: l.conv[s], Body: text, Route: &r, AllowDowngrade: true,
		relay: &relayTag{link: l.id, side: s}})
	return err
}
