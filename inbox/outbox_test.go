package inbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// obConn is a recording connector for router and outbox tests: it offers
// one encryption class to every peer, records what it was asked to send and
// can be told to fail.
type obConn struct {
	net protocols.Network

	mu      sync.Mutex
	enc     protocols.Encryption // what PeerEncryption promises
	sendEnc *protocols.Encryption
	fail    func(protocols.OutgoingMessage) error
	during  func(protocols.OutgoingMessage) // runs inside Send, before the ack
	sent    []protocols.OutgoingMessage     // accepted by the "server"
	tries   []protocols.OutgoingMessage     // every Send call
	events  chan protocols.Event
}

func newObConn(net protocols.Network, enc protocols.Encryption) *obConn {
	return &obConn{net: net, enc: enc, events: make(chan protocols.Event)}
}

func (c *obConn) Network() protocols.Network { return c.net }
func (c *obConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: true, Receipts: true}
}
func (c *obConn) Connect(context.Context) error                                         { return nil }
func (c *obConn) Events() <-chan protocols.Event                                        { return c.events }
func (c *obConn) MarkRead(context.Context, protocols.ChatID, protocols.MessageID) error { return nil }
func (c *obConn) SetTyping(context.Context, protocols.ChatID, bool) error               { return nil }
func (c *obConn) FetchHistory(context.Context, protocols.ChatID, string, int) (protocols.HistoryPage, error) {
	return protocols.HistoryPage{}, nil
}
func (c *obConn) Close() error { return nil }

func (c *obConn) PeerEncryption(protocols.Address) protocols.Encryption {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc
}

func (c *obConn) Send(ctx context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	c.mu.Lock()
	during := c.during
	c.mu.Unlock()
	if during != nil {
		during(m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries = append(c.tries, m)
	if c.fail != nil {
		if err := c.fail(m); err != nil {
			return protocols.SendResult{}, err
		}
	}
	enc := c.enc
	if c.sendEnc != nil {
		enc = *c.sendEnc // the class really available at send time
	}
	if enc < m.MinEncryption {
		return protocols.SendResult{}, protocols.ErrEncryptionUnavailable
	}
	c.sent = append(c.sent, m)
	return protocols.SendResult{NetworkID: protocols.MessageID("net-" + m.ClientID), Encryption: enc, At: time.Now()}, nil
}

func (c *obConn) set(enc protocols.Encryption) {
	c.mu.Lock()
	c.enc = enc
	c.mu.Unlock()
}

func (c *obConn) sends() []protocols.OutgoingMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocols.OutgoingMessage(nil), c.sent...)
}

func (c *obConn) attempts() []protocols.OutgoingMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocols.OutgoingMessage(nil), c.tries...)
}

func (c *obConn) reset() {
	c.mu.Lock()
	c.sent, c.tries, c.fail, c.sendEnc = nil, nil, nil, nil
	c.mu.Unlock()
}

// obWorld is a store with Bob reachable on Matrix (account "mx"), XMPP
// ("xm") and WhatsApp ("wa"), merged into one person with one direct
// conversation, all contacts (accepted).
type obWorld struct {
	in    *Inbox
	path  string
	conv  ConversationID
	bob   PersonID
	conns map[string]*obConn
}

var obAccounts = []struct {
	account string
	net     protocols.Network
	addr    protocols.Address
}{
	{"mx", protocols.Matrix, protocols.Address{Network: protocols.Matrix, ID: "@bob:matrix.example", Server: "matrix.example"}},
	{"xm", protocols.XMPP, protocols.Address{Network: protocols.XMPP, ID: "bob@xmpp.example", Server: "xmpp.example"}},
	{"wa", protocols.WhatsApp, protocols.Address{Network: protocols.WhatsApp, ID: "4915112345678@s.whatsapp.net", Server: "s.whatsapp.net"}},
}

