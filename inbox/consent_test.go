package inbox

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// recConn records everything that would reach the peer besides messages:
// read markers, typing notices and answers to requests.
type recConn struct {
	*obConn
	mu      sync.Mutex
	reads   []string // chat/networkID
	typing  []string // chat/true|false
	answers []string // from/accept
}

func newRecConn(net protocols.Network) *recConn {
	return &recConn{obConn: newObConn(net, protocols.EncE2EE)}
}

func (c *recConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: true, Receipts: true, ReadMarkers: true, Typing: true}
}

func (c *recConn) MarkRead(_ context.Context, chat protocols.ChatID, id protocols.MessageID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, string(chat)+"/"+string(id))
	return nil
}

func (c *recConn) SetTyping(_ context.Context, chat protocols.ChatID, typing bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.typing = append(c.typing, fmt.Sprintf("%s/%v", chat, typing))
	return nil
}

func (c *recConn) AnswerRequest(_ context.Context, from protocols.Address, _ protocols.ChatID, accept bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers = append(c.answers, fmt.Sprintf("%s/%v", from.ID, accept))
	return nil
}

// outbound is everything recorded so far, as one list.
func (c *recConn) outbound() (reads, typing, answers []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reads), slices.Clone(c.typing), slices.Clone(c.answers)
}

// consentWorld is a store with a WhatsApp account "wa" online through a
// recording connector, and one contact (Carol) in the roster.
type consentWorld struct {
	in   *Inbox
	path string
	rec  *recConn
	at   time.Time
	n    int
}

var carol = protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: "4915100000001@s.whatsapp.net", Server: "s.whatsapp.net"}

func newConsentWorld(t *testing.T) *consentWorld {
	t.Helper()
	w := &consentWorld{path: filepath.Join(t.TempDir(), "c.db"), at: time.Unix(1_700_000_000, 0)}
	w.open(t)
	if err := w.in.Ingest("wa", protocols.ContactEvent{Contact: carol, Name: "Carol"}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *consentWorld) open(t *testing.T) {
	t.Helper()
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w.in, w.rec = in, newRecConn(protocols.WhatsApp)
	in.Attach("wa", w.rec)
	if err := in.Ingest("wa", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
		t.Fatal(err)
	}
}

func (w *consentWorld) reopen(t *testing.T) {
	t.Helper()
	w.in.Close()
	w.open(t)
}

// from delivers a 1:1 message from addr.
func (w *consentWorld) from(t *testing.T, addr protocols.Address, body string) {
	t.Helper()
	w.n++
	w.at = w.at.Add(time.Minute)
	m := protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("wa-%d", w.n)), Chat: protocols.Chat{ID: protocols.ChatID(addr.ID)}, Sender: addr, Body: body, Sent: w.at}
	if err := w.in.Ingest("wa", protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
}

func (w *consentWorld) request(t *testing.T, addr protocols.Address) Request {
	t.Helper()
	rs, err := w.in.Requests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.From.ID == addr.ID {
			return r
		}
	}
	t.Fatalf("no request from %s in %+v", addr.ID, rs)
	return Request{}
}

func (w *consentWorld) hasRequest(t *testing.T, addr protocols.Address) bool {
	t.Helper()
	rs, err := w.in.Requests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.From.ID == addr.ID {
			return true
		}
	}
	return false
}

