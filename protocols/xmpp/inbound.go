package xmpp

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
)

// handle is called by Serve for every top-level stanza, in stream order. It
// must not use the session's send methods (Serve holds the stream); replies
// go through t.
func (c *Connector) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement, gen int) error {
	// The reader starts after start; put it back so the decoder sees a
	// balanced element.
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	if _, err := d.Token(); err != nil {
		return nil
	}
	c.log.Trace().Str("el", start.Name.Local).Msg("in")
	switch start.Name.Local {
	case "message":
		var m inMessage
		if err := d.DecodeElement(&m, start); err != nil {
			c.log.Debug().Err(err).Msg("undecodable message dropped")
			return nil
		}
		c.onMessage(t, &m)
	case "presence":
		var p inPresence
		if err := d.DecodeElement(&p, start); err != nil {
			c.log.Debug().Err(err).Msg("undecodable presence dropped")
			return nil
		}
		c.onPresence(&p)
	case "iq":
		var iq inIQ
		if err := d.DecodeElement(&iq, start); err != nil {
			return nil
		}
		return c.onIQ(t, &iq)
	}
	return nil
}

type inIQ struct {
	ID      string     `xml:"id,attr"`
	From    string     `xml:"from,attr"`
	Type    string     `xml:"type,attr"`
	Ping    *struct{}  `xml:"urn:xmpp:ping ping"`
	Roster  *rosterQ   `xml:"jabber:iq:roster query"`
	Disco   *discoInfo `xml:"http://jabber.org/protocol/disco#info query"`
	Payload []anyElem  `xml:",any"`
}

type rosterQ struct {
	XMLName xml.Name     `xml:"jabber:iq:roster query"`
	Ver     string       `xml:"ver,attr,omitempty"`
	Items   []rosterItem `xml:"jabber:iq:roster item"`
}

type rosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr,omitempty"`
	Subscription string   `xml:"subscription,attr,omitempty"`
	Ask          string   `xml:"ask,attr,omitempty"`
	Groups       []string `xml:"jabber:iq:roster group"`
}

type discoInfo struct {
	XMLName  xml.Name       `xml:"http://jabber.org/protocol/disco#info query"`
	Node     string         `xml:"node,attr,omitempty"`
	Identity []discoIdent   `xml:"http://jabber.org/protocol/disco#info identity"`
	Features []discoFeature `xml:"http://jabber.org/protocol/disco#info feature"`
}

type discoIdent struct {
	Category string `xml:"category,attr"`
	Type     string `xml:"type,attr"`
	Name     string `xml:"name,attr,omitempty"`
}

type discoFeature struct {
	Var string `xml:"var,attr"`
}

var ourFeatures = []string{nsDiscoInfo, nsPing, nsReceipts, nsMarkers, nsChatStates, nsCorrect,
	nsReactions, nsRetract1, nsRetract0, nsReply, nsSID, nsCarbons, nsMAM, nsConference}

func (c *Connector) onIQ(t xmlstream.TokenReadEncoder, iq *inIQ) error {
	if iq.Type != "get" && iq.Type != "set" {
		return nil // replies are routed by mellium to their waiters
	}
	reply := func(payload any) error {
		return t.Encode(iqOut{ID: iq.ID, To: iq.From, Type: "result", Payload: payload})
	}
	switch {
	case iq.Ping != nil:
		return reply(nil)
	case iq.Roster != nil && iq.Type == "set":
		// A roster push is only believable from our own account (RFC 6121 §2.1.6).
		if iq.From != "" && !c.isMe(iq.From) {
			return nil // Serve answers service-unavailable
		}
		for _, it := range iq.Roster.Items {
			c.emitContact(it)
		}
		return reply(nil)
	case iq.Disco != nil && iq.Type == "get":
		info := discoInfo{Node: iq.Disco.Node, Identity: []discoIdent{ourIdentity}}
		for _, f := range c.features() {
			info.Features = append(info.Features, discoFeature{Var: f})
		}
		return reply(info)
	}
	return nil // anything else: Serve replies service-unavailable
}

func (c *Connector) isMe(s string) bool {
	j, err := jid.Parse(s)
	return err == nil && j.Bare().Equal(c.me)
}

