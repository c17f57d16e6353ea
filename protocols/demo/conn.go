package demo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"polyglot/protocols"
)

// eventBuffer is the events channel's capacity: the whole connect burst
// fits, so a slow reader does not stall the script.
const eventBuffer = 512

// peer is one identity of a person as seen on this connector.
type peer struct {
	person *person
	id     ident
	addr   protocols.Address
	chat   protocols.ChatID // DM chat ID
}

// chatLog is a chat's full history on the simulated server, oldest first.
// Cursors are indexes into msgs, so appending never invalidates them.
type chatLog struct {
	chat protocols.Chat
	msgs []protocols.Message
}

// conn is one simulated network; it implements protocols.Connector and the
// optional Editor, Reactor, Retractor and RequestResponder interfaces.
type conn struct {
	w       *World
	net     protocols.Network
	account string
	self    protocols.Address
	caps    protocols.Capabilities
	log     zerolog.Logger
	sched   *scheduler

	emitMu       sync.RWMutex // held for reading while sending; Close takes it to close events
	events       chan protocols.Event
	eventsClosed bool

	mu        sync.Mutex
	connected bool
	closed    bool
	down      bool
	held      []func()                                    // traffic that arrived while down
	peers     map[string]*peer                            // by address ID
	byKey     map[string]*peer                            // by person key
	rooms     map[protocols.ChatID]*room                  // by chat ID
	chats     map[protocols.ChatID]*chatLog               // by chat ID
	order     []protocols.ChatID                          // chat IDs in cast order
	sent      map[protocols.ClientID]protocols.SendResult // by ClientID: Send is idempotent
	replying  map[protocols.ChatID]bool                   // chat → a reply is already on its way
	replies   map[string]int                              // person key → replies given
	verifs    map[string]*demoVerification                // by transaction
	liveCount uint64
}

var (
	_ protocols.Connector        = (*conn)(nil)
	_ protocols.Editor           = (*conn)(nil)
	_ protocols.Reactor          = (*conn)(nil)
	_ protocols.Retractor        = (*conn)(nil)
	_ protocols.RequestResponder = (*conn)(nil)
)

func newConn(w *World, n protocols.Network, people []person) *conn {
	c := &conn{
		w:        w,
		net:      n,
		account:  AccountID(n),
		self:     selfAddress(n),
		caps:     capabilities(n),
		log:      w.log.With().Str("account", AccountID(n)).Logger(),
		sched:    newScheduler(w.speed),
		events:   make(chan protocols.Event, eventBuffer),
		peers:    map[string]*peer{},
		byKey:    map[string]*peer{},
		rooms:    map[protocols.ChatID]*room{},
		chats:    map[protocols.ChatID]*chatLog{},
		sent:     map[protocols.ClientID]protocols.SendResult{},
		replying: map[protocols.ChatID]bool{},
		replies:  map[string]int{},
	}
	for i := range people {
		p := &people[i]
		for _, id := range p.ids {
			if id.net != n {
				continue
			}
			pr := &peer{person: p, id: id, addr: id.address(), chat: protocols.ChatID(id.dmChat())}
			c.peers[id.id] = pr
			c.byKey[p.key] = pr
			c.chats[protocols.ChatID(string(pr.chat))] = c.dmHistory(pr)
			c.order = append(c.order, pr.chat)
		}
	}
	for _, r := range rooms() {
		if r.net != n {
			continue
		}
		r := r
		c.rooms[protocols.ChatID(string(r.id))] = &r
		c.chats[protocols.ChatID(string(r.id))] = c.roomHistory(&r)
		c.order = append(c.order, r.id)
	}
	return c
}

// capabilities mirror what the real connectors offer: Matrix has read
// receipts but no delivery receipts; the simulated XMPP server has no OMEMO,
// so it is transport-only; WhatsApp is always end-to-end but has no
// verification step.
func capabilities(n protocols.Network) protocols.Capabilities {
	all := protocols.Capabilities{
		Typing: true, Presence: true, Edits: true, Reactions: true, Retractions: true,
		Replies: true, History: true, Groups: true, Attachments: true,
	}
	switch n {
	case protocols.Matrix:
		all.E2EE, all.Verify, all.ReadMarkers = true, true, true
		all.MaxBody = 65536
	case protocols.XMPP:
		all.Receipts, all.ReadMarkers = true, true
		all.MaxBody = 262144
	case protocols.WhatsApp:
		all.E2EE, all.Receipts, all.ReadMarkers = true, true, true
		all.MaxBody = 65536
	}
	return all
}

