package demo

import (
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"polyglot/protocols"
)

// Options configures a World.
type Options struct {
	// Seed picks the world's content; the same seed gives the same world.
	Seed int64
	// Speed multiplies time: 1 is real time, 50 makes a 20 s step take
	// 0.4 s. Values ≤ 0 mean 1.
	Speed float64
	// Now stamps events and anchors history; nil means time.Now.
	Now func() time.Time
	// Logger receives debug lines (never message bodies); zero value is Nop.
	Logger zerolog.Logger
}

// Account is one simulated account of the user.
type Account struct {
	ID        string // "demo-matrix", "demo-xmpp", "demo-whatsapp"
	Network   protocols.Network
	Self      protocols.Address
	Connector protocols.Connector
}

// OutboundKind says what the user side sent to a simulated network.
type OutboundKind int

const (
	OutMessage       OutboundKind = iota + 1 // Send
	OutRead                                  // MarkRead (read receipt)
	OutTyping                                // SetTyping
	OutRequestAnswer                         // AnswerRequest
	OutEdit                                  // Edit
	OutReaction                              // React
	OutRetraction                            // Retract
)

func (k OutboundKind) String() string {
	switch k {
	case OutMessage:
		return "message"
	case OutRead:
		return "read"
	case OutTyping:
		return "typing"
	case OutRequestAnswer:
		return "request-answer"
	case OutEdit:
		return "edit"
	case OutReaction:
		return "reaction"
	case OutRetraction:
		return "retraction"
	}
	return fmt.Sprintf("outbound(%d)", int(k))
}

// Outbound is one thing the user side put on a simulated network. Only
// calls that reached the network are recorded (not ones refused because the
// network was down or the encryption too weak).
type Outbound struct {
	Kind       OutboundKind
	Account    string
	Network    protocols.Network
	ClientID   string            // OutMessage, OutEdit
	NetworkID  string            // ack for OutMessage/OutEdit; target of read/reaction/retraction/edit
	To         protocols.Address // OutMessage peer or room; OutRequestAnswer: who asked
	Chat       string
	Body       string // OutMessage/OutEdit body; OutReaction key
	Encryption protocols.Encryption
	Typing     bool // OutTyping
	Accept     bool // OutRequestAnswer
	Remove     bool // OutReaction
	// Resend is set when a Send reused a ClientID already acked: the peer
	// did not receive it again.
	Resend bool
	At     time.Time
}

// World is the simulated multi-network world. Safe for concurrent use.
type World struct {
	seed  int64
	speed float64
	now   func() time.Time
	log   zerolog.Logger
	start time.Time // history is anchored here

	conns []*conn // Matrix, XMPP, WhatsApp

	outMu     sync.Mutex
	out       []Outbound
	delivered map[protocols.ClientID]int

	filesMu sync.Mutex
	files   map[string][]byte // files the user sent, by their demo URL
}

// New builds the world. Nothing runs until a connector's Connect.
func New(opts Options) *World {
	w := &World{
		seed:      opts.Seed,
		speed:     opts.Speed,
		now:       opts.Now,
		log:       opts.Logger,
		delivered: map[protocols.ClientID]int{},
	}
	if w.speed <= 0 {
		w.speed = 1
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.start = w.now()
	people := cast()
	for _, n := range protocols.Networks {
		w.conns = append(w.conns, newConn(w, n, people))
	}
	return w
}

// AccountID is the account ID of the simulated account on network n.
func AccountID(n protocols.Network) string { return "demo-" + string(n) }

// Accounts lists the user's simulated accounts, one per network.
func (w *World) Accounts() []Account {
	out := make([]Account, 0, len(w.conns))
	for _, c := range w.conns {
		out = append(out, Account{ID: c.account, Network: c.net, Self: c.self, Connector: c})
	}
	return out
}

// People returns groups of identities the simulated user has already
// confirmed as one person. Sam Okafor's XMPP and WhatsApp identities are
// deliberately left out, so a same-name merge suggestion shows.
func (w *World) People() [][]protocols.Address {
	var groups [][]protocols.Address
	for _, p := range cast() {
		if !p.merged {
			continue
		}
		var g []protocols.Address
		for _, id := range p.ids {
			g = append(g, id.address())
		}
		groups = append(groups, g)
	}
	return groups
}

// SetDown simulates an outage of network n (down) or its end. A connected
// connector emits ConnectionEvent offline/online; while down, Send,
// MarkRead, SetTyping and FetchHistory return protocols.ErrNotConnected and
// incoming traffic is held until the network is back.
func (w *World) SetDown(n protocols.Network, down bool) {
	if c := w.conn(n); c != nil {
		c.setDown(down, c.sched.now(), "demo: simulated outage (test control)")
	}
}

// Outbound returns a copy of everything the user side sent, in order.
func (w *World) Outbound() []Outbound {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return append([]Outbound(nil), w.out...)
}

// Delivered reports how many times a peer received the message with this
// client ID (over all networks). Send is idempotent per ClientID on a
// network, so a resend does not raise the count.
func (w *World) Delivered(clientID string) int {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return w.delivered[protocols.ClientID(clientID)]
}

// Inject pushes ev on the events channel of the given account right away,
// as if the network had just said it. It blocks while the channel is full
// and returns an error for an unknown account or after Close.
func (w *World) Inject(account string, ev protocols.Event) error {
	for _, c := range w.conns {
		if c.account == account {
			if ev == nil {
				return fmt.Errorf("demo: inject on %s: nil event", account)
			}
			if !c.emit(ev) {
				return fmt.Errorf("demo: inject on %s: connector closed", account)
			}
			return nil
		}
	}
	return fmt.Errorf("demo: inject: unknown account %q (want demo-matrix, demo-xmpp or demo-whatsapp)", account)
}

// Close closes every connector and stops every timer.
func (w *World) Close() error {
	for _, c := range w.conns {
		_ = c.Close()
	}
	return nil
}

func (w *World) conn(n protocols.Network) *conn {
	for _, c := range w.conns {
		if c.net == n {
			return c
		}
	}
	return nil
}

func (w *World) record(o Outbound) {
	w.outMu.Lock()
	w.out = append(w.out, o)
	w.outMu.Unlock()
}

func (w *World) deliver(clientID string) {
	w.outMu.Lock()
	w.delivered[protocols.ClientID(clientID)]++
	w.outMu.Unlock()
}

// Say makes the cast member with address id write body to the user on
// account, live: it lands in their chat's history and on the events
// channel, as the peer's phone would send it.
func (w *World) Say(account, id, body string) (protocols.Message, error) {
	for _, c := range w.conns {
		if c.account != account {
			continue
		}
		c.mu.Lock()
		var from *peer
		for _, p := range c.peers {
			if p.addr.ID == id {
				from = p
			}
		}
		c.mu.Unlock()
		if from == nil {
			return protocols.Message{}, fmt.Errorf("demo: %s knows no %q", account, id)
		}
		if err := c.linkErr(true); err != nil {
			return protocols.Message{}, err
		}
		return c.incoming(from.chat, false, from, body), nil
	}
	return protocols.Message{}, fmt.Errorf("demo: say: unknown account %q", account)
}