// obSeed fills an empty store at path with the world above and returns the
// conversation and person.
func obSeed(t testing.TB, path string) (ConversationID, PersonID) {
	t.Helper()
	in, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, a := range obAccounts {
		in.Attach(a.account, newObConn(a.net, protocols.EncNone))
		if err := in.Ingest(a.account, protocols.ContactEvent{Contact: a.addr, Name: "Bob"}); err != nil {
			t.Fatal(err)
		}
	}
	// One person on three networks (what Merge does; merging is tested
	// with people.go).
	var bob PersonID
	if err := in.db.QueryRow(`SELECT person_id FROM identities WHERE network = 'matrix'`).Scan(&bob); err != nil {
		t.Fatal(err)
	}
	if _, err := in.db.Exec(`UPDATE identities SET person_id = ?`, bob); err != nil {
		t.Fatal(err)
	}
	if _, err := in.db.Exec(`DELETE FROM people WHERE id <> ?`, bob); err != nil {
		t.Fatal(err)
	}
	hello := protocols.Message{NetworkID: "$hello", Chat: protocols.Chat{ID: "!dm:matrix.example"},
		Sender: obAccounts[0].addr, Body: "hello", Sent: time.Unix(1_700_000_000, 0), Encryption: protocols.EncE2EE}
	if err := in.Ingest("mx", protocols.MessageEvent{Message: hello, Historical: true}); err != nil {
		t.Fatal(err)
	}
	var conv ConversationID
	if err := in.db.QueryRow(`SELECT id FROM conversations WHERE kind = 1 AND person_id = ?`, bob).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	return conv, bob
}

// newObWorld opens a seeded store with all three connectors attached at the
// given classes, all offline.
func newObWorld(t *testing.T, mx, xm, wa protocols.Encryption) *obWorld {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inbox.db")
	conv, bob := obSeed(t, path)
	n := 0
	in, err := Open(path, Options{NewID: func() string { n++; return fmt.Sprintf("cid-%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w := &obWorld{in: in, path: path, conv: conv, bob: bob, conns: map[string]*obConn{}}
	for i, enc := range []protocols.Encryption{mx, xm, wa} {
		a := obAccounts[i]
		c := newObConn(a.net, enc)
		w.conns[a.account] = c
		in.Attach(a.account, c)
	}
	return w
}

func (w *obWorld) online(t testing.TB, account string, on bool) {
	t.Helper()
	st := protocols.ConnOffline
	if on {
		st = protocols.ConnOnline
	}
	if err := w.in.Ingest(account, protocols.ConnectionEvent{State: st}); err != nil {
		t.Fatal(err)
	}
}

func (w *obWorld) outgoing(t testing.TB) []Message {
	t.Helper()
	ms, err := w.in.Messages(w.conv, Cursor{}, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []Message
	for _, m := range ms {
		if m.Outgoing {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond (background outbox work) for up to 60 s: a loaded
// machine never needs that long, a broken build fails anyway.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *obWorld) state(t testing.TB, id MessageID) MessageState {
	t.Helper()
	m, err := w.in.Message(id)
	if err != nil {
		t.Fatal(err)
	}
	return m.State
}

func TestSendOnlineStoresWhatWasSent(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	w.online(t, "mx", true)
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "hi Bob"})
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StateSent || m.Network != protocols.Matrix || m.Account != "mx" || m.Encryption != protocols.EncE2EE {
		t.Fatalf("got %+v", m)
	}
	sent := w.conns["mx"].sends()
	if len(sent) != 1 || sent[0].ClientID != protocols.ClientID(m.ClientID) || m.NetworkID != "net-"+m.ClientID {
		t.Fatalf("network saw %+v, stored %q/%q", sent, m.ClientID, m.NetworkID)
	}
	if sent[0].Chat != "!dm:matrix.example" || sent[0].To.ID != "@bob:matrix.example" || sent[0].MinEncryption != protocols.EncE2EE {
		t.Fatalf("wrong outgoing %+v", sent[0])
	}
	if m.Notice != "" {
		t.Fatalf("best route needs no notice, got %q", m.Notice)
	}
	c, err := w.in.Conversation(w.conv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Preview != "hi Bob" {
		t.Fatalf("preview %q", c.Preview)
	}
}

func TestSendRejectsBadInputAndStoresNothing(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncE2EE, protocols.EncE2EE)
	w.online(t, "mx", true)
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "  \n"}); err == nil {
		t.Fatal("empty body accepted")
	}
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: 9999, Body: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown conversation: %v", err)
	}
	if n := len(w.outgoing(t)); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestSendNoRoute(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncE2EE, protocols.EncE2EE)
	for _, a := range obAccounts {
		w.in.Detach(a.account)
	}
	_, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "x"})
	if !errors.Is(err, ErrNoRoute) || !strings.Contains(err.Error(), "no route to Bob") {
		t.Fatalf("want ErrNoRoute naming Bob, got %v", err)
	}
	if n := len(w.outgoing(t)); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestSendAllOfflineQueuesThenSendsOnceWhenOnline(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncNone)
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "later"})
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StateQueued || m.Network != protocols.Matrix || !strings.Contains(m.Notice, "queued") {
		t.Fatalf("want queued on Matrix with a notice, got %+v", m)
	}
	// A weaker network coming online must not take the queued E2EE message.
	w.online(t, "xm", true)
	w.online(t, "wa", true)
	time.Sleep(50 * time.Millisecond)
	if n := len(w.conns["xm"].attempts()) + len(w.conns["wa"].attempts()); n != 0 {
		t.Fatalf("queued E2EE message offered to a weaker network %d times", n)
	}
	w.online(t, "mx", true)
	waitFor(t, "queued message sent", func() bool { return w.state(t, m.ID) == StateSent })
	sent := w.conns["mx"].sends()
	if len(sent) != 1 || sent[0].ClientID != protocols.ClientID(m.ClientID) {
		t.Fatalf("want exactly one send with client ID %q, got %+v", m.ClientID, sent)
	}
	got, _ := w.in.Message(m.ID)
	if got.NetworkID != "net-"+m.ClientID || got.Encryption != protocols.EncE2EE {
		t.Fatalf("stored %+v", got)
	}
	if got.Notice != "" {
		t.Fatalf("a sent message still says %q", got.Notice)
	}
	// Going offline and online again must not resend a sent message.
	w.online(t, "mx", false)
	w.online(t, "mx", true)
	time.Sleep(50 * time.Millisecond)
	if n := len(w.conns["mx"].attempts()); n != 1 {
		t.Fatalf("sent message resent: %d attempts", n)
	}
}