// historyTimes returns n deterministic timestamps before the world's start,
// oldest first.
func (c *conn) historyTimes(chat protocols.ChatID, n int) []time.Time {
	r := newRand(c.w.seed, "times", string(chat))
	at := c.w.start.Add(-time.Duration(5+r.IntN(40)) * time.Minute)
	out := make([]time.Time, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = at
		gap := time.Duration(2+r.IntN(90)) * time.Minute
		if r.IntN(4) == 0 {
			gap = time.Duration(6+r.IntN(40)) * time.Hour
		}
		at = at.Add(-gap)
	}
	return out
}

func (c *conn) dmHistory(p *peer) *chatLog {
	lg := &chatLog{chat: protocols.Chat{ID: p.chat, Peer: p.addr}}
	r := newRand(c.w.seed, "filler", string(p.chat))
	lines := make([]line, 0, p.id.older+len(p.id.recent))
	for range p.id.older {
		lines = append(lines, filler[r.IntN(len(filler))])
	}
	lines = append(lines, p.id.recent...)
	times := c.historyTimes(p.chat, len(lines))
	for i, l := range lines {
		from := p
		if l.out {
			from = nil
		}
		lg.msgs = append(lg.msgs, c.message(lg, from, l.text, times[i], networkID(c.net, c.w.seed, "hist", string(p.chat), strconv.Itoa(i))))
	}
	return lg
}

func (c *conn) roomHistory(rm *room) *chatLog {
	lg := &chatLog{chat: protocols.Chat{ID: rm.id, Group: true, Name: rm.name}}
	r := newRand(c.w.seed, "filler", string(rm.id))
	lines := make([]groupLine, 0, rm.older+len(rm.recent))
	for range rm.older {
		f := filler[r.IntN(len(filler))]
		from := ""
		if !f.out {
			from = rm.members[r.IntN(len(rm.members))]
		}
		lines = append(lines, groupLine{from, f.text})
	}
	lines = append(lines, rm.recent...)
	times := c.historyTimes(rm.id, len(lines))
	for i, l := range lines {
		lg.msgs = append(lg.msgs, c.message(lg, c.byKey[l.from], l.text, times[i], networkID(c.net, c.w.seed, "hist", string(rm.id), strconv.Itoa(i))))
	}
	return lg
}

// message builds a message in lg from p (nil: the user).
func (c *conn) message(lg *chatLog, p *peer, body string, at time.Time, nid protocols.MessageID) protocols.Message {
	m := protocols.Message{
		NetworkID: nid, Chat: lg.chat, Body: body, Sent: at, Received: at,
		Encryption: c.chatEncryption(lg.chat.ID),
	}
	if p == nil {
		m.Sender, m.Outgoing = c.self, true
	} else {
		m.Sender = p.addr
	}
	return m
}

func (c *conn) chatEncryption(chat protocols.ChatID) protocols.Encryption {
	if r, ok := c.rooms[protocols.ChatID(string(chat))]; ok {
		return r.enc
	}
	for _, p := range c.peers {
		if p.chat == chat {
			return p.id.enc
		}
	}
	return c.defaultEncryption()
}

// defaultEncryption is what a new peer would get: Matrix creates an
// encrypted DM, WhatsApp always encrypts, XMPP here has no OMEMO.
func (c *conn) defaultEncryption() protocols.Encryption {
	if c.net == protocols.XMPP {
		return protocols.EncTransport
	}
	return protocols.EncE2EE
}

func (c *conn) Network() protocols.Network           { return c.net }
func (c *conn) Capabilities() protocols.Capabilities { return c.caps }
func (c *conn) Events() <-chan protocols.Event       { return c.events }

