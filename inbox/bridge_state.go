package inbox

import (
	"strings"

	"polyglot/protocols"
)

// bridgeRuntime is what the hooks and the relay worker keep of the links
// in memory (under Inbox.mu); the store is the truth, loadBridges re-reads
// it.
type bridgeRuntime struct {
	links  map[int64]*linkRow
	byConv map[ConversationID][]*linkRow
	// paused says why a link's head item cannot go now (empty: it can).
	paused map[int64]string
	kick   chan struct{}
	// loaded: links were read once (Open).
	loaded bool
}

// linkRow is one link: index 0 is leg A, 1 is leg B.
type linkRow struct {
	id      int64
	conv    [2]ConversationID
	network [2]protocols.Network
	addr    [2]string
	enc     [2]protocols.Encryption
	notice  [2]MessageID
	// live: the leg's notice went out, so its members were told.
	live    [2]bool
	created int64
}

// leg is leg s as routeOf takes it.
func (l *linkRow) leg(s int) BridgeLeg {
	return BridgeLeg{Conversation: l.conv[s], Network: l.network[s], Address: l.addr[s]}
}

// side is the leg of l that conv on net is, or -1.
func (l *linkRow) side(conv ConversationID, net protocols.Network) int {
	for s := range 2 {
		if l.conv[s] == conv && l.network[s] == net {
			return s
		}
	}
	return -1
}

// loadBridges re-reads the links and which of their notices went out.
// Legs whose notice went out since the last load have their members
// recorded as told (not at Open: who joined since was not told).
func (in *Inbox) loadBridges() {
	for _, nl := range in.readBridges() {
		in.recordTold(in.ctx, nl.link, nl.side)
	}
}

type newlyLive struct {
	link linkRow
	side int
}

func (in *Inbox) readBridges() []newlyLive {
	rows, err := in.db.Query(`SELECT l.id, l.conv_a, l.network_a, l.addr_a, l.enc_a, l.notice_a, coalesce(ma.state, 0),
		l.conv_b, l.network_b, l.addr_b, l.enc_b, l.notice_b, coalesce(mb.state, 0), l.created_at
		FROM bridge_links l LEFT JOIN messages ma ON ma.id = l.notice_a LEFT JOIN messages mb ON mb.id = l.notice_b`)
	if err != nil {
		in.log.Error().Err(err).Msg("bridge links not loaded")
		return nil
	}
	defer rows.Close()
	links := map[int64]*linkRow{}
	byConv := map[ConversationID][]*linkRow{}
	for rows.Next() {
		var l linkRow
		var na, nb string
		var sa, sb int
		if err := rows.Scan(&l.id, &l.conv[0], &na, &l.addr[0], &l.enc[0], &l.notice[0], &sa,
			&l.conv[1], &nb, &l.addr[1], &l.enc[1], &l.notice[1], &sb, &l.created); err != nil {
			in.log.Error().Err(err).Msg("bridge links not loaded")
			return nil
		}
		l.network = [2]protocols.Network{protocols.Network(na), protocols.Network(nb)}
		l.live = [2]bool{noticeOut(l.notice[0], sa), noticeOut(l.notice[1], sb)}
		links[l.id] = &l
		byConv[l.conv[0]] = append(byConv[l.conv[0]], &l)
		byConv[l.conv[1]] = append(byConv[l.conv[1]], &l)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	var fresh []newlyLive
	if in.bridge.loaded {
		for id, l := range links {
			old := in.bridge.links[id]
			for s := range 2 {
				if l.live[s] && (old == nil || !old.live[s]) {
					fresh = append(fresh, newlyLive{*l, s})
				}
			}
		}
	}
	in.bridge.links, in.bridge.byConv, in.bridge.loaded = links, byConv, true
	for id := range in.bridge.paused {
		if links[id] == nil {
			delete(in.bridge.paused, id)
		}
	}
	return fresh
}

// noticeOut: the leg's notice reached its server (sent or further).
func noticeOut(id MessageID, state int) bool {
	return id != 0 && MessageState(state) >= StateSent && MessageState(state) != StateFailed
}

// linksOf copies the links conv is a leg of (nil, the usual case, costs a
// map lookup).
func (in *Inbox) linksOf(conv ConversationID) []linkRow {
	in.mu.Lock()
	defer in.mu.Unlock()
	ls := in.bridge.byConv[conv]
	if len(ls) == 0 {
		return nil
	}
	out := make([]linkRow, len(ls))
	for i, l := range ls {
		out[i] = *l
	}
	return out
}

func (in *Inbox) hasLinks() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.bridge.links) > 0
}

// kickBridge wakes the relay worker.
func (in *Inbox) kickBridge() {
	select {
	case in.bridge.kick <- struct{}{}:
	default:
	}
}

// bridgeSent: a message went out; if it was a link's notice, relaying
// may start.
func (in *Inbox) bridgeSent(id MessageID) {
	in.mu.Lock()
	notice := false
	for _, l := range in.bridge.links {
		if (l.notice[0] == id && !l.live[0]) || (l.notice[1] == id && !l.live[1]) {
			notice = true
		}
	}
	in.mu.Unlock()
	if notice {
		in.loadBridges()
		in.publish(Change{Kind: ChangeBridges})
		in.kickBridge()
	}
}

// relayProfile is the original sender of a relayed message, for networks
// that show a per-message profile; nil for anything else.
func (in *Inbox) relayProfile(id MessageID) *protocols.RelayProfile {
	if !in.hasLinks() {
		return nil
	}
	var p protocols.RelayProfile
	var outgoing, enc int
	var account, name string
	err := in.db.QueryRow(`SELECT m.sender, m.sender_name, m.network, m.outgoing, m.account, m.encryption FROM bridge_map b
		JOIN messages m ON m.id = b.src WHERE b.dst = ? LIMIT 1`, id).Scan(&p.ID, &name, &p.Network, &outgoing, &account, &enc)
	if err != nil {
		return nil
	}
	if outgoing == 1 {
		p.ID, name = accountAddress(account), accountAddress(account)
	}
	if name == "" {
		name = p.ID
	}
	// The name as the body's prefix has it, so a client that shows the
	// profile can drop the prefix (MSC4144's fallback).
	p.Name = strings.TrimSuffix(attribution(name, p.Network, protocols.Encryption(enc)), ": ")
	return &p
}