func (c *Connector) emitContact(it rosterItem) {
	j, err := jid.Parse(it.JID)
	if err != nil {
		return
	}
	c.emit(protocols.ContactEvent{
		Contact:      c.addr(j.Bare()),
		Name:         it.Name,
		Subscription: it.Subscription,
		Removed:      it.Subscription == "remove",
	})
}

type inPresence struct {
	From    string    `xml:"from,attr"`
	Type    string    `xml:"type,attr"`
	Show    string    `xml:"show"`
	Status  string    `xml:"status"`
	Nick    string    `xml:"http://jabber.org/protocol/nick nick"`
	MUCUser *mucUserX `xml:"http://jabber.org/protocol/muc#user x"`
	ErrorEl *struct {
		Type string    `xml:"type,attr"`
		Cond []anyElem `xml:",any"`
	} `xml:"error"`
}

func (c *Connector) onPresence(p *inPresence) {
	from, err := jid.Parse(p.From)
	if err != nil {
		return
	}
	bare := from.Bare().String()
	c.mu.Lock()
	r := c.rooms[bare]
	c.mu.Unlock()
	if r != nil {
		c.onRoomPresence(r, from, p)
		return
	}
	switch p.Type {
	case "subscribe":
		c.emit(protocols.RequestEvent{
			From: c.addr(from.Bare()), Name: p.Nick,
			Chat: protocols.Chat{ID: protocols.ChatID(bare)}, Kind: protocols.RequestSubscription, At: time.Now(),
		})
	case "", "unavailable":
		if from.Bare().Equal(c.me) {
			return // our own other resources
		}
		st := protocols.PresenceOnline
		switch {
		case p.Type == "unavailable":
			st = protocols.PresenceOffline
		case p.Show == "away" || p.Show == "xa" || p.Show == "dnd":
			st = protocols.PresenceAway
		}
		c.emit(protocols.PresenceEvent{From: c.addr(from.Bare()), State: c.contactPresence(bare, from.Resourcepart(), st), Status: p.Status})
	}
}

func (c *Connector) onRoomPresence(r *room, from jid.JID, p *inPresence) {
	c.onRoomOccupant(r, from, p)
	self := false
	if p.MUCUser != nil {
		for _, s := range p.MUCUser.Statuses {
			if s.Code == 110 {
				self = true
			}
		}
	}
	if !self && from.Resourcepart() == r.nick && p.Type != "unavailable" {
		self = true
	}
	c.mu.Lock()
	ch := r.joined
	if self {
		if p.Type == "error" {
			if ch != nil {
				select {
				case ch <- fmt.Errorf("xmpp: joining %s refused: %s", r.jid, errText(p)):
				default:
				}
			}
		} else if p.Type != "unavailable" {
			r.nick = from.Resourcepart() // the room may rename us
			if !r.done {
				r.done = true
				if ch != nil {
					close(ch)
					r.joined = nil
				}
			}
		}
	}
	c.mu.Unlock()
}

// onMessage turns one <message/> into events. Carbons and MAM results are
// unwrapped only when they come from our own account: anyone else could forge
// them.
func (c *Connector) onMessage(t xmlstream.TokenReadEncoder, m *inMessage) {
	switch {
	case m.MAM != nil:
		c.mamResult(m)
		return
	case m.CarbonRecv != nil || m.CarbonSent != nil:
		if m.From != "" && !c.isMe(m.From) {
			c.log.Warn().Str("from", m.From).Msg("forged carbon dropped")
			return
		}
		cb, out := m.CarbonRecv, false
		if cb == nil {
			cb, out = m.CarbonSent, true
		}
		if cb.Forwarded.Message == nil {
			return
		}
		for _, ev := range c.convert(cb.Forwarded.Message, out, false, "", cb.Forwarded.Delay.time()) {
			c.emit(ev)
		}
		return
	}
	if m.Type == "error" {
		c.log.Debug().Str("from", m.From).Msg("message error")
		return
	}
	if m.PEPEvent != nil {
		c.onPEPEvent(m)
		if m.body() == "" && m.Encrypted == nil {
			return
		}
	}
	if m.DirectInvite != nil || (m.MUCUser != nil && m.MUCUser.Invite != nil) {
		c.onInvite(m)
		return
	}
	hist := m.Delay != nil && m.Type == "groupchat" // room history on join
	evs := c.convert(m, false, hist, "", m.Delay.time())
	for _, ev := range evs {
		c.emit(ev)
	}
	c.autoReceipt(t, m, evs)
}

