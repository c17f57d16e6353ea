package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// routeConn is a network double whose encryption class the test turns, and
// which can correct messages. It records what it carried and with which
// class; the store and the router under test are real.
type routeConn struct {
	net    protocols.Network
	events chan protocols.Event

	mu    sync.Mutex
	enc   protocols.Encryption
	sent  map[string]protocols.Encryption // client ID → class it went with
	edits map[string]protocols.Encryption // body → class the correction went with
}

func newRouteConn(n protocols.Network) *routeConn {
	return &routeConn{net: n, events: make(chan protocols.Event), sent: map[string]protocols.Encryption{}, edits: map[string]protocols.Encryption{}}
}

func (c *routeConn) Network() protocols.Network { return c.net }
func (c *routeConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: true, Receipts: true, Edits: true}
}
func (c *routeConn) Connect(context.Context) error  { return nil }
func (c *routeConn) Events() <-chan protocols.Event { return c.events }
func (c *routeConn) MarkRead(context.Context, protocols.ChatID, protocols.MessageID) error {
	return nil
}
func (c *routeConn) SetTyping(context.Context, protocols.ChatID, bool) error { return nil }
func (c *routeConn) Close() error                                            { return nil }
func (c *routeConn) FetchHistory(context.Context, protocols.ChatID, string, int) (protocols.HistoryPage, error) {
	return protocols.HistoryPage{}, nil
}

func (c *routeConn) PeerEncryption(protocols.Address) protocols.Encryption {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc
}

func (c *routeConn) set(e protocols.Encryption) {
	c.mu.Lock()
	c.enc = e
	c.mu.Unlock()
}

func (c *routeConn) Send(_ context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc < m.MinEncryption {
		return protocols.SendResult{}, protocols.ErrEncryptionUnavailable
	}
	c.sent[string(m.ClientID)] = c.enc
	return protocols.SendResult{NetworkID: protocols.MessageID("net-" + m.ClientID), Chat: m.Chat, Encryption: c.enc, At: testNow}, nil
}

func (c *routeConn) Edit(_ context.Context, chat protocols.ChatID, target protocols.MessageID, clientID protocols.ClientID, body string) (protocols.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.edits[body] = c.enc
	return protocols.SendResult{NetworkID: protocols.MessageID("edit-" + clientID), Chat: chat, Encryption: c.enc, At: testNow}, nil
}

func (c *routeConn) carried(clientID string) (protocols.Encryption, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sent[clientID]
	return e, ok
}

func (c *routeConn) edited(body string) (protocols.Encryption, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.edits[body]
	return e, ok
}

// routeWorld: Ada on Matrix ("mx", DM room !ada:example.org) and XMPP
// ("xm"), one person; the inbox clock ticks a second per reading so every
// message is newer than the one before.
type routeWorld struct {
	in    *inbox.Inbox
	conns map[protocols.Network]*routeConn
	acct  map[protocols.Network]string
	ada   inbox.ConversationID
	adaP  inbox.PersonID
	n     int
}

const adaRoom = "!ada:example.org"

