package xmpp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/dial"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

// Connector is the XMPP protocols.Connector. One value serves one account
// for its whole life: after the link drops (ConnectionEvent offline) the
// supervisor calls Connect again on the same value; Events stays open until
// Close.
type Connector struct {
	cfg Config
	// uploads is the server's HTTP File Upload service, once found.
	uploads uploadCache
	me      jid.JID // bare
	log     zerolog.Logger
	events  chan protocols.Event
	closed  chan struct{}
	once    sync.Once

	connectMu sync.Mutex // one Connect at a time
	// stateMu orders ConnectionEvents: Online is emitted only while the
	// session is still alive, and an Offline for it always comes after.
	stateMu sync.Mutex

	mu       sync.Mutex
	sess     *mxmpp.Session
	sessEnd  context.CancelFunc // cancels waits tied to the current session
	sessCtx  context.Context
	bound    jid.JID // full JID of the current session
	gen      int
	verified bool
	// mamPos is our archive's catch-up position and roomPos each room's
	// (room → stanza-id): every message up to there is in the consumer's
	// store. They move only when the consumer commits a CheckpointEvent,
	// and are kept in DataDir.
	mamPos  string
	roomPos map[string]string
	// caughtUp: this session's catch-up reached the end of our archive, so
	// live messages (which follow it in stream order) may move mamPos.
	caughtUp bool
	carbons  bool             // carbons on: every message of the account is seen live
	rooms    map[string]*room // bare room JID
	queries  map[string]*mamCollect
	// msgID maps a NetworkID (stanza-id) and an origin-id to the sender's id
	// attribute, which markers, receipts, corrections and replies reference.
	msgID *lru[string]
	// ackable holds ids of incoming messages that asked for a receipt/marker,
	// per chat, so MarkRead can answer them.
	ackable *lru[string]
	seen    *lru[bool]     // NetworkIDs already delivered (live vs catch-up)
	outArch *lru[bool]     // our origin-ids found in our own archive
	react   *lru[[]string] // last reaction set per target+sender (XEP-0444 sends sets)
	// avail is each contact's available resources this session (bare →
	// resource → state): a contact is online while any client of theirs is.
	avail map[string]map[string]protocols.PresenceState

	// om is OMEMO (nil when off); republishing guards its bundle refresh.
	om           *omemo.Manager
	republishing atomic.Bool

	// backfillNext starts a first login's history backfill once the
	// login is through.
	backfillNext func()
	// beforePresence, if set, runs between the first catch-up pass and
	// the presence that ends the login (a test seam for that gap).
	beforePresence func()
}

type room struct {
	jid    jid.JID
	nick   string
	joined chan error // closed (or sent an error) when self-presence arrives
	done   bool
	// caughtUp: this join caught up with the room's archive (or had
	// nothing to catch up from), so live room messages may move its
	// position.
	caughtUp bool
	// OMEMO (mucomemo.go): infoKnown once the room said what it is;
	// omemo when it is members-only and non-anonymous; members from its
	// affiliation lists; occupants maps nicks to the real bare JIDs their
	// presence shows (this join's).
	infoKnown bool
	omemo     bool
	members   map[string]bool
	occupants map[string]string
	learning  bool // a learnRoom runs (at most one per room at a time)
	again     bool // learn once more when it ends (a member came meanwhile)
}

// New validates cfg and returns an unconnected Connector.
func New(cfg Config) (*Connector, error) {
	me, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	c := &Connector{
		cfg:     cfg,
		me:      me,
		log:     cfg.Logger.With().Str("xmpp", me.String()).Logger(),
		events:  make(chan protocols.Event, 1024),
		closed:  make(chan struct{}),
		rooms:   map[string]*room{},
		queries: map[string]*mamCollect{},
		msgID:   newLRU[string](8192),
		ackable: newLRU[string](4096),
		seen:    newLRU[bool](16384),
		outArch: newLRU[bool](8192),
		react:   newLRU[[]string](4096),
	}
	c.mamPos, c.roomPos = c.loadPos()
	if err := c.openOMEMO(); err != nil {
		return nil, err
	}
	for _, r := range cfg.Rooms {
		if rj, err := jid.Parse(r); err == nil {
			k := rj.Bare().String()
			c.rooms[k] = &room{jid: rj.Bare(), nick: cfg.Nick}
		}
	}
	return c, nil
}

var _ interface {
	protocols.Connector
	protocols.Editor
	protocols.Reactor
	protocols.Retractor
	protocols.RequestResponder
} = (*Connector)(nil)