func TestOutboxResumesInOrder(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	var ids []MessageID
	for i := 0; i < 5; i++ {
		m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: fmt.Sprintf("m%d", i)})
		if err != nil || m.State != StateQueued {
			t.Fatalf("send %d: %v %v", i, m.State, err)
		}
		ids = append(ids, m.ID)
	}
	w.online(t, "mx", true)
	waitFor(t, "all sent", func() bool { return w.state(t, ids[4]) == StateSent })
	sent := w.conns["mx"].sends()
	if len(sent) != 5 {
		t.Fatalf("sent %d", len(sent))
	}
	for i, s := range sent {
		if s.Body != fmt.Sprintf("m%d", i) {
			t.Fatalf("out of order: %d is %q", i, s.Body)
		}
	}
}

func TestPermanentFailureThenRetrySameClientID(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	mx := w.conns["mx"]
	mx.mu.Lock()
	mx.fail = func(protocols.OutgoingMessage) error { return protocols.ErrUnknownPeer }
	mx.mu.Unlock()
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "are you there"})
	if !errors.Is(err, protocols.ErrUnknownPeer) {
		t.Fatalf("want the permanent error, got %v", err)
	}
	if m.State != StateFailed || !strings.Contains(m.FailReason, "unknown peer") {
		t.Fatalf("want failed with reason, got %+v", m)
	}
	// A failed message is not resent by reconnects, only by Retry.
	w.online(t, "mx", false)
	w.online(t, "mx", true)
	time.Sleep(50 * time.Millisecond)
	if n := len(mx.attempts()); n != 1 {
		t.Fatalf("failed message retried on its own: %d attempts", n)
	}
	mx.mu.Lock()
	mx.fail = nil
	mx.mu.Unlock()
	if err := w.in.Retry(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := w.in.Message(m.ID)
	if got.State != StateSent || got.FailReason != "" {
		t.Fatalf("after retry %+v", got)
	}
	tries := mx.attempts()
	if len(tries) != 2 || tries[0].ClientID != tries[1].ClientID || tries[1].ClientID != protocols.ClientID(m.ClientID) {
		t.Fatalf("retry must reuse the client ID: %+v", tries)
	}
	if err := w.in.Retry(context.Background(), m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retrying a sent message: %v", err)
	}
}