func (w *consentWorld) listed(t *testing.T, id ConversationID) bool {
	t.Helper()
	cs, err := w.in.Conversations(Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

func stranger(n int) protocols.Address {
	return protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: fmt.Sprintf("49170000000%d@s.whatsapp.net", n), Server: "s.whatsapp.net"}
}

// Nothing goes back to a stranger — no read marker, no typing — until the
// user accepts; then both do, the network is told yes, and the decision
// survives a restart.
func TestConsentAcceptGatesReadAndTyping(t *testing.T) {
	ctx := context.Background()
	w := newConsentWorld(t)
	dave := stranger(1)
	w.from(t, dave, "hi, it's Dave")
	w.from(t, dave, "are you there?")

	r := w.request(t, dave)
	if r.Consent != ConsentUnknown || r.Count != 2 || r.Preview != "are you there?" {
		t.Fatalf("request = %+v", r)
	}
	if w.listed(t, r.Conversation) {
		t.Fatal("a request shows in the inbox list before consent")
	}
	if w.in.Accepted(dave) {
		t.Fatal("Accepted(stranger) before consent")
	}
	if err := w.in.MarkRead(ctx, r.Conversation); err != nil {
		t.Fatal(err)
	}
	if err := w.in.SetTyping(ctx, r.Conversation, true); err != nil {
		t.Fatal(err)
	}
	if reads, typing, answers := w.rec.outbound(); len(reads)+len(typing)+len(answers) != 0 {
		t.Fatalf("before consent the stranger got reads=%q typing=%q answers=%q", reads, typing, answers)
	}

	if err := w.in.Decide(ctx, r.Conversation, Accept); err != nil {
		t.Fatal(err)
	}
	if _, _, answers := w.rec.outbound(); !slices.Equal(answers, []string{dave.ID + "/true"}) {
		t.Fatalf("answers after Accept = %q", answers)
	}
	if w.hasRequest(t, dave) || !w.listed(t, r.Conversation) || !w.in.Accepted(dave) {
		t.Fatal("accepted conversation is not a normal one")
	}
	if err := w.in.MarkRead(ctx, r.Conversation); err != nil {
		t.Fatal(err)
	}
	if err := w.in.SetTyping(ctx, r.Conversation, true); err != nil {
		t.Fatal(err)
	}
	reads, typing, _ := w.rec.outbound()
	if !slices.Equal(reads, []string{dave.ID + "/wa-2"}) || !slices.Equal(typing, []string{dave.ID + "/true"}) {
		t.Fatalf("after Accept reads=%q typing=%q, want the newest message read and typing", reads, typing)
	}
	c, err := w.in.Conversation(r.Conversation)
	if err != nil || c.Unread != 0 {
		t.Fatalf("unread after MarkRead = %d (%v)", c.Unread, err)
	}

	w.reopen(t)
	w.from(t, dave, "thanks")
	if !w.in.Accepted(dave) || w.hasRequest(t, dave) || !w.listed(t, r.Conversation) {
		t.Fatal("Accept was not remembered across a restart")
	}
}

// Block hides the conversation, tells the network no, and drops whatever
// the address sends later, also after a restart.
func TestConsentBlock(t *testing.T) {
	ctx := context.Background()
	w := newConsentWorld(t)
	eve := stranger(2)
	w.from(t, eve, "buy crypto")
	r := w.request(t, eve)
	if err := w.in.Decide(ctx, r.Conversation, Block); err != nil {
		t.Fatal(err)
	}
	if _, _, answers := w.rec.outbound(); !slices.Equal(answers, []string{eve.ID + "/false"}) {
		t.Fatalf("answers after Block = %q", answers)
	}
	if w.hasRequest(t, eve) || w.listed(t, r.Conversation) || w.in.Accepted(eve) {
		t.Fatal("blocked conversation still shown")
	}
	w.reopen(t)
	w.from(t, eve, "buy more crypto")
	if w.hasRequest(t, eve) || w.listed(t, r.Conversation) {
		t.Fatal("a blocked address came back")
	}
	ms, err := w.in.Messages(r.Conversation, Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("blocked address' later message was stored: %d messages", len(ms))
	}
	if hits, _ := w.in.Search("crypto", 10); len(hits) != 0 {
		t.Fatalf("search shows a blocked conversation: %+v", hits)
	}
	if err := w.in.MarkRead(ctx, r.Conversation); err != nil {
		t.Fatal(err)
	}
	if reads, typing, _ := w.rec.outbound(); len(reads)+len(typing) != 0 {
		t.Fatalf("blocked address got reads=%q typing=%q", reads, typing)
	}
}

// Ignore keeps the request, silenced and marked, never answered; new
// messages stay in it without reaching the inbox.
func TestConsentIgnore(t *testing.T) {
	ctx := context.Background()
	w := newConsentWorld(t)
	mallory := stranger(3)
	w.from(t, mallory, "hello?")
	r := w.request(t, mallory)
	if err := w.in.Decide(ctx, r.Conversation, Ignore); err != nil {
		t.Fatal(err)
	}
	w.reopen(t)
	w.from(t, mallory, "hello??")
	r = w.request(t, mallory)
	if r.Consent != ConsentIgnored || r.Count != 2 {
		t.Fatalf("ignored request = %+v", r)
	}
	if w.listed(t, r.Conversation) {
		t.Fatal("ignored request in the inbox list")
	}
	if err := w.in.MarkRead(ctx, r.Conversation); err != nil {
		t.Fatal(err)
	}
	if err := w.in.SetTyping(ctx, r.Conversation, true); err != nil {
		t.Fatal(err)
	}
	if reads, typing, answers := w.rec.outbound(); len(reads)+len(typing)+len(answers) != 0 {
		t.Fatalf("ignored address got reads=%q typing=%q answers=%q", reads, typing, answers)
	}
	if err := w.in.Decide(ctx, r.Conversation, Decision(42)); err == nil {
		t.Fatal("an unknown decision was accepted")
	}
	if err := w.in.Decide(ctx, 9999, Accept); err == nil {
		t.Fatal("a decision on a missing conversation succeeded")
	}
}

// Contacts (the user's own roster) are accepted without a request, and
// get read markers at once.
func TestContactsNeedNoRequest(t *testing.T) {
	w := newConsentWorld(t)
	w.from(t, carol, "lunch?")
	if w.hasRequest(t, carol) || !w.in.Accepted(carol) {
		t.Fatal("a contact's message became a request")
	}
	p, err := w.in.PersonOf(carol)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := w.in.Conversations(Cursor{}, 10)
	if len(cs) != 1 || cs[0].Person != p || cs[0].Unread != 1 || cs[0].Title != "Carol" {
		t.Fatalf("conversations = %+v", cs)
	}
	if err := w.in.MarkRead(context.Background(), cs[0].ID); err != nil {
		t.Fatal(err)
	}
	if reads, _, _ := w.rec.outbound(); len(reads) != 1 {
		t.Fatalf("contact got reads=%q", reads)
	}
	if _, err := w.in.PersonOf(stranger(9)); err == nil {
		t.Fatal("PersonOf an unknown address succeeded")
	}
}

// Reachability filters strangers per account before consent, persists,
// and never touches contacts.
func TestReachability(t *testing.T) {
	w := newConsentWorld(t)
	if r, _ := w.in.Reachability("wa"); r != Everyone {
		t.Fatalf("default reachability %v", r)
	}
	if err := w.in.SetReachability("wa", ContactsOnly); err != nil {
		t.Fatal(err)
	}
	if err := w.in.SetReachability("wa", Reachability(9)); err == nil {
		t.Fatal("an unknown reachability was stored")
	}
	w.reopen(t)
	if r, _ := w.in.Reachability("wa"); r != ContactsOnly {
		t.Fatalf("reachability after restart %v", r)
	}
	w.from(t, stranger(4), "spam")
	w.from(t, carol, "still here")
	if w.hasRequest(t, stranger(4)) {
		t.Fatal("ContactsOnly let a stranger in")
	}
	if cs, _ := w.in.Conversations(Cursor{}, 10); len(cs) != 1 {
		t.Fatalf("contact's message lost under ContactsOnly: %+v", cs)
	}
	if err := w.in.SetReachability("wa", Everyone); err != nil {
		t.Fatal(err)
	}
	w.from(t, stranger(4), "spam again")
	if !w.hasRequest(t, stranger(4)) {
		t.Fatal("Everyone did not admit a stranger as a request")
	}

	// OwnServerOnly on a Matrix account compares the sender's server with
	// the account's.
	mx := newRecConn(protocols.Matrix)
	w.in.Attach("@me:home.example", mx)
	if err := w.in.SetReachability("@me:home.example", OwnServerOnly); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"@a:home.example", "@b:elsewhere.example"} {
		a := protocols.Address{Network: protocols.Matrix, Account: "@me:home.example", ID: id}
		m := protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("$m%d", i)), Chat: protocols.Chat{ID: protocols.ChatID("!r" + id), Peer: a}, Sender: a, Body: "hi", Sent: w.at}
		if err := w.in.Ingest("@me:home.example", protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := w.in.Requests()
	var got []string
	for _, r := range rs {
		if r.From.Network == protocols.Matrix {
			got = append(got, r.From.ID)
		}
	}
	if !slices.Equal(got, []string{"@a:home.example"}) {
		t.Fatalf("OwnServerOnly requests = %q, want only the same-server sender", got)
	}
}