func (c *Connector) onInvite(m *inMessage) {
	var room, from, reason string
	if m.DirectInvite != nil {
		room, from, reason = m.DirectInvite.JID, m.From, m.DirectInvite.Reason
	} else {
		room, from, reason = m.From, m.MUCUser.Invite.From, m.MUCUser.Invite.Reason
	}
	rj, err := jid.Parse(room)
	fj, err2 := jid.Parse(from)
	if err != nil || err2 != nil {
		return
	}
	c.emit(protocols.RequestEvent{
		From: c.addr(fj.Bare()), Name: reason,
		Chat: protocols.Chat{ID: protocols.ChatID(rj.Bare().String()), Group: true, Name: rj.Localpart()},
		Kind: protocols.RequestInvite, At: time.Now(),
	})
}

// convert maps one message (live, carbon-unwrapped or archived) to events.
// out: sent by us (sent carbon or archive copy); archiveID: the MAM result ID.
func (c *Connector) convert(m *inMessage, out, historical bool, archiveID string, stamp time.Time) (evs []protocols.Event) {
	from, err := jid.Parse(m.From)
	if err != nil && m.From != "" {
		return nil
	}
	if m.From == "" {
		from = c.me
	}
	to, _ := jid.Parse(m.To)
	if !out && from.Bare().Equal(c.me) && m.Type != "groupchat" {
		out = true // our own message, e.g. from MAM
	}
	group := m.Type == "groupchat"
	var chat jid.JID
	var sender jid.JID
	c.mu.Lock()
	enc := c.encLocked()
	var r *room
	if group {
		r = c.rooms[from.Bare().String()]
	}
	c.mu.Unlock()
	switch {
	case group:
		chat, sender = from.Bare(), from
		if r != nil && from.Resourcepart() == r.nick {
			out = true
		}
		if from.Resourcepart() == "" {
			return nil // room subject/status from the room itself
		}
	case out:
		chat, sender = to.Bare(), c.me
		if m.To == "" {
			return nil
		}
	default:
		chat, sender = from.Bare(), from.Bare()
	}
	// In a room, an OMEMO message is decrypted as its sender's real JID
	// (ours: our own echo, or another device of ours).
	var member jid.JID
	knownMember := false
	if group && m.Encrypted != nil {
		// What the stanza says about its sender counts only when the room
		// says it: an archive result, or join history the room stamped
		// (the room strips such stamps from what occupants send).
		byRoom := archiveID != "" || (m.Delay != nil && strings.EqualFold(m.Delay.From, from.Bare().String()))
		member, knownMember = c.roomSender(r, from.Resourcepart(), m, byRoom)
		if knownMember && member.Equal(c.me) {
			out = true
		}
	}
	at := stamp
	if at.IsZero() {
		at = time.Now()
	}
	chatID := chat.String()
	senderAddr := c.addr(sender)
	if out {
		senderAddr = c.addr(c.me)
	}
	by := c.me.String()
	if group {
		by = chatID
	}
	clientID := m.ID
	if m.OriginID != nil && m.OriginID.ID != "" {
		if clientID == "" {
			clientID = m.OriginID.ID
		}
		c.msgID.Put("o:"+chatID+":"+m.OriginID.ID, clientID)
	}
	netID := m.stanzaID(by)
	if netID == "" {
		netID = archiveID
	} else if cp, ok := c.liveCheckpoint(r, group, historical, archiveID, netID); ok {
		// Last, after the message's own events: the position moves only
		// once they are stored.
		defer func() { evs = append(evs, cp) }()
	}
	if netID == "" {
		netID = clientID
	}
	if netID != "" && clientID != "" {
		c.msgID.Put("n:"+chatID+":"+netID, clientID)
	}
	if out && clientID != "" && historical && !group {
		c.outArch.Put(clientID, true)
	}
	// A reference (correction, retraction, reaction) names the target by
	// the id the sender gave it; map origin-ids back to that.
	ref := func(id string) string {
		if v, ok := c.msgID.Get("o:" + chatID + ":" + id); ok {
			return v
		}
		return id
	}
	if !out {
		switch {
		case m.Receipt != nil:
			evs = append(evs, protocols.ReceiptEvent{Chat: protocols.ChatID(chatID), IDs: []protocols.MessageID{protocols.MessageID(m.Receipt.ID)}, Kind: protocols.ReceiptDelivered, From: senderAddr, At: at})
		case m.MarkReceived != nil:
			evs = append(evs, protocols.ReceiptEvent{Chat: protocols.ChatID(chatID), IDs: []protocols.MessageID{protocols.MessageID(m.MarkReceived.ID)}, Kind: protocols.ReceiptDelivered, From: senderAddr, At: at})
		}
		if mk := firstRef(m.MarkShown, m.MarkAcked); mk != nil {
			evs = append(evs, protocols.ReceiptEvent{Chat: protocols.ChatID(chatID), IDs: []protocols.MessageID{protocols.MessageID(mk.ID)}, Kind: protocols.ReceiptRead, From: senderAddr, At: at})
		}
		if st := m.state(); st != "" && !historical {
			evs = append(evs, protocols.TypingEvent{Chat: protocols.ChatID(chatID), From: senderAddr, Typing: st == StateComposing})
		}
	}
	if target := m.retractTarget(); target != "" {
		return append(evs, protocols.DeleteEvent{Chat: protocols.ChatID(chatID), TargetID: protocols.MessageID(ref(target)), From: senderAddr, At: at})
	}
	if m.Reactions != nil {
		return append(evs, c.reactionEvents(chatID, ref(m.Reactions.ID), senderAddr, m.Reactions.Reactions, at)...)
	}
	body := m.body()
	var notice string
	undecryptable := false
	if m.Encrypted != nil {
		// The body beside an OMEMO element is the fallback for clients
		// without it: never shown.
		who := from.Bare()
		switch {
		case out:
			who = c.me
		case group:
			who = member
		}
		if group && !out && !knownMember {
			body, notice, undecryptable, enc = "", fmt.Sprintf("could not decrypt an OMEMO message from %s: the room does not show who they are", from.Resourcepart()), true, protocols.EncE2EE
		} else {
			d := c.decryptIn(who, m.Encrypted)
			evs = append(evs, c.newsEvents()...)
			if d.keyTransport {
				return evs
			}
			body, enc = d.body, protocols.EncE2EE
			// Rooms are E2EE, never verified (not offered for rooms).
			if !group && !d.undecryptable && c.sentVerified(who, d.device, chat) {
				enc = protocols.EncE2EEVerified
			}
			if d.undecryptable {
				notice, undecryptable = d.notice, true
				if group {
					notice = strings.Replace(notice, "OMEMO message", "OMEMO message of "+who.String(), 1)
				}
			}
		}
	}
	if m.Replace != nil && body != "" {
		b, _ := capBody(body, c.cfg.MaxBody)
		return append(evs, protocols.EditEvent{Chat: protocols.ChatID(chatID), TargetID: protocols.MessageID(ref(m.Replace.ID)), NetworkID: protocols.MessageID(netID), From: senderAddr, Body: b, At: at})
	}
	if body == "" && !undecryptable {
		unknown := m.unknownPayloads()
		if len(unknown) == 0 || m.Type == "headline" || m.Type == "error" {
			return evs
		}
		notice = "unsupported XMPP content not shown: " + strings.Join(unknown, ", ")
	}
	if m.Reply != nil {
		body = stripFallback(body, m.Fallbacks, nsReply)
		body = stripFallback(body, m.OldFallbacks, nsReply)
	}
	var atts []protocols.Attachment
	if !undecryptable {
		body, atts = fileOf(body, m.OOB, enc.IsE2EE())
	}
	if n := len(body); n > c.cfg.MaxBody {
		body, _ = capBody(body, c.cfg.MaxBody)
		notice = fmt.Sprintf("message truncated from %d bytes to %d", n, len(body))
	}
	if netID != "" && !c.seen.PutIfAbsent(netID, true) {
		return evs // already delivered (live and catch-up overlap)
	}
	msg := protocols.Message{
		ClientID:      protocols.ClientID(clientID),
		NetworkID:     protocols.MessageID(netID),
		Chat:          protocols.Chat{ID: protocols.ChatID(chatID), Group: group, Name: chatName(chat, group)},
		Sender:        senderAddr,
		Outgoing:      out,
		Body:          body,
		Sent:          at,
		Received:      time.Now(),
		Encryption:    enc,
		Notice:        notice,
		Undecryptable: undecryptable,
		Attachments:   atts,
	}
	if m.Reply != nil {
		msg.ReplyTo = protocols.MessageID(ref(m.Reply.ID))
	}
	return append(evs, protocols.MessageEvent{Message: msg, Historical: historical})
}

