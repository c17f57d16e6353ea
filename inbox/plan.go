package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"polyglot/protocols"
)

// The route plan is the one answer to "how does the next message go?". The
// route line above the composer, the downgrade prompt, Send and `polyglot
// send` all read it, so what the screen says is what the message does.

// PlanKind says what the next message is.
type PlanKind int

const (
	PlanNew   PlanKind = iota // a new message
	PlanReply                 // a reply: it travels where the answered message did
	PlanEdit                  // a correction: only through the account the message went out on
)

// noun names the message a plan is for, in running text.
func (k PlanKind) noun() string {
	switch k {
	case PlanReply:
		return "the reply"
	case PlanEdit:
		return "the edit"
	}
	return "the message"
}

// RouteOptions says what the next message is and what the user said about
// its route.
type RouteOptions struct {
	// ReplyTo is the local ID of the message answered (0: not a reply).
	ReplyTo MessageID
	// EditOf is the local ID of the user's own message corrected (0: not
	// an edit). An edit ignores Route and Queue.
	EditOf MessageID
	// Route is an explicit pick from Routes; nil lets the router choose.
	Route *Route
	// AllowDowngrade is the user's yes, for THIS message, to a weaker
	// encryption class than the best route offers.
	AllowDowngrade bool
	// Queue waits for the best route to come online instead of sending
	// weaker now.
	Queue bool
	// File: the message carries a file. Only routes that can upload one
	// count, and an upload weaker than the text on its route is a
	// downgrade (fileClass).
	File bool
}

// RoutePlan is how the next message of a conversation goes.
type RoutePlan struct {
	Conversation ConversationID
	Kind         PlanKind
	// Route is where it goes: network, account, address, and the encryption
	// class it gets; Route.Online false means it waits for the account.
	Route Route
	// Best is the route a downgrade is measured against: the strongest
	// route (or, for a weaker pick, the strongest one online).
	Best Route
	// Routes are all routes, ranked best first (ctrl+r cycles them).
	Routes []Route
	// Picked: the user chose Route by hand.
	Picked bool
	// Fallback: Route is not the top-ranked route.
	Fallback bool
	// Downgrade: Route is weaker than Best.
	Downgrade bool
	// NeedsOK: a downgrade nobody allowed; Send refuses it with a
	// *DowngradeError until the user says yes (or waits, if CanQueue).
	NeedsOK bool
	// ByRule: the downgrade is allowed by the person's visible rule.
	ByRule bool
	// Queued: Route is offline; the message is stored and waits for it.
	Queued bool
	// CanQueue: instead of a yes, the user may wait for Best (offline).
	CanQueue bool
	// Unavailable: the message cannot go now at all (an edit whose
	// account is offline); Send refuses with protocols.ErrNotConnected.
	Unavailable bool
	// Unlinked: a reply that goes as a plain message, because it does not
	// travel on the account the answered message came through.
	Unlinked bool
	// Line explains the plan on the route line ("" for the plain best
	// route); Notice is what a message sent this way records.
	Line   string
	Notice string

	replyTo string // network ID a linked reply points at
}

// PlanRoute decides how the next message of conversation conv goes. Errors:
// ErrNoRoute (no account reaches the conversation, or the account of an
// edited message does not any more), ErrNotFound, ErrNotOwn, ErrNotOnNetwork
// (for ReplyTo/EditOf).
func (in *Inbox) PlanRoute(ctx context.Context, conv ConversationID, opts RouteOptions) (RoutePlan, error) {
	rs, rc, err := in.routes(conv)
	if err != nil {
		return RoutePlan{}, err
	}
	return in.plan(conv, rs, rc, opts)
}

// planTarget is what the plan needs of an answered or edited message.
type planTarget struct {
	account, networkID, peer string
	network                  protocols.Network
	outgoing, deleted, text  bool
}