// Connect goes online after a short simulated handshake and starts the
// script. Calling it again while connected is a no-op (history is not sent
// twice); while the network is down it fails with ErrNotConnected. Close is
// final.
func (c *conn) Connect(ctx context.Context) error {
	if err := c.linkErr(false); err != nil {
		if errors.Is(err, errAlreadyConnected) {
			return nil
		}
		return err
	}
	t := time.NewTimer(c.sched.real(150 * time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.sched.done:
		return fmt.Errorf("demo %s: %w: connector closed", c.net, protocols.ErrNotConnected)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("demo %s: %w: connector closed", c.net, protocols.ErrNotConnected)
	}
	if c.connected {
		c.mu.Unlock()
		return nil
	}
	c.connected = true
	c.mu.Unlock()
	c.log.Debug().Msg("connected")
	c.startScript()
	c.sched.run()
	return nil
}

var errAlreadyConnected = errors.New("already connected")

// linkErr says why traffic cannot flow now. With needConnected false it
// checks whether Connect may proceed instead.
func (c *conn) linkErr(needConnected bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return fmt.Errorf("demo %s: %w: connector closed", c.net, protocols.ErrNotConnected)
	case c.down:
		return fmt.Errorf("demo %s: %w: network down (simulated outage)", c.net, protocols.ErrNotConnected)
	case needConnected && !c.connected:
		return fmt.Errorf("demo %s: %w: Connect first", c.net, protocols.ErrNotConnected)
	case !needConnected && c.connected:
		return errAlreadyConnected
	}
	return nil
}

// emit puts ev on the events channel; it gives up (false) once closed.
func (c *conn) emit(ev protocols.Event) bool {
	c.emitMu.RLock()
	defer c.emitMu.RUnlock()
	if c.eventsClosed {
		return false
	}
	select {
	case c.events <- ev:
		return true
	case <-c.sched.done:
		return false
	}
}

// onLink wraps network traffic: while the network is down it is held and
// replayed when the network comes back, as a server would deliver it.
func (c *conn) onLink(fn func()) func(time.Duration) {
	return func(time.Duration) {
		c.mu.Lock()
		if c.down {
			c.held = append(c.held, fn)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		fn()
	}
}

// setDown changes the link state at virtual time at.
func (c *conn) setDown(down bool, at time.Duration, detail string) {
	c.mu.Lock()
	if c.down == down || c.closed {
		c.mu.Unlock()
		return
	}
	c.down = down
	live := c.connected
	var held []func()
	if !down {
		held, c.held = c.held, nil
	}
	c.mu.Unlock()
	if !live {
		return
	}
	if down {
		c.log.Debug().Msg("network down")
		c.emit(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: protocols.ErrNotConnected, Detail: detail})
		return
	}
	c.log.Debug().Int("held", len(held)).Msg("network up")
	c.emit(protocols.ConnectionEvent{State: protocols.ConnOnline, Detail: "demo: network back"})
	for i, fn := range held {
		c.sched.at(at+time.Duration(i+1)*250*time.Millisecond, c.onLink(fn))
	}
}

// Close stops the script and every timer and closes the events channel.
func (c *conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.sched.stop()
	c.emitMu.Lock()
	if !c.eventsClosed {
		c.eventsClosed = true
		close(c.events)
	}
	c.emitMu.Unlock()
	return nil
}