// A network-level request (a Matrix invite) is a request too, and Accept
// answers it through the connector.
func TestInviteRequest(t *testing.T) {
	w := newConsentWorld(t)
	mx := newRecConn(protocols.Matrix)
	w.in.Attach("mx", mx)
	inviter := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@zed:example.org"}
	ev := protocols.RequestEvent{From: inviter, Name: "Zed", Kind: protocols.RequestInvite,
		Chat: protocols.Chat{ID: "!room:example.org", Group: true, Name: "Book club"}, At: w.at}
	if err := w.in.Ingest("mx", ev); err != nil {
		t.Fatal(err)
	}
	r := w.request(t, inviter)
	if r.Kind != protocols.RequestInvite {
		t.Fatalf("request kind %v", r.Kind)
	}
	if err := w.in.Decide(context.Background(), r.Conversation, Accept); err != nil {
		t.Fatal(err)
	}
	if _, _, answers := mx.outbound(); !slices.Equal(answers, []string{inviter.ID + "/true"}) {
		t.Fatalf("invite answers = %q", answers)
	}
	if !w.listed(t, r.Conversation) {
		t.Fatal("accepted invite not in the inbox")
	}
}

// A history batch from a stranger makes one request holding all of it,
// and a contact in the same batch is not a request.
func TestRequestFromOneBatch(t *testing.T) {
	w := newConsentWorld(t)
	s := stranger(5)
	var evs []protocols.Event
	for i := range 3 {
		for _, from := range []protocols.Address{s, carol} {
			evs = append(evs, protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("b%d-%s", i, from.ID)),
				Chat: protocols.Chat{ID: protocols.ChatID(from.ID)}, Sender: from, Body: "msg", Sent: w.at.Add(time.Duration(i) * time.Second)}})
		}
	}
	if err := w.in.IngestBatch("wa", evs); err != nil {
		t.Fatal(err)
	}
	if r := w.request(t, s); r.Count != 3 {
		t.Fatalf("request = %+v, want 3 messages", r)
	}
	if w.hasRequest(t, carol) {
		t.Fatal("a contact became a request")
	}
	if cs, _ := w.in.Conversations(Cursor{}, 10); len(cs) != 1 || cs[0].Unread != 3 {
		t.Fatalf("inbox = %+v, want Carol's conversation with 3 unread", cs)
	}
}
