package demo

import (
	"time"

	"polyglot/protocols"
)

// recentOnConnect is how many of each chat's newest messages arrive as
// Historical events right after Connect; older ones come via FetchHistory.
const recentOnConnect = 3

// step is one scripted happening, in virtual seconds after Connect.
type step struct {
	at   float64
	link bool // network traffic: held while the network is down
	do   func(c *conn, at time.Duration)
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// startScript queues the connect burst and the network's script. The
// scheduler is not running yet, so everything queues in order.
func (c *conn) startScript() {
	for _, ev := range c.connectBurst() {
		ev := ev
		c.sched.at(0, func(time.Duration) { c.emit(ev) })
	}
	for _, s := range append(script(c.net), c.ambient()...) {
		s := s
		if s.link {
			c.sched.at(secs(s.at), func(at time.Duration) {
				c.onLink(func() { s.do(c, at) })(at)
			})
		} else {
			c.sched.at(secs(s.at), func(at time.Duration) { s.do(c, at) })
		}
	}
}

// connectBurst is what a real client learns on login: the link is up, the
// roster, group chats with members, presence and the newest history.
func (c *conn) connectBurst() []protocols.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := []protocols.Event{protocols.ConnectionEvent{State: protocols.ConnOnline, Detail: "demo: connected"}}
	var contacts []*peer
	for _, chat := range c.order {
		for _, p := range c.peers {
			if p.chat == chat && p.id.contact {
				contacts = append(contacts, p)
			}
		}
	}
	for _, p := range contacts {
		sub := ""
		if c.net == protocols.XMPP {
			sub = "both"
		}
		evs = append(evs, protocols.ContactEvent{Contact: p.addr, Name: p.person.name, Subscription: sub})
	}
	for _, chat := range c.order {
		if r, ok := c.rooms[chat]; ok {
			members := []protocols.Address{c.self}
			for _, k := range r.members {
				members = append(members, c.byKey[k].addr)
			}
			evs = append(evs, protocols.ChatEvent{Chat: c.chats[chat].chat, Encryption: r.enc, Members: members})
		}
	}
	for _, p := range contacts {
		if p.id.presence != protocols.PresenceUnknown {
			evs = append(evs, protocols.PresenceEvent{From: p.addr, State: p.id.presence, Status: p.id.status})
		}
	}
	for _, chat := range c.order {
		msgs := c.chats[chat].msgs
		for _, m := range msgs[max(0, len(msgs)-recentOnConnect):] {
			evs = append(evs, protocols.MessageEvent{Message: m, Historical: true})
		}
	}
	return evs
}

// Script helpers, called on the scheduler goroutine.

func (c *conn) say(key, text string) {
	if p := c.byKey[key]; p != nil {
		c.incoming(p.chat, false, p, text)
	}
}

func (c *conn) sayIn(roomID, key, text string) {
	if p := c.byKey[key]; p != nil {
		c.incoming(protocols.ChatID(roomID), true, p, text)
	}
}

func (c *conn) typing(key, chat string, on bool) {
	if p := c.byKey[key]; p != nil {
		if chat == "" {
			chat = string(p.chat)
		}
		c.emit(protocols.TypingEvent{Chat: protocols.ChatID(chat), From: p.addr, Typing: on})
	}
}

func (c *conn) presence(key string, s protocols.PresenceState, status string) {
	if p := c.byKey[key]; p != nil {
		c.emit(protocols.PresenceEvent{From: p.addr, State: s, Status: status})
	}
}

func (c *conn) keyChange(key string, kind protocols.KeyChangeKind, device string) {
	if p := c.byKey[key]; p != nil {
		c.emit(protocols.KeyChangeEvent{Chat: p.chat, Contact: p.addr, DeviceID: device,
			Fingerprint: fingerprint(c.w.seed, string(c.net), key, device), Kind: kind, At: c.w.now()})
	}
}