func (in *Inbox) planTarget(conv ConversationID, id MessageID) (planTarget, error) {
	var (
		t                   planTarget
		c                   ConversationID
		kind, out, del      int
		net, toID, senderID string
	)
	err := in.db.QueryRow(`SELECT conversation_id, kind, account, network, coalesce(network_id, ''), outgoing, deleted, to_id, sender
		FROM messages WHERE id = ?`, id).Scan(&c, &kind, &t.account, &net, &t.networkID, &out, &del, &toID, &senderID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && c != conv) {
		return t, fmt.Errorf("inbox: message %d in conversation %d: %w", id, conv, ErrNotFound)
	}
	if err != nil {
		return t, err
	}
	t.network, t.outgoing, t.deleted, t.text = protocols.Network(net), out == 1, del == 1, MessageKind(kind) == KindText
	t.peer = senderID
	if t.outgoing {
		t.peer = toID
	}
	return t, nil
}

// routeOn is the route through account, preferring the one to peer.
func routeOn(rs []Route, account, peer string) *Route {
	var first *Route
	for i := range rs {
		if rs[i].Account != account {
			continue
		}
		if rs[i].To.ID == peer {
			return &rs[i]
		}
		if first == nil {
			first = &rs[i]
		}
	}
	return first
}

func (in *Inbox) plan(conv ConversationID, rs []Route, rc routeCtx, opts RouteOptions) (RoutePlan, error) {
	p := RoutePlan{Conversation: conv, Routes: rs}
	if len(rs) == 0 {
		return p, fmt.Errorf("no route to %s: %w", rc.title, ErrNoRoute)
	}
	if opts.File {
		if opts.EditOf != 0 {
			return p, fmt.Errorf("inbox: an edit cannot carry a file: %w", ErrNotFound)
		}
		if rs = in.fileRoutes(rs); len(rs) == 0 {
			return p, fmt.Errorf("no route to %s can carry a file: %w", rc.title, ErrNoRoute)
		}
		p.Routes = rs
	}
	var bound *Route // the route the message must take, if any
	switch {
	case opts.EditOf != 0:
		p.Kind = PlanEdit
		t, err := in.planTarget(conv, opts.EditOf)
		if err != nil {
			return p, err
		}
		switch {
		case !t.text || t.deleted:
			return p, fmt.Errorf("inbox: message %d cannot be edited: %w", opts.EditOf, ErrNotFound)
		case !t.outgoing:
			return p, fmt.Errorf("inbox: message %d: %w", opts.EditOf, ErrNotOwn)
		case t.networkID == "":
			return p, fmt.Errorf("inbox: message %d: %w", opts.EditOf, ErrNotOnNetwork)
		}
		if bound = routeOn(rs, t.account, t.peer); bound == nil {
			return p, fmt.Errorf("the %s account %s that message went out on cannot reach %s now: %w",
				NetworkName(t.network), t.account, rc.title, ErrNoRoute)
		}
		opts.Queue = false
	case opts.Route != nil:
		p.Picked = true
		for i := range rs {
			if rs[i].Account == opts.Route.Account && rs[i].To.ID == opts.Route.To.ID && rs[i].Network == opts.Route.Network {
				bound = &rs[i]
				break
			}
		}
		if bound == nil {
			return p, fmt.Errorf("route %s is not available for %s: %w", opts.Route, rc.title, ErrNoRoute)
		}
	}
	if opts.ReplyTo != 0 && p.Kind != PlanEdit {
		p.Kind = PlanReply
		t, err := in.planTarget(conv, opts.ReplyTo)
		if err != nil {
			return p, err
		}
		// A network ID means nothing elsewhere: a reply is linked only on
		// the account the answered message travelled through. A pick of
		// another route wins, and the reply goes as a plain message.
		on := routeOn(rs, t.account, t.peer)
		why := "no route on"
		switch {
		case t.networkID == "" || on == nil:
			p.Unlinked = true
		case bound == nil:
			bound = on
			p.replyTo = t.networkID
		case bound.Account == t.account:
			p.replyTo = t.networkID
		default:
			p.Unlinked, why = true, "your pick is not on"
		}
		if p.Unlinked {
			p.Line = fmt.Sprintf("%s %s, where that message came from: the reply goes as a plain message", why, NetworkName(t.network))
		}
	}
	allowed := opts.AllowDowngrade || rc.allowDowngrade
	if bound != nil {
		p.bind(*bound, allowed)
	} else {
		p.automatic(allowed, opts.Queue)
	}
	fileDown := opts.File && p.fileClass(in.fileEncryption(p.Route), allowed)
	p.Fallback = routeKey(p.Route) != routeKey(rs[0])
	p.ByRule = p.Downgrade && !p.NeedsOK && !opts.AllowDowngrade
	p.Unavailable = p.Kind == PlanEdit && !p.Route.Online
	p.Queued = !p.Route.Online && !p.NeedsOK && !p.Unavailable
	if fileDown {
		p.Line = joinLine(p.Line, p.fileLine())
	} else {
		p.Line = joinLine(p.Line, p.line())
	}
	if !p.NeedsOK && !p.Unavailable {
		p.Notice = p.notice(opts.AllowDowngrade)
		if fileDown {
			p.Notice = p.fileLine()
		}
	}
	return p, nil
}