func chatName(chat jid.JID, group bool) string {
	if group {
		return chat.Localpart()
	}
	return ""
}

func firstRef(a, b *idRef) *idRef {
	if a != nil {
		return a
	}
	return b
}

// reactionEvents turns a XEP-0444 set (the sender's complete reactions to a
// message) into add/remove events against the last set we saw.
func (c *Connector) reactionEvents(chat, target string, from protocols.Address, keys []string, at time.Time) []protocols.Event {
	k := chat + "\x00" + target + "\x00" + from.ID
	prev, _ := c.react.Get(k)
	now := map[string]bool{}
	var evs []protocols.Event
	for _, key := range keys {
		key = strings.TrimSpace(key)
		if key == "" || now[key] {
			continue
		}
		now[key] = true
		evs = append(evs, protocols.ReactionEvent{Chat: protocols.ChatID(chat), TargetID: protocols.MessageID(target), Key: key, From: from, At: at})
	}
	for _, key := range prev {
		if !now[key] {
			evs = append(evs, protocols.ReactionEvent{Chat: protocols.ChatID(chat), TargetID: protocols.MessageID(target), Key: key, From: from, Remove: true, At: at})
		}
	}
	set := make([]string, 0, len(now))
	for key := range now {
		set = append(set, key)
	}
	c.react.Put(k, set)
	return evs
}