func (c *Connector) Network() protocols.Network { return protocols.XMPP }

func (c *Connector) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{
		Receipts: true, ReadMarkers: true, Typing: true, Presence: true, Edits: true,
		Reactions: true, Retractions: true, Replies: true, History: true, Groups: true,
		MaxBody: c.cfg.MaxBody, E2EE: c.om != nil, Attachments: true,
	}
}

func (c *Connector) Events() <-chan protocols.Event { return c.events }

// PeerEncryption is E2EE for a 1:1 peer that publishes an OMEMO device we
// can encrypt to (E2EE verified once the user compared every one of them;
// from the store: no network), else transport encryption —
// and that only when the server's certificate was verified.
func (c *Connector) PeerEncryption(peer protocols.Address) protocols.Encryption {
	if r := c.roomOf(peer.ID); r != nil {
		return c.roomEncryption(r)
	}
	if c.peerOMEMO(peer.ID) {
		if j, err := jid.Parse(peer.ID); err == nil {
			return c.omemoClass(context.Background(), j.Bare().String())
		}
		return protocols.EncE2EE
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encLocked()
}

// roomOf is the joined (or configured) room at addr, or nil.
func (c *Connector) roomOf(addr string) *room {
	j, err := jid.Parse(addr)
	if err != nil || addr == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms[j.Bare().String()]
}

// transportEnc is what a message gets without OMEMO.
func (c *Connector) transportEnc() protocols.Encryption {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encLocked()
}

func (c *Connector) encLocked() protocols.Encryption {
	if c.verified || (c.sess == nil && !c.cfg.InsecureSkipVerifyLoopback) {
		return protocols.EncTransport
	}
	return protocols.EncNone
}

// emit hands an event to the consumer; it blocks (back-pressure on the
// stream) rather than dropping, and gives up only after Close.
func (c *Connector) emit(ev protocols.Event) {
	select {
	case c.events <- ev:
	case <-c.closed:
	}
}

func (c *Connector) addr(j jid.JID) protocols.Address {
	return protocols.Address{Network: protocols.XMPP, Account: protocols.AccountID(c.cfg.Account), ID: j.String(), Server: j.Domainpart()}
}

func (c *Connector) session() (*mxmpp.Session, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil, 0, protocols.ErrNotConnected
	}
	return c.sess, c.gen, nil
}

// linked returns ctx, also cancelled when the current session ends, so a
// wait for a reply stops as soon as the link is known dead.
func (c *Connector) linked(ctx context.Context) (context.Context, context.CancelFunc) {
	c.mu.Lock()
	sctx := c.sessCtx
	c.mu.Unlock()
	lctx, cancel := context.WithCancel(ctx)
	if sctx == nil {
		return lctx, cancel
	}
	stop := context.AfterFunc(sctx, cancel)
	return lctx, func() { stop(); cancel() }
}

// Connect dials, secures (STARTTLS or direct TLS, verified), authenticates
// (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN — all only after TLS), binds, enables
// carbons, fetches the roster, announces presence, catches up from MAM and
// joins rooms. A wrong password returns protocols.ErrAuthFailed.
func (c *Connector) Connect(ctx context.Context) error {
	c.connectMu.Lock()
	defer c.connectMu.Unlock()
	select {
	case <-c.closed:
		return errors.New("xmpp: connector closed")
	default:
	}
	if s, _, _ := c.session(); s != nil {
		return nil
	}
	c.emit(protocols.ConnectionEvent{State: protocols.ConnConnecting})
	sess, verified, err := c.dial(ctx)
	if err != nil {
		if errors.Is(err, protocols.ErrAuthFailed) {
			c.emit(protocols.ConnectionEvent{State: protocols.ConnAuthFailed, Err: err, Detail: err.Error()})
		} else {
			c.emit(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: err, Detail: err.Error()})
		}
		return err
	}
	sctx, send := context.WithCancel(context.Background()) // ended by drop/Close
	c.mu.Lock()
	c.sess, c.bound, c.verified = sess, sess.LocalAddr(), verified
	c.sessCtx, c.sessEnd = sctx, send
	c.gen++
	gen := c.gen
	c.caughtUp, c.carbons, c.backfillNext = false, false, nil
	for _, r := range c.rooms {
		r.done, r.caughtUp = false, false
	}
	c.mu.Unlock()
	go c.serve(sess, gen)
	go c.pinger(sess, gen)

	// If the link dies while logging in, the queries below stop waiting
	// at once instead of running into the caller's deadline.
	lctx, lcancel := c.linked(ctx)
	err = c.afterLogin(lctx, sess)
	lcancel()
	if err != nil {
		c.drop(gen, err)
		return err
	}
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	c.mu.Lock()
	alive := c.gen == gen && c.sess == sess
	c.mu.Unlock()
	if !alive {
		return fmt.Errorf("xmpp: %w: link lost while logging in", protocols.ErrNotConnected)
	}
	c.emit(protocols.ConnectionEvent{State: protocols.ConnOnline, Detail: "connected as " + sess.LocalAddr().String()})
	return nil
}