func routeKey(r Route) string { return r.Account + "\x00" + string(r.Network) + "\x00" + r.To.ID }

func joinLine(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

// bind plans a message bound to route r (a pick, a reply, an edit): it
// never goes weaker than the best route without allowed, even while the
// best route is offline — cycling routes with a key must not downgrade by
// accident.
func (p *RoutePlan) bind(r Route, allowed bool) {
	p.Route, p.Best = r, p.Routes[0]
	if r.Encryption >= p.Best.Encryption {
		return
	}
	for _, o := range p.Routes {
		if o.Online && o.Encryption > r.Encryption {
			p.Best = o // name the stronger route available now
			break
		}
	}
	p.Downgrade, p.NeedsOK = true, !allowed
	// A pick may give way to waiting for the best route; a reply or an
	// edit cannot travel elsewhere.
	p.CanQueue = p.NeedsOK && !p.Best.Online && p.Kind == PlanNew
}

// automatic applies the iMessage rule for a message the router routes: the
// best route if online; else the best online route that keeps the class;
// a weaker one only when allowed; with queue, or when nothing is online,
// wait for the best route.
func (p *RoutePlan) automatic(allowed, queue bool) {
	best := p.Routes[0]
	p.Route, p.Best = best, best
	if best.Online {
		return
	}
	var online *Route
	for i := range p.Routes {
		if p.Routes[i].Online {
			online = &p.Routes[i]
			break
		}
	}
	switch {
	case online == nil:
		// Nothing weaker is on offer either: the message waits for the best.
	case online.Encryption >= best.Encryption:
		p.Route = *online
	case allowed:
		p.Route, p.Downgrade = *online, true
	case queue:
		// The user chose to wait for the best route.
	default:
		p.Route, p.Downgrade, p.NeedsOK, p.CanQueue = *online, true, true, true
	}
}

// binding says what ties a message to its route ("" when the router
// chose it).
func (p *RoutePlan) binding() string {
	switch {
	case p.Kind == PlanEdit:
		return "an edit goes where the message went"
	case p.replyTo != "":
		return "a reply goes the way the message came"
	case p.Picked:
		return "your pick"
	}
	return ""
}

// waitsForBest: the router keeps the message for the best route although a
// weaker one is online (the user chose to wait).
func (p *RoutePlan) waitsForBest() bool {
	if p.binding() != "" || p.Route.Online || routeKey(p.Route) != routeKey(p.Routes[0]) {
		return false
	}
	for _, r := range p.Routes {
		if r.Online {
			return true
		}
	}
	return false
}

// line is the plan in words for the route line, present tense.
func (p *RoutePlan) line() string {
	r, b, top := p.Route, p.Best, p.Routes[0]
	rn, bn := NetworkName(r.Network), NetworkName(b.Network)
	enc, benc := r.Encryption.Label(), b.Encryption.Label()
	bind := p.binding()
	switch {
	case p.Unavailable:
		return fmt.Sprintf("%s offline — %s: try again when it is back", rn, bind)
	case p.NeedsOK && bind == "":
		return fmt.Sprintf("%s offline — sending via %s (%s) needs your OK", bn, rn, enc)
	case p.NeedsOK:
		return fmt.Sprintf("%s: %s (%s) needs your OK — %s offers %s", bind, rn, enc, bn, benc)
	case p.Downgrade && bind == "":
		return fmt.Sprintf("%s offline — %s goes via %s, %s (was %s): your rule allows it", bn, p.Kind.noun(), rn, enc, benc)
	case p.Downgrade:
		return fmt.Sprintf("%s: %s, %s (%s offers %s) — your rule allows it", bind, rn, enc, bn, benc)
	case p.waitsForBest():
		return fmt.Sprintf("%s offline — %s waits for it to keep %s", rn, p.Kind.noun(), enc)
	case !r.Online:
		return fmt.Sprintf("%s offline — %s waits for it", rn, p.Kind.noun())
	case routeKey(r) == routeKey(top) || p.Picked:
		return ""
	case bind != "":
		return bind + ": " + rn
	}
	return fmt.Sprintf("%s offline — %s goes via %s, %s", NetworkName(top.Network), p.Kind.noun(), rn, stillOrNow(r, top))
}

// stillOrNow says how a fallback's class compares with the best route's.
func stillOrNow(r, top Route) string {
	if r.Encryption > top.Encryption {
		return "now " + r.Encryption.Label()
	}
	return "still " + r.Encryption.Label()
}

// queuedNotice ends a message's notice while it waits for an offline
// route; the outbox drops such a notice once the message went out.
const queuedNotice = " offline — queued"

// notice is what a message sent by this plan records, past tense.
func (p *RoutePlan) notice(thisMessage bool) string {
	r, b, top := p.Route, p.Best, p.Routes[0]
	rn, bn := NetworkName(r.Network), NetworkName(b.Network)
	yes := "your rule for this contact allows it"
	if thisMessage {
		yes = "you allowed it for this message"
	}
	var n string
	switch {
	case p.Downgrade && p.binding() != "":
		n = fmt.Sprintf("sent via %s, %s, although %s offers %s — %s", rn, r.Encryption.Label(), bn, b.Encryption.Label(), yes)
	case p.Downgrade:
		n = fmt.Sprintf("%s offline — sent via %s, %s (was %s) — %s", bn, rn, r.Encryption.Label(), b.Encryption.Label(), yes)
	case p.waitsForBest():
		n = fmt.Sprintf("%s%s to keep %s", rn, queuedNotice, r.Encryption.Label())
	case !r.Online:
		n = rn + queuedNotice
	case p.binding() == "" && routeKey(r) != routeKey(top):
		n = fmt.Sprintf("%s offline — sent via %s, %s", NetworkName(top.Network), rn, stillOrNow(r, top))
	}
	if p.Unlinked {
		n = joinLine(n, "sent as a plain message, not as a reply")
	}
	return n
}

// err is the refusal Send gives a plan it cannot carry out now.
func (p *RoutePlan) err() error {
	switch {
	case p.NeedsOK:
		return &DowngradeError{Best: p.Best, Offered: p.Route, Plan: *p}
	case p.Unavailable:
		return fmt.Errorf("inbox: %s account %s: %w", NetworkName(p.Route.Network), p.Route.Account, protocols.ErrNotConnected)
	}
	return nil
}