// autoReceipt remembers messages that asked for a receipt or marker and
// answers delivery only when cfg.DeliveryReceipts allows it for the sender.
func (c *Connector) autoReceipt(t xmlstream.TokenReadEncoder, m *inMessage, evs []protocols.Event) {
	if m.ReceiptRequest == nil && m.Markable == nil {
		return
	}
	var msg *protocols.Message
	for _, ev := range evs {
		if me, ok := ev.(protocols.MessageEvent); ok && !me.Message.Outgoing {
			msg = &me.Message
		}
	}
	if msg == nil || m.ID == "" {
		return
	}
	kinds := ""
	if m.ReceiptRequest != nil {
		kinds += "r"
	}
	if m.Markable != nil {
		kinds += "m"
	}
	c.ackable.Put(string(msg.Chat.ID)+"\x00"+m.ID, kinds)
	if msg.Chat.Group || c.cfg.DeliveryReceipts == nil || !c.cfg.DeliveryReceipts(msg.Sender) {
		return
	}
	out := outMessage{To: m.From, Type: m.Type, ID: randomID()}
	if m.ReceiptRequest != nil {
		out.Received = &ReceiptReceived{ID: m.ID}
	}
	if m.Markable != nil {
		out.Markers = []*Marker{NewMarker("received", m.ID)}
	}
	if err := t.Encode(out); err != nil {
		c.log.Debug().Err(err).Msg("receipt not sent")
	}
}

func errText(p *inPresence) string {
	if p.ErrorEl == nil {
		return "no reason given"
	}
	var names []string
	for _, c := range p.ErrorEl.Cond {
		names = append(names, c.XMLName.Local)
	}
	return p.ErrorEl.Type + " " + strings.Join(names, " ")
}

// contactPresence records one resource's state and returns the contact's:
// online while any of their clients is, away if the available ones all
// are, offline once the last one left (one client quitting does not make
// a contact with another one open look offline).
func (c *Connector) contactPresence(bare, resource string, st protocols.PresenceState) protocols.PresenceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.avail == nil {
		c.avail = map[string]map[string]protocols.PresenceState{}
	}
	res := c.avail[bare]
	switch {
	case st == protocols.PresenceOffline && resource == "":
		res = nil // the bare JID went away (e.g. a subscription ended): every client
	case st == protocols.PresenceOffline:
		delete(res, resource)
	default:
		if res == nil {
			res = map[string]protocols.PresenceState{}
			c.avail[bare] = res
		}
		res[resource] = st
	}
	best := protocols.PresenceOffline
	for _, s := range res {
		if s == protocols.PresenceOnline || best == protocols.PresenceOffline {
			best = s
		}
	}
	if len(res) == 0 {
		delete(c.avail, bare)
	}
	return best
}