// last finds the newest message in chat from key ("" = the user).
func (c *conn) last(chat, key string) (protocols.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lg := c.chats[protocols.ChatID(chat)]
	if lg == nil {
		return protocols.Message{}, false
	}
	for i := len(lg.msgs) - 1; i >= 0; i-- {
		m := lg.msgs[i]
		if key == "" && m.Outgoing {
			return m, true
		}
		if p := c.byKey[key]; key != "" && p != nil && !m.Outgoing && m.Sender.ID == p.addr.ID {
			return m, true
		}
	}
	return protocols.Message{}, false
}

func (c *conn) react(key, chat, emoji string) {
	p := c.byKey[key]
	if p == nil {
		return
	}
	if chat == "" {
		chat = string(p.chat)
	}
	if m, ok := c.last(chat, ""); ok {
		c.emit(protocols.ReactionEvent{Chat: protocols.ChatID(chat), TargetID: m.NetworkID, Key: emoji, From: p.addr, At: c.w.now()})
	}
}

func (c *conn) edit(key, chat, body string) {
	p := c.byKey[key]
	m, ok := c.last(chat, key)
	if p == nil || !ok {
		return
	}
	c.mu.Lock()
	c.liveCount++
	nid := networkID(c.net, c.w.seed, "edit-in", chat, string(m.NetworkID))
	if lg := c.chats[protocols.ChatID(chat)]; lg != nil {
		for i := range lg.msgs {
			if lg.msgs[i].NetworkID == m.NetworkID {
				lg.msgs[i].Body = body
			}
		}
	}
	c.mu.Unlock()
	c.emit(protocols.EditEvent{Chat: protocols.ChatID(chat), TargetID: m.NetworkID, NetworkID: nid, From: p.addr, Body: body, At: c.w.now()})
}

func (c *conn) request(key string, kind protocols.RequestKind) {
	if p := c.byKey[key]; p != nil {
		c.emit(protocols.RequestEvent{From: p.addr, Name: p.person.name, Chat: protocols.Chat{ID: p.chat}, Kind: kind, At: c.w.now()})
	}
}