// PeerEncryption is the class a message to peer gets: the identity's class,
// a room's class, or the network's default for an unknown address.
func (c *conn) PeerEncryption(peer protocols.Address) protocols.Encryption {
	if peer.Network != "" && peer.Network != c.net {
		return protocols.EncNone
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.peers[peer.ID]; ok {
		return p.id.enc
	}
	if r, ok := c.rooms[protocols.ChatID(peer.ID)]; ok {
		return r.enc
	}
	return c.defaultEncryption()
}

// Send delivers msg to the simulated peer. A ClientID already acked is
// acked again with the same result and not delivered twice. The contact
// then shows typing and replies; delivered/read receipts follow as the
// network supports them.
func (c *conn) Send(ctx context.Context, msg protocols.OutgoingMessage) (protocols.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return protocols.SendResult{}, err
	}
	if err := c.linkErr(true); err != nil {
		return protocols.SendResult{}, err
	}
	if msg.To.Network != "" && msg.To.Network != c.net {
		return protocols.SendResult{}, fmt.Errorf("demo %s: %w: %s is a %s address", c.net, protocols.ErrUnknownPeer, msg.To.ID, msg.To.Network)
	}
	if msg.To.ID == "" && msg.Chat == "" {
		return protocols.SendResult{}, fmt.Errorf("demo %s: %w: no recipient", c.net, protocols.ErrUnknownPeer)
	}
	if strings.TrimSpace(msg.Body) == "" && msg.File == nil {
		return protocols.SendResult{}, fmt.Errorf("demo %s: empty message", c.net)
	}
	if !utf8.ValidString(msg.Body) {
		return protocols.SendResult{}, fmt.Errorf("demo %s: message is not valid UTF-8", c.net)
	}
	if c.caps.MaxBody > 0 && len(msg.Body) > c.caps.MaxBody {
		return protocols.SendResult{}, fmt.Errorf("demo %s: message is %d bytes, the network allows %d", c.net, len(msg.Body), c.caps.MaxBody)
	}

	c.mu.Lock()
	if msg.ClientID != "" {
		if res, ok := c.sent[msg.ClientID]; ok {
			c.mu.Unlock()
			c.w.record(Outbound{Kind: OutMessage, Account: c.account, Network: c.net, ClientID: string(msg.ClientID),
				NetworkID: string(res.NetworkID), To: msg.To, Chat: string(res.Chat), Body: msg.Body, Encryption: res.Encryption,
				Resend: true, At: c.w.now()})
			c.log.Debug().Str("client_id", string(msg.ClientID)).Msg("resend acked, not delivered again")
			return res, nil
		}
	}
	chat, responder, rm := c.resolveLocked(msg)
	enc := c.defaultEncryption()
	switch {
	case rm != nil:
		enc = rm.enc
	case responder != nil:
		enc = responder.id.enc
	}
	if enc < msg.MinEncryption {
		c.mu.Unlock()
		return protocols.SendResult{}, fmt.Errorf("demo %s: %w: %s offers %s, %s required", c.net,
			protocols.ErrEncryptionUnavailable, msg.To.ID, enc.Label(), msg.MinEncryption.Label())
	}
	c.liveCount++
	clientID := msg.ClientID
	if clientID == "" {
		clientID = protocols.ClientID("demo-auto-" + strconv.FormatUint(c.liveCount, 10))
	}
	res := protocols.SendResult{
		NetworkID:  networkID(c.net, c.w.seed, "sent", strconv.FormatUint(c.liveCount, 10), string(clientID)),
		Chat:       chat,
		Encryption: enc,
		At:         c.w.now(),
	}
	if msg.File != nil {
		att, err := c.upload(*msg.File, clientID)
		if err != nil {
			c.mu.Unlock()
			return protocols.SendResult{}, err
		}
		res.Attachments = []protocols.Attachment{att}
	}
	c.sent[clientID] = res
	lg := c.chatLocked(chat, rm != nil)
	m := c.message(lg, nil, msg.Body, res.At, res.NetworkID)
	m.ClientID, m.ReplyTo, m.Encryption, m.Attachments = clientID, msg.ReplyTo, enc, res.Attachments
	lg.msgs = append(lg.msgs, m)
	c.mu.Unlock()

	c.w.record(Outbound{Kind: OutMessage, Account: c.account, Network: c.net, ClientID: string(clientID),
		NetworkID: string(res.NetworkID), To: msg.To, Chat: string(chat), Body: msg.Body, Encryption: enc, At: res.At})
	c.w.deliver(string(clientID))
	c.log.Debug().Str("client_id", string(clientID)).Str("chat", string(chat)).Msg("sent")

	if rm != nil && len(rm.members) > 0 {
		c.mu.Lock()
		n := c.replies[string(rm.id)]
		c.replies[string(rm.id)]++
		c.mu.Unlock()
		responder = c.byKey[rm.members[newRand(c.w.seed, "member", string(rm.id), strconv.Itoa(n)).IntN(len(rm.members))]]
	}
	if responder != nil {
		ref := res.NetworkID
		if c.net == protocols.XMPP {
			ref = protocols.MessageID(clientID) // XEP-0184 receipts name the id we sent
		}
		c.respond(chat, rm != nil, responder, ref)
	}
	return res, nil
}

// resolveLocked finds the chat, the peer and the room msg goes to.
func (c *conn) resolveLocked(msg protocols.OutgoingMessage) (chat protocols.ChatID, p *peer, rm *room) {
	if r, ok := c.rooms[protocols.ChatID(string(msg.Chat))]; ok {
		return r.id, nil, r
	}
	if r, ok := c.rooms[protocols.ChatID(msg.To.ID)]; ok {
		return r.id, nil, r
	}
	if pr, ok := c.peers[msg.To.ID]; ok {
		return pr.chat, pr, nil
	}
	for _, pr := range c.peers {
		if msg.Chat != "" && pr.chat == msg.Chat {
			return pr.chat, pr, nil
		}
	}
	if msg.Chat != "" {
		return msg.Chat, nil, nil
	}
	if c.net == protocols.Matrix {
		return protocols.ChatID("!dm-" + strings.NewReplacer("@", "", ":", "-").Replace(msg.To.ID) + ":" + matrixServer), nil, nil
	}
	return protocols.ChatID(msg.To.ID), nil, nil
}