func (c *Connector) dial(ctx context.Context) (*mxmpp.Session, bool, error) {
	tlsCfg, err := c.cfg.tlsConfig(c.me.Domainpart())
	if err != nil {
		return nil, false, err
	}
	var conn net.Conn
	if c.cfg.Server != "" {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", c.cfg.Server)
		if err == nil && c.cfg.DirectTLS {
			tc := tls.Client(conn, tlsCfg)
			if err = tc.HandshakeContext(ctx); err != nil {
				conn.Close()
			}
			conn = tc
		}
	} else {
		d := dial.Dialer{TLSConfig: tlsCfg, NoTLS: !c.cfg.DirectTLS}
		conn, err = d.Dial(ctx, "tcp", c.me)
	}
	if err != nil {
		return nil, false, fmt.Errorf("xmpp: connect: %w", err)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetKeepAlivePeriod(15 * time.Second)
	}
	origin := c.me
	if c.cfg.Resource != "" {
		if o, err := c.me.WithResource(c.cfg.Resource); err == nil {
			origin = o
		}
	}
	features := []mxmpp.StreamFeature{
		mxmpp.SASL("", c.cfg.Password, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain),
		mxmpp.BindResource(),
	}
	if _, direct := conn.(*tls.Conn); !direct {
		features = append([]mxmpp.StreamFeature{mxmpp.StartTLS(tlsCfg)}, features...)
	}
	sess, err := mxmpp.NewClientSession(ctx, origin, conn, features...)
	if err != nil {
		conn.Close()
		if isAuthErr(err) {
			return nil, false, fmt.Errorf("%w: %v", protocols.ErrAuthFailed, err)
		}
		return nil, false, fmt.Errorf("xmpp: negotiate: %w", err)
	}
	cs := sess.ConnectionState()
	if cs.Version == 0 {
		// mellium refuses SASL before TLS, so this means a broken negotiation.
		sess.Close()
		conn.Close()
		return nil, false, errors.New("xmpp: session is not encrypted")
	}
	return sess, !tlsCfg.InsecureSkipVerify, nil
}

// isAuthErr recognises a SASL <failure/>. mellium's error type is internal
// (mellium.im/xmpp/internal/saslerr.Error), so it is found by its package
// path; any SASL failure means the credentials were refused.
func isAuthErr(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if t := reflect.TypeOf(e); t.Name() == "Error" && strings.HasSuffix(t.PkgPath(), "/internal/saslerr") {
			return true
		}
	}
	s := err.Error()
	for _, cond := range []string{"not-authorized", "account-disabled", "credentials-expired", "invalid-authzid", "authentication error"} {
		if strings.Contains(s, cond) {
			return true
		}
	}
	return errors.Is(err, sasl.ErrAuthn)
}

func (c *Connector) afterLogin(ctx context.Context, sess *mxmpp.Session) error {
	// The server sends every contact's presence anew after ours.
	c.mu.Lock()
	c.avail = map[string]map[string]protocols.PresenceState{}
	c.mu.Unlock()
	// Carbons first so nothing sent by another client slips between.
	if err := c.iq(ctx, sess, "set", "", struct {
		XMLName xml.Name `xml:"urn:xmpp:carbons:2 enable"`
	}{}, nil); err != nil {
		c.log.Warn().Err(err).Msg("carbons not enabled")
	} else {
		c.mu.Lock()
		c.carbons = true
		c.mu.Unlock()
	}
	if err := c.fetchRoster(ctx, sess); err != nil {
		return fmt.Errorf("xmpp: roster: %w", err)
	}
	// Catch up before announcing presence (XEP-0313 §8.1), then once more
	// after it: a message that reaches the server between the last page
	// and our presence goes to offline storage, and a server that saw us
	// query the archive does not flush it (Prosody's mod_mam skips the
	// offline broadcast for such sessions). Only the second pass lets live
	// messages move the position; before it ends, a live stanza-id would
	// jump over that gap. A catch-up cut short fails the login: the
	// supervisor connects again and the next catch-up starts from the same
	// stored position.
	pos, err := c.catchUp(ctx, sess, "", false)
	archive := err == nil
	if err != nil {
		if !noArchive(err) {
			return fmt.Errorf("xmpp: catch-up: %w", err)
		}
		c.log.Warn().Err(err).Msg("server keeps no message archive: no catch-up")
	}
	if c.beforePresence != nil {
		c.beforePresence()
	}
	if err := sess.Encode(ctx, outPresence{Payload: c.caps()}); err != nil {
		return err
	}
	if archive {
		if _, err := c.catchUp(ctx, sess, pos, true); err != nil {
			return fmt.Errorf("xmpp: catch-up after presence: %w", err)
		}
	}
	c.mu.Lock()
	backfill := c.backfillNext
	c.backfillNext = nil
	c.mu.Unlock()
	if backfill != nil {
		backfill()
	}
	c.publishOMEMO(ctx)
	c.autojoin(ctx, sess)
	return nil
}