// ambient keeps the world alive after the script: seeded presence changes
// and typing blips (someone starts typing, then thinks better of it) every
// half minute or so for about five minutes.
func (c *conn) ambient() []step {
	var keys []string
	for _, chat := range c.order {
		for _, p := range c.peers {
			if p.chat == chat && p.id.contact {
				keys = append(keys, p.person.key)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	r := newRand(c.w.seed, "ambient", string(c.net))
	states := []protocols.PresenceState{protocols.PresenceOnline, protocols.PresenceAway, protocols.PresenceOffline}
	var steps []step
	at := 70.0
	for range 10 {
		at += 20 + 20*r.Float64()
		key := keys[r.IntN(len(keys))]
		if r.IntN(3) == 0 {
			steps = append(steps,
				step{at: at, link: true, do: func(c *conn, _ time.Duration) { c.typing(key, "", true) }},
				step{at: at + 2 + 3*r.Float64(), link: true, do: func(c *conn, _ time.Duration) { c.typing(key, "", false) }})
			continue
		}
		st := states[r.IntN(len(states))]
		steps = append(steps, step{at: at, link: true, do: func(c *conn, _ time.Duration) { c.presence(key, st, "") }})
	}
	return steps
}

// Scripted outage of the Matrix homeserver: long enough for the router to
// fall back to another network, and messages sent to the user meanwhile are
// delivered when it returns.
const (
	outageStart = 20.0
	outageEnd   = 45.0
)

// script is what happens on each network after Connect, in virtual seconds.
func script(n protocols.Network) []step {
	hike := "!hike:" + matrixServer
	say := func(at float64, key, text string) step {
		return step{at: at, link: true, do: func(c *conn, _ time.Duration) { c.say(key, text) }}
	}
	typing := func(at float64, key, chat string, on bool) step {
		return step{at: at, link: true, do: func(c *conn, _ time.Duration) { c.typing(key, chat, on) }}
	}
	pres := func(at float64, key string, s protocols.PresenceState, status string) step {
		return step{at: at, link: true, do: func(c *conn, _ time.Duration) { c.presence(key, s, status) }}
	}
	switch n {
	case protocols.Matrix:
		return []step{
			typing(8, "bob", hike, true),
			{at: 10, link: true, do: func(c *conn, _ time.Duration) {
				c.typing("bob", hike, false)
				c.sayIn(hike, "bob", "Who's bringing the stove?")
			}},
			{at: 12.5, link: true, do: func(c *conn, _ time.Duration) {
				c.edit("bob", hike, "Who's bringing the stove? (the gas one, not the alcohol one 🔥)")
			}},
			{at: 14, link: true, do: func(c *conn, _ time.Duration) { c.sayIn(hike, "priya", "I can! ⛺") }},
			typing(16.5, "alice", "", true),
			{at: 18.5, link: true, do: func(c *conn, _ time.Duration) {
				c.typing("alice", "", false)
				c.say("alice", "Did you see the photos from last week? 📸")
			}},
			{at: outageStart, do: func(c *conn, at time.Duration) {
				c.setDown(true, at, "demo: homeserver unreachable (simulated outage)")
			}},
			say(24, "jose", "Are you around? Quick question about the release."),
			{at: 30, link: true, do: func(c *conn, _ time.Duration) {
				c.sayIn(hike, "alice", "Whoever's last at the station buys the first round 🍺")
			}},
			{at: outageEnd, do: func(c *conn, at time.Duration) { c.setDown(false, at, "") }},
			{at: 52, link: true, do: func(c *conn, _ time.Duration) { c.keyChange("bob", protocols.KeyNew, "BOBLAPTOP2") }},
			say(55, "bob", "New laptop, so new device — you should see a notice 🔑"),
			pres(62, "jose", protocols.PresenceOnline, ""),
		}
	case protocols.XMPP:
		return []step{
			typing(4, "mallory", "", true),
			{at: 5, link: true, do: func(c *conn, _ time.Duration) {
				c.typing("mallory", "", false)
				c.say("mallory", malloryOSC)
			}},
			pres(9, "sam", protocols.PresenceAway, "lunch 🥪"),
			typing(12, "dmitri", "", true),
			{at: 13.5, link: true, do: func(c *conn, _ time.Duration) {
				c.typing("dmitri", "", false)
				c.say("dmitri", "FYI the TLS certificate on the old server expires next week.")
			}},
			{at: 35, link: true, do: func(c *conn, _ time.Duration) { c.request("stranger-xmpp", protocols.RequestSubscription) }},
			say(36, "stranger-xmpp", "Hi! We met at FOSDEM — this is Eve from elsewhere.example. Mind if I add you?"),
			pres(50, "chloe", protocols.PresenceOnline, "☕"),
			say(58, "bob", "ping — is your Matrix back? the homeserver was down earlier"),
		}
	case protocols.WhatsApp:
		return []step{
			typing(3, "alice", "", true),
			{at: 5, link: true, do: func(c *conn, _ time.Duration) {
				c.typing("alice", "", false)
				c.say("alice", "Are you still up for Saturday? ☀️")
			}},
			{at: 6, link: true, do: func(c *conn, _ time.Duration) { c.sendPicture("alice", "the trail map 🗺") }},
			say(7, "stranger-wa", "Hi! Saw your ad for the road bike 🚲 — is it still available?"),
			{at: 9, link: true, do: func(c *conn, _ time.Duration) { c.react("alice", "", "❤️") }},
			{at: 15, link: true, do: func(c *conn, _ time.Duration) {
				c.keyChange("priya", protocols.KeyChanged, "PRIYAPHONE")
			}},
			say(16, "priya", "I reinstalled WhatsApp, that's why my security code changed 🙃"),
			pres(26, "gertrud", protocols.PresenceOnline, ""),
			typing(28, "gertrud", "", true),
			{at: 31, link: true, do: func(c *conn, _ time.Duration) {
				c.typing("gertrud", "", false)
				c.say("gertrud", "Hast du an die Blumen gedacht? 🌷")
			}},
			say(40, "hanako", "明日の会議、10時からで大丈夫ですか？"),
			say(48, "sam", "Did you get my message on XMPP?"),
		}
	}
	return nil
}