func newRouteWorld(t testing.TB) *routeWorld {
	t.Helper()
	var tick atomic.Int64
	ids := 0
	in, err := inbox.Open(filepath.Join(t.TempDir(), "polyglot.db"), inbox.Options{
		Now:   func() time.Time { return testNow.Add(-6 * time.Hour).Add(time.Duration(tick.Add(1)) * time.Second) },
		NewID: func() string { ids++; return fmt.Sprintf("cid%04d", ids) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w := &routeWorld{in: in,
		conns: map[protocols.Network]*routeConn{protocols.Matrix: newRouteConn(protocols.Matrix), protocols.XMPP: newRouteConn(protocols.XMPP)},
		acct:  map[protocols.Network]string{protocols.Matrix: "mx", protocols.XMPP: "xm"}}
	for n, c := range w.conns {
		in.Attach(w.acct[n], c)
	}
	w.ingest(t, "mx", protocols.ContactEvent{Contact: adaMX, Name: "Ada Lovelace"})
	w.ingest(t, "xm", protocols.ContactEvent{Contact: adaXM, Name: "Ada Lovelace", Subscription: "both"})
	w.incoming(t, protocols.Matrix, "hello")
	w.incoming(t, protocols.XMPP, "hello from my phone")
	sugg, err := in.MergeSuggestions()
	if err != nil || len(sugg) != 1 {
		t.Fatalf("merge suggestions: %v %v", sugg, err)
	}
	if err := in.Merge(sugg[0].A, sugg[0].B); err != nil {
		t.Fatal(err)
	}
	if w.ada, err = in.FindConversation(adaMX.Key()); err != nil {
		t.Fatal(err)
	}
	conv, err := in.Conversation(w.ada)
	if err != nil {
		t.Fatal(err)
	}
	w.adaP = conv.Person
	return w
}

func (w *routeWorld) ingest(t testing.TB, acct string, ev protocols.Event) {
	t.Helper()
	if err := w.in.Ingest(acct, ev); err != nil {
		t.Fatalf("ingest %T: %v", ev, err)
	}
}

func (w *routeWorld) chatOn(n protocols.Network) (protocols.Chat, protocols.Address) {
	if n == protocols.Matrix {
		return protocols.Chat{ID: adaRoom, Peer: adaMX}, adaMX
	}
	return protocols.Chat{ID: protocols.ChatID(adaXM.ID)}, adaXM
}

// incoming is a new message from Ada over network n; it returns its
// network ID.
func (w *routeWorld) incoming(t testing.TB, n protocols.Network, body string) string {
	w.n++
	chat, from := w.chatOn(n)
	id := fmt.Sprintf("in-%s-%d", n, w.n)
	w.ingest(t, w.acct[n], protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(id), Chat: chat, Sender: from,
		Body: body, Encryption: w.conns[n].PeerEncryption(from)}})
	return id
}

// own is a message the user sent over network n from another device.
func (w *routeWorld) own(t testing.TB, n protocols.Network, body string) string {
	w.n++
	chat, _ := w.chatOn(n)
	id := fmt.Sprintf("own-%s-%d", n, w.n)
	self := protocols.Address{Network: n, ID: "me@" + string(n)}
	w.ingest(t, w.acct[n], protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(id), Chat: chat, Sender: self,
		Outgoing: true, Body: body, Encryption: w.conns[n].PeerEncryption(adaMX)}})
	return id
}

func (w *routeWorld) setOnline(t testing.TB, n protocols.Network, on bool) {
	st := protocols.ConnOffline
	if on {
		st = protocols.ConnOnline
	}
	w.ingest(t, w.acct[n], protocols.ConnectionEvent{State: st})
}