// chatLocked returns the log of chat, creating it for a new peer.
func (c *conn) chatLocked(chat protocols.ChatID, group bool) *chatLog {
	lg, ok := c.chats[protocols.ChatID(string(chat))]
	if !ok {
		lg = &chatLog{chat: protocols.Chat{ID: chat, Group: group}}
		c.chats[protocols.ChatID(string(chat))] = lg
	}
	return lg
}

// respond schedules what the peer's phone does with the user's message:
// a delivery receipt, a read receipt, typing, then one reply per burst.
func (c *conn) respond(chat protocols.ChatID, group bool, p *peer, ref protocols.MessageID) {
	c.mu.Lock()
	n := c.replies[p.person.key]
	replyPending := c.replying[protocols.ChatID(string(chat))]
	if !replyPending {
		c.replying[protocols.ChatID(string(chat))] = true
		c.replies[p.person.key]++
	}
	c.mu.Unlock()

	r := newRand(c.w.seed, "reply", string(c.net), p.person.key, strconv.Itoa(n))
	base := c.sched.now()
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	readAt := base + sec(1.2+r.Float64())
	if c.caps.Receipts {
		c.sched.at(base+sec(0.5), c.onLink(func() {
			c.emit(protocols.ReceiptEvent{Chat: chat, IDs: []protocols.MessageID{ref}, Kind: protocols.ReceiptDelivered, From: p.addr, At: c.w.now()})
		}))
	}
	if c.caps.ReadMarkers {
		c.sched.at(readAt, c.onLink(func() {
			c.emit(protocols.ReceiptEvent{Chat: chat, IDs: []protocols.MessageID{ref}, Kind: protocols.ReceiptRead, From: p.addr, At: c.w.now()})
		}))
	}
	if replyPending {
		return
	}
	text := p.person.replies[r.IntN(len(p.person.replies))]
	typeAt := readAt + sec(0.4+r.Float64())
	replyAt := typeAt + sec(1.2) + time.Duration(utf8.RuneCountInString(text))*60*time.Millisecond
	c.sched.at(typeAt, c.onLink(func() {
		c.emit(protocols.TypingEvent{Chat: chat, From: p.addr, Typing: true})
	}))
	c.sched.at(replyAt, c.onLink(func() {
		c.mu.Lock()
		c.replying[protocols.ChatID(string(chat))] = false
		c.mu.Unlock()
		c.emit(protocols.TypingEvent{Chat: chat, From: p.addr, Typing: false})
		c.incoming(chat, group, p, text)
	}))
}

// incoming appends a live message from p to chat and emits it.
func (c *conn) incoming(chat protocols.ChatID, group bool, p *peer, body string) protocols.Message {
	c.mu.Lock()
	lg := c.chatLocked(chat, group)
	c.liveCount++
	now := c.w.now()
	m := c.message(lg, p, body, now, networkID(c.net, c.w.seed, "live", string(chat), strconv.FormatUint(c.liveCount, 10)))
	lg.msgs = append(lg.msgs, m)
	c.mu.Unlock()
	c.emit(protocols.MessageEvent{Message: m})
	return m
}

// MarkRead records the read marker the user sends.
func (c *conn) MarkRead(ctx context.Context, chat protocols.ChatID, networkID protocols.MessageID) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	c.w.record(Outbound{Kind: OutRead, Account: c.account, Network: c.net, Chat: string(chat), NetworkID: string(networkID),
		To: c.chatPeer(chat), At: c.w.now()})
	return nil
}

// SetTyping records the typing notice the user sends.
func (c *conn) SetTyping(ctx context.Context, chat protocols.ChatID, typing bool) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	c.w.record(Outbound{Kind: OutTyping, Account: c.account, Network: c.net, Chat: string(chat), Typing: typing,
		To: c.chatPeer(chat), At: c.w.now()})
	return nil
}

func (c *conn) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.linkErr(true)
}