func TestTransientFailureStaysQueuedAndIsRetried(t *testing.T) {
	old := outboxRetryDelay
	outboxRetryDelay = 20 * time.Millisecond
	defer func() { outboxRetryDelay = old }()

	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	mx := w.conns["mx"]
	fails := 2
	mx.mu.Lock()
	mx.fail = func(protocols.OutgoingMessage) error {
		if fails > 0 {
			fails--
			return fmt.Errorf("link dropped: %w", protocols.ErrNotConnected)
		}
		return nil
	}
	mx.mu.Unlock()
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "flaky"})
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StateQueued {
		t.Fatalf("transient failure must leave it queued, got %v", m.State)
	}
	waitFor(t, "retried send", func() bool { return w.state(t, m.ID) == StateSent })
	tries := mx.attempts()
	if len(tries) != 3 {
		t.Fatalf("want 3 attempts, got %d", len(tries))
	}
	for _, tr := range tries {
		if tr.ClientID != protocols.ClientID(m.ClientID) {
			t.Fatalf("client ID changed across retries: %+v", tries)
		}
	}
	if n := len(mx.sends()); n != 1 {
		t.Fatalf("accepted %d times", n)
	}
}

func TestConnectorRefusesWeakerThanRouted(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	mx := w.conns["mx"]
	weak := protocols.EncTransport // the peer lost its keys between routing and sending
	mx.mu.Lock()
	mx.sendEnc = &weak
	mx.mu.Unlock()
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "secret"})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("want ErrEncryptionUnavailable, got %v", err)
	}
	if m.State != StateFailed || !strings.Contains(m.FailReason, "not sent weaker") {
		t.Fatalf("got %+v", m)
	}
	if n := len(mx.sends()); n != 0 {
		t.Fatal("sent weaker than allowed")
	}
}

func TestSendIntoRequestRefused(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	stranger := protocols.Message{NetworkID: "$s1", Chat: protocols.Chat{ID: "!s:matrix.example"},
		Sender: protocols.Address{Network: protocols.Matrix, ID: "@eve:evil.example", Server: "evil.example"}, Body: "hey"}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: stranger}); err != nil {
		t.Fatal(err)
	}
	var conv ConversationID
	if err := w.in.db.QueryRow(`SELECT conversation_id FROM messages WHERE network_id = '$s1'`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	_, err := w.in.Send(context.Background(), SendRequest{Conversation: conv, Body: "who are you"})
	if !errors.Is(err, ErrRequestPending) {
		t.Fatalf("want ErrRequestPending, got %v", err)
	}
	if n := len(w.conns["mx"].attempts()); n != 0 {
		t.Fatal("reply to a request reached the network")
	}
}

func TestQueuedSurvivesReopen(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "after restart"})
	if err != nil || m.State != StateQueued {
		t.Fatalf("%v %v", m.State, err)
	}
	if err := w.in.Close(); err != nil {
		t.Fatal(err)
	}
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	c := newObConn(protocols.Matrix, protocols.EncE2EE)
	in.Attach("mx", c)
	if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sent after reopen", func() bool {
		got, err := in.Message(m.ID)
		return err == nil && got.State == StateSent
	})
	if s := c.sends(); len(s) != 1 || s[0].ClientID != protocols.ClientID(m.ClientID) {
		t.Fatalf("want one send with the stored client ID, got %+v", s)
	}
}