// settle waits until no message waits for an account that is online (the
// outbox drains them in the background), so the next send goes at once.
func (w *routeWorld) settle(t testing.TB) {
	t.Helper()
	online := map[string]bool{}
	for _, s := range w.in.AccountStates() {
		online[s.Account] = s.State == protocols.ConnOnline
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms, err := w.in.Messages(w.ada, inbox.Cursor{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		waiting := 0
		for _, m := range ms {
			if m.State == inbox.StateQueued && online[m.Account] {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d queued messages of online accounts never went out", waiting)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (w *routeWorld) message(t testing.TB, pred func(inbox.Message) bool) inbox.Message {
	t.Helper()
	ms, err := w.in.Messages(w.ada, inbox.Cursor{}, 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if pred(ms[i]) {
			return ms[i]
		}
	}
	t.Fatal("message not found")
	return inbox.Message{}
}

// shownRoute is what the route line says about the next message.
type shownRoute struct {
	raw, explain string
	net          protocols.Network
	enc          protocols.Encryption
	needsOK      bool
	byRule       bool
	waits        bool
	cannot       bool
}

var routeLineRE = regexp.MustCompile(`^→ .* via (Matrix|XMPP|WhatsApp) · (.*?)( · needs your OK| \(offline — will wait\)| \(offline — cannot go now\)| · allowed by your rule| · picked|  \[ctrl\+r\]|$)`)

// readRoute finds the route line on screen and reads network and class
// back from the words, the way a user does.
func readRoute(t testing.TB, h *harness) shownRoute {
	t.Helper()
	lines := strings.Split(h.view(), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " ")
		if !strings.HasPrefix(l, "→ ") {
			continue
		}
		// The plan's words sit above the bar (above a reply's or edit's line).
		s := shownRoute{raw: l, explain: strings.Join(lines[max(0, i-3):i], "\n")}
		mm := routeLineRE.FindStringSubmatch(l)
		if mm == nil {
			t.Fatalf("route line %q names no network and class", l)
		}
		s.net = map[string]protocols.Network{"Matrix": protocols.Matrix, "XMPP": protocols.XMPP, "WhatsApp": protocols.WhatsApp}[mm[1]]
		found := false
		for _, e := range protocols.Encryptions {
			if encWithLabel(h.m.env.st, e) == mm[2] {
				s.enc, found = e, true
			}
		}
		if !found {
			t.Fatalf("route line %q: unknown class %q", l, mm[2])
		}
		s.needsOK = strings.Contains(l, "· needs your OK")
		s.byRule = strings.Contains(l, "· allowed by your rule")
		s.waits = strings.Contains(l, "(offline — will wait)")
		s.cannot = strings.Contains(l, "(offline — cannot go now)")
		return s
	}
	t.Fatalf("no route line on screen:\n%s", h.view())
	return shownRoute{}
}

type routeCell struct {
	enc    map[protocols.Network]protocols.Encryption
	online map[protocols.Network]bool
	rule   bool
	kind   string            // "new", "reply", "edit"
	on     protocols.Network // the network of the answered or edited message
}

func (c routeCell) String() string {
	s := fmt.Sprintf("mx=%s,%s/xm=%s,%s/rule=%v/%s", c.enc[protocols.Matrix], on(c.online[protocols.Matrix]),
		c.enc[protocols.XMPP], on(c.online[protocols.XMPP]), c.rule, c.kind)
	if c.kind != "new" {
		s += "-" + string(c.on)
	}
	return s
}

func on(b bool) string {
	if b {
		return "online"
	}
	return "offline"
}

// TestRouteLineIsTheRouteTaken drives the TUI and the real router through
// the whole routing matrix — each network online or offline; E2EE
// verified, unverified or transport only on each; the person's
// allow-downgrade rule on or off; a new message, a reply and an edit of a
// message that came or went over each network — and checks, in every
// cell, that the route line on screen names the network and encryption the
// message then actually took, that a "needs your OK" line is the only way
// to the downgrade prompt, that the rule is shown rather than asked, and
// that end-to-end encryption is never given up silently.
func TestRouteLineIsTheRouteTaken(t *testing.T) {
	w := newRouteWorld(t)
	h := newHarness(t, w.in, 120, 40)
	h.send(openConversationMsg{ID: w.ada})
	classes := []protocols.Encryption{protocols.EncE2EEVerified, protocols.EncE2EE, protocols.EncTransport}
	nets := []protocols.Network{protocols.Matrix, protocols.XMPP}
	var cells []routeCell
	for _, mxEnc := range classes {
		for _, xmEnc := range classes {
			for _, mxOn := range []bool{true, false} {
				for _, xmOn := range []bool{true, false} {
					for _, rule := range []bool{false, true} {
						base := routeCell{enc: map[protocols.Network]protocols.Encryption{protocols.Matrix: mxEnc, protocols.XMPP: xmEnc},
							online: map[protocols.Network]bool{protocols.Matrix: mxOn, protocols.XMPP: xmOn}, rule: rule, kind: "new"}
						cells = append(cells, base)
						for _, kind := range []string{"reply", "edit"} {
							for _, n := range nets {
								c := base
								c.kind, c.on = kind, n
								cells = append(cells, c)
							}
						}
					}
				}
			}
		}
	}
	if len(cells) != 3*3*2*2*2*5 {
		t.Fatalf("%d cells", len(cells))
	}
	for i, c := range cells {
		routeCase(t, w, h, i, c)
		if t.Failed() {
			t.Fatalf("stopped at cell %d %s", i, c)
		}
	}
}

func routeCase(t *testing.T, w *routeWorld, h *harness, i int, c routeCell) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\n%s", c, fmt.Sprintf(format, args...), h.view())
	}
	for n, conn := range w.conns {
		conn.set(c.enc[n])
		w.setOnline(t, n, c.online[n])
	}
	if err := w.in.SetAllowDowngrade(w.adaP, c.rule); err != nil {
		t.Fatal(err)
	}
	w.settle(t)
	var target string
	switch c.kind {
	case "reply":
		target = w.incoming(t, c.on, fmt.Sprintf("question %d", i))
	case "edit":
		target = w.own(t, c.on, fmt.Sprintf("said %d", i))
	}
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}, {Kind: inbox.ChangePeople}, {Kind: inbox.ChangeMessages, Conversation: w.ada}}})
	conv := h.m.conv
	if c.kind != "new" {
		h.keys("esc", "G", map[string]string{"reply": "r", "edit": "e"}[c.kind])
		m, ok := conv.selectedMsg()
		if !ok || m.NetworkID != target {
			fail("selected %+v, want the message %s", m, target)
		}
	}
	body := fmt.Sprintf("cell %d", i)
	h.typeText(body)
	if c.kind == "edit" {
		body = fmt.Sprintf("said %d", i) + body
	}
	shown := readRoute(t, h)

	// Independent of the line: the iMessage rule's facts about this cell.
	best := max(c.enc[protocols.Matrix], c.enc[protocols.XMPP])

	h.keys("enter")
	prompted := conv.prompt != nil
	if prompted != shown.needsOK {
		fail("the line said %q, and the downgrade prompt %s", shown.raw, map[bool]string{true: "came", false: "did not come"}[prompted])
	}
	if prompted {
		if c.rule {
			fail("the person's rule allows downgrades, yet the user was asked")
		}
		q := conv.prompt.question()
		if want := map[string]string{"reply": "This reply goes the way the message came: ", "edit": "This edit goes where the message went: "}[c.kind]; !strings.HasPrefix(q, want) {
			fail("the prompt asks %q", q)
		}
		h.keys("y")
	}
	if strings.Contains(h.view(), "only only") {
		fail("doubled word on screen")
	}

	var took protocols.Network
	var tookEnc protocols.Encryption
	switch c.kind {
	case "edit":
		if shown.cannot {
			if c.online[c.on] {
				fail("the line says the edit cannot go, but %s is online", c.on)
			}
			if _, ok := w.conns[c.on].edited(body); ok {
				fail("an edit the line called impossible went out")
			}
			h.mustShow("edit failed: the account is not connected")
			h.keys("esc") // drop the edit
			return
		}
		enc, ok := w.conns[shown.net].edited(body)
		if !ok {
			fail("the line said %q but %s carried no edit", shown.raw, shown.net)
		}
		m := w.message(t, func(m inbox.Message) bool { return m.NetworkID == target })
		if m.Body != body || m.Encryption != enc {
			fail("edited message %q recorded %s, the edit travelled %s", m.Body, m.Encryption, enc)
		}
		took, tookEnc = shown.net, enc
	default:
		m := w.message(t, func(m inbox.Message) bool { return m.Outgoing && m.Body == body })
		took, tookEnc = m.Network, m.Encryption
		switch m.State {
		case inbox.StateQueued:
			if !shown.waits {
				fail("queued, but the line said %q", shown.raw)
			}
		case inbox.StateSent:
			enc, ok := w.conns[m.Network].carried(m.ClientID)
			if !ok || enc != m.Encryption {
				fail("stored as %s %s, the network carried %v %s", m.Network, m.Encryption, ok, enc)
			}
			if shown.waits {
				fail("sent at once, but the line said it waits: %q", shown.raw)
			}
		default:
			fail("message state %s (%s)", m.State, m.FailReason)
		}
		if c.kind == "reply" && m.ReplyTo != target {
			fail("the reply is not linked to %s (reply_to %q)", target, m.ReplyTo)
		}
	}
	if took != shown.net || tookEnc != shown.enc {
		fail("the line said %s %s, the message took %s %s", shown.net, shown.enc, took, tookEnc)
	}

	// The rule, checked apart from the plan.
	if c.kind != "new" && took != c.on {
		fail("a %s of a %s message went via %s", c.kind, c.on, took)
	}
	if tookEnc < best {
		switch {
		case c.rule && (!shown.byRule || !strings.Contains(shown.explain, "your rule allows it")):
			fail("downgrade by the rule, but the screen did not say so: %q / %q", shown.raw, shown.explain)
		case !c.rule && !prompted:
			fail("SILENT DOWNGRADE: %s with %s, best %s", took, tookEnc, best)
		}
	} else if shown.byRule || prompted {
		fail("no downgrade, yet the line said %q", shown.raw)
	}
	if c.kind == "new" {
		anyOnline := c.online[protocols.Matrix] || c.online[protocols.XMPP]
		if anyOnline == shown.waits {
			fail("online %v, line %q", anyOnline, shown.raw)
		}
		if c.online[protocols.Matrix] && c.online[protocols.XMPP] && tookEnc != best {
			fail("both online, sent %s, best %s", tookEnc, best)
		}
	}
}