// chatPeer is the peer (or room) address behind chat, if known.
func (c *conn) chatPeer(chat protocols.ChatID) protocols.Address {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.rooms[protocols.ChatID(string(chat))]; ok {
		return protocols.Address{Network: c.net, Account: protocols.AccountID(c.account), ID: string(r.id), Server: matrixServer}
	}
	for _, p := range c.peers {
		if p.chat == chat {
			return p.addr
		}
	}
	return protocols.Address{}
}

// maxPage caps one FetchHistory page.
const maxPage = 200

// FetchHistory pages backwards through a chat's history. The cursor is
// opaque ("before:<n>"); an empty cursor means the newest page.
func (c *conn) FetchHistory(ctx context.Context, chat protocols.ChatID, before string, limit int) (protocols.HistoryPage, error) {
	if err := c.check(ctx); err != nil {
		return protocols.HistoryPage{}, err
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, maxPage)
	c.mu.Lock()
	defer c.mu.Unlock()
	lg, ok := c.chats[chat]
	if !ok {
		return protocols.HistoryPage{}, fmt.Errorf("demo %s: %w: no chat %q", c.net, protocols.ErrUnknownPeer, chat)
	}
	end := len(lg.msgs)
	if before != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(before, "before:"))
		if !strings.HasPrefix(before, "before:") || err != nil || n < 0 || n > len(lg.msgs) {
			return protocols.HistoryPage{}, fmt.Errorf("demo %s: invalid history cursor %q", c.net, before)
		}
		end = n
	}
	start := max(0, end-limit)
	page := protocols.HistoryPage{Messages: append([]protocols.Message(nil), lg.msgs[start:end]...)}
	if start > 0 {
		page.Before = "before:" + strconv.Itoa(start)
	}
	return page, nil
}

// AnswerRequest records the user's answer; accepting an XMPP subscription
// puts the contact on the roster, as a server would push it.
func (c *conn) AnswerRequest(ctx context.Context, from protocols.Address, chat protocols.ChatID, accept bool) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	c.w.record(Outbound{Kind: OutRequestAnswer, Account: c.account, Network: c.net, To: from, Chat: string(chat),
		Accept: accept, At: c.w.now()})
	if accept && c.net == protocols.XMPP {
		c.mu.Lock()
		p := c.peers[from.ID]
		c.mu.Unlock()
		if p != nil {
			c.sched.after(300*time.Millisecond, c.onLink(func() {
				c.emit(protocols.ContactEvent{Contact: p.addr, Name: p.person.name, Subscription: "both"})
			}))
		}
	}
	return nil
}

// Edit corrects a sent message; idempotent per clientID like Send.
func (c *conn) Edit(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, clientID protocols.ClientID, newBody string) (protocols.SendResult, error) {
	if err := c.check(ctx); err != nil {
		return protocols.SendResult{}, err
	}
	if strings.TrimSpace(newBody) == "" || !utf8.ValidString(newBody) {
		return protocols.SendResult{}, fmt.Errorf("demo %s: edit needs a non-empty UTF-8 body", c.net)
	}
	c.mu.Lock()
	res, dup := c.sent["edit:"+clientID]
	if !dup {
		c.liveCount++
		res = protocols.SendResult{
			NetworkID:  networkID(c.net, c.w.seed, "edit", strconv.FormatUint(c.liveCount, 10), string(clientID)),
			Chat:       chat,
			Encryption: c.chatEncryption(chat),
			At:         c.w.now(),
		}
		if clientID != "" {
			c.sent["edit:"+clientID] = res
		}
	}
	c.mu.Unlock()
	c.w.record(Outbound{Kind: OutEdit, Account: c.account, Network: c.net, ClientID: string(clientID), NetworkID: string(targetID),
		Chat: string(chat), Body: newBody, Encryption: res.Encryption, Resend: dup, At: c.w.now()})
	return res, nil
}

// React records a reaction the user set or removed.
func (c *conn) React(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, key string, remove bool) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	c.w.record(Outbound{Kind: OutReaction, Account: c.account, Network: c.net, Chat: string(chat), NetworkID: string(targetID),
		Body: key, Remove: remove, At: c.w.now()})
	return nil
}

// Retract records the deletion of a sent message.
func (c *conn) Retract(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	c.w.record(Outbound{Kind: OutRetraction, Account: c.account, Network: c.net, Chat: string(chat), NetworkID: string(targetID),
		At: c.w.now()})
	return nil
}