// serve runs the session's read loop; when it ends the link is gone.
func (c *Connector) serve(sess *mxmpp.Session, gen int) {
	err := sess.Serve(mxmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		return c.handle(t, start, gen)
	}))
	if err == nil {
		err = io.EOF
	}
	c.drop(gen, err)
}

// drop marks session gen as gone (once) and reports offline.
func (c *Connector) drop(gen int, err error) {
	c.mu.Lock()
	if c.gen != gen || c.sess == nil {
		c.mu.Unlock()
		return
	}
	sess := c.sess
	c.sess = nil
	c.sessEnd()
	c.caughtUp = false
	for _, r := range c.rooms {
		r.done, r.caughtUp = false, false
	}
	for q, col := range c.queries {
		col.fail()
		delete(c.queries, q)
	}
	c.mu.Unlock()
	_ = sess.Conn().Close()
	select {
	case <-c.closed:
		return
	default:
	}
	c.log.Info().Err(err).Msg("link lost")
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	c.emit(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: err, Detail: "link lost: " + err.Error()})
}

// pinger sends XEP-0199 pings to the server; a missed answer closes the
// link so Serve returns and the account is reported offline.
func (c *Connector) pinger(sess *mxmpp.Session, gen int) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		c.mu.Lock()
		alive := c.gen == gen && c.sess == sess
		c.mu.Unlock()
		if !alive {
			return
		}
		if err := c.ping(sess); err != nil {
			c.drop(gen, fmt.Errorf("ping: %w", err))
			return
		}
	}
}

func (c *Connector) ping(sess *mxmpp.Session) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PingTimeout)
	defer cancel()
	return c.iq(ctx, sess, "get", c.me.Domainpart(), struct {
		XMLName xml.Name `xml:"urn:xmpp:ping ping"`
	}{}, nil)
}

// Close ends the session and the event stream.
func (c *Connector) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		sess := c.sess
		c.sess = nil
		if c.sessEnd != nil {
			c.sessEnd()
		}
		c.gen++
		c.mu.Unlock()
		if sess != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = sess.Encode(ctx, outPresence{Type: "unavailable"})
			cancel()
			// Not sess.SetCloseDeadline: in mellium v0.23.0 it races with a
			// running Serve. The write deadline keeps a dead link from
			// blocking the closing tag.
			_ = sess.Conn().SetWriteDeadline(time.Now().Add(time.Second))
			_ = sess.Close()
			_ = sess.Conn().Close()
		}
		if c.om != nil {
			_ = c.om.Close()
		}
	})
	return nil
}

// iqOut is an <iq/> request or reply with one payload.
type iqOut struct {
	XMLName xml.Name `xml:"iq"`
	ID      string   `xml:"id,attr"`
	To      string   `xml:"to,attr,omitempty"`
	Type    string   `xml:"type,attr"`
	Payload any
}

type outPresence struct {
	XMLName xml.Name `xml:"presence"`
	To      string   `xml:"to,attr,omitempty"`
	Type    string   `xml:"type,attr,omitempty"`
	Payload any
}

// iq sends a get/set and decodes the reply payload into v (may be nil).
func (c *Connector) iq(ctx context.Context, sess *mxmpp.Session, typ, to string, payload, v any) error {
	b, err := xml.Marshal(iqOut{ID: randomID(), To: to, Type: typ, Payload: payload})
	if err != nil {
		return err
	}
	return sess.UnmarshalIQ(ctx, xml.NewDecoder(bytes.NewReader(b)), v)
}