// The words of the plan above the route bar as the network situation
// changes (real router), and the route cycle on top.
func TestRouteLineFallbackNotices(t *testing.T) {
	w := newRouteWorld(t)
	w.conns[protocols.Matrix].set(protocols.EncE2EE)
	w.conns[protocols.XMPP].set(protocols.EncTransport)
	w.setOnline(t, protocols.Matrix, true)
	w.setOnline(t, protocols.XMPP, true)
	h := newHarness(t, w.in, 120, 30)
	h.send(openConversationMsg{ID: w.ada})
	changed := func() {
		h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}, {Kind: inbox.ChangePeople}}})
	}
	h.mustShow("→ Ada Lovelace via Matrix · E2EE", "[ctrl+r] 2 routes")
	h.mustNotShow("needs your OK")
	h.keys("ctrl+r")
	h.mustShow("your pick: XMPP (TLS only) needs your OK — Matrix offers E2EE", "→ Ada Lovelace via XMPP · TLS TLS only · needs your OK · picked")
	h.keys("ctrl+r")
	h.mustNotShow("picked")

	w.setOnline(t, protocols.Matrix, false)
	changed()
	h.mustShow("Matrix offline — sending via XMPP (TLS only) needs your OK", "→ Ada Lovelace via XMPP · TLS TLS only · needs your OK")
	if err := w.in.SetAllowDowngrade(w.adaP, true); err != nil {
		t.Fatal(err)
	}
	changed()
	h.mustShow("Matrix offline — the message goes via XMPP, TLS only (was E2EE): your rule allows it",
		"→ Ada Lovelace via XMPP · TLS TLS only · allowed by your rule")
	h.mustNotShow("needs your OK", "only only")
	w.conns[protocols.XMPP].set(protocols.EncE2EE)
	changed()
	h.mustShow("Matrix offline — the message goes via XMPP, still E2EE", "→ Ada Lovelace via XMPP · E2EE")
	h.mustNotShow("allowed by your rule")
	w.setOnline(t, protocols.XMPP, false)
	changed()
	h.mustShow("Matrix offline — the message waits for it", "→ Ada Lovelace via Matrix · E2EE (offline — will wait)")
}