func TestNewMessageDoesNotOvertakeQueuedOnes(t *testing.T) {
	old := outboxRetryDelay
	outboxRetryDelay = time.Hour // only a kick may resend
	defer func() { outboxRetryDelay = old }()

	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	mx := w.conns["mx"]
	failed := false
	mx.mu.Lock()
	mx.fail = func(protocols.OutgoingMessage) error {
		if !failed {
			failed = true
			return context.DeadlineExceeded
		}
		return nil
	}
	mx.mu.Unlock()
	first, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "first"})
	if err != nil || first.State != StateQueued {
		t.Fatalf("first: %v %v", first.State, err)
	}
	second, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "second"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both sent", func() bool { return w.state(t, first.ID) == StateSent && w.state(t, second.ID) == StateSent })
	sent := mx.sends()
	if len(sent) != 2 || sent[0].Body != "first" || sent[1].Body != "second" {
		t.Fatalf("order on the network: %+v", sent)
	}
}

// The network's copy of our own message can arrive before the send is
// acknowledged: with our client ID (Matrix echo, XMPP carbon) or without it.
// Either way the conversation ends with one message, sent, with the
// network ID.
func TestEchoBeforeAckKeepsOneMessage(t *testing.T) {
	for _, withClientID := range []bool{true, false} {
		t.Run(fmt.Sprintf("clientID=%v", withClientID), func(t *testing.T) {
			w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
			w.online(t, "mx", true)
			mx := w.conns["mx"]
			mx.mu.Lock()
			mx.during = func(m protocols.OutgoingMessage) {
				echo := protocols.Message{NetworkID: protocols.MessageID("net-" + m.ClientID), Chat: protocols.Chat{ID: m.Chat}, Outgoing: true,
					Sender: protocols.Address{Network: protocols.Matrix, ID: "@me:matrix.example"}, Body: m.Body, Encryption: protocols.EncE2EE}
				if withClientID {
					echo.ClientID = m.ClientID
				}
				if err := w.in.Ingest("mx", protocols.MessageEvent{Message: echo}); err != nil {
					t.Error(err)
				}
				var copies int
				w.in.db.QueryRow(`SELECT count(*) FROM messages WHERE body = 'echoed'`).Scan(&copies)
				if want := map[bool]int{true: 1, false: 2}[withClientID]; copies != want {
					t.Errorf("before the ack: %d rows, want %d", copies, want)
				}
			}
			mx.mu.Unlock()
			m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "echoed"})
			if err != nil {
				t.Fatal(err)
			}
			if m.State != StateSent || m.NetworkID != "net-"+m.ClientID {
				t.Fatalf("got %+v", m)
			}
			ms, err := w.in.Messages(w.conv, Cursor{}, 50)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, x := range ms {
				if x.Body == "echoed" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d copies of the message", n)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransientClassification(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("sync stopped: %w", protocols.ErrNotConnected), true},
		{protocols.ErrAuthFailed, true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("post: %w", timeoutErr{}), true},
		{protocols.ErrUnknownPeer, false},
		{protocols.ErrUnsupported, false},
		{protocols.ErrEncryptionUnavailable, false},
		{errors.New("M_FORBIDDEN"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// The account comes online between the router's look (offline: queue) and
// the commit of the queued message; the "online" kick finds nothing yet.
// The message must still go out at once, not wait for the next event.
func TestQueuedWhileAccountComesOnlineGoesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	conv, _ := obSeed(t, path)
	var in *Inbox
	armed := false
	in, err := Open(path, Options{NewID: func() string {
		// NewID runs after the route was chosen, before the store.
		if armed {
			armed = false
			if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
				t.Error(err)
			}
		}
		return "cid-race"
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	mx := newObConn(protocols.Matrix, protocols.EncE2EE)
	in.Attach("mx", mx)
	armed = true
	m, err := in.Send(context.Background(), SendRequest{Conversation: conv, Body: "just in time"})
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StateQueued && m.State != StateSent { // sent: the kick was quick
		t.Fatalf("the route was offline when chosen; want queued (or already sent), got %v", m.State)
	}
	waitFor(t, "the queued message sent", func() bool {
		got, err := in.Message(m.ID)
		return err == nil && got.State == StateSent
	})
	if sent := mx.sends(); len(sent) != 1 || sent[0].ClientID != "cid-race" {
		t.Fatalf("want one send, got %+v", sent)
	}
}
