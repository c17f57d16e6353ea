package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// netConn is a network double for the real inbox: it reports a fixed
// encryption class and accepts every send. The store under test is real.
type netConn struct {
	net    protocols.Network
	enc    protocols.Encryption
	events chan protocols.Event
}

func newNetConn(n protocols.Network, e protocols.Encryption) *netConn {
	return &netConn{net: n, enc: e, events: make(chan protocols.Event)}
}

func (c *netConn) Network() protocols.Network { return c.net }
func (c *netConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: c.enc.IsE2EE(), Receipts: true, ReadMarkers: true, Typing: true}
}
func (c *netConn) Connect(context.Context) error                                         { return nil }
func (c *netConn) Events() <-chan protocols.Event                                        { return c.events }
func (c *netConn) PeerEncryption(protocols.Address) protocols.Encryption                 { return c.enc }
func (c *netConn) MarkRead(context.Context, protocols.ChatID, protocols.MessageID) error { return nil }
func (c *netConn) SetTyping(context.Context, protocols.ChatID, bool) error               { return nil }
func (c *netConn) Close() error                                                          { return nil }
func (c *netConn) FetchHistory(context.Context, protocols.ChatID, string, int) (protocols.HistoryPage, error) {
	return protocols.HistoryPage{}, nil
}
func (c *netConn) Send(_ context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	return protocols.SendResult{NetworkID: protocols.MessageID("net-" + m.ClientID), Chat: m.Chat, Encryption: c.enc, At: testNow}, nil
}

// realWorld is a temp SQLite inbox fed with protocol events: Ada on Matrix
// (verified) and XMPP, Bob on WhatsApp, a stranger's request on XMPP.
type realWorld struct {
	in  *inbox.Inbox
	mx  *netConn
	xm  *netConn
	wa  *netConn
	ada inbox.ConversationID
}

var (
	adaMX = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ada:example.org", Server: "example.org"}
	adaXM = protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "ada@jabber.example", Server: "jabber.example"}
	bobWA = protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: "4915123456789@s.whatsapp.net", Server: "s.whatsapp.net"}
	evil  = protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "mallory@evil.example", Server: "evil.example"}
)

func newRealWorld(t testing.TB) *realWorld {
	t.Helper()
	n := 0
	in, err := inbox.Open(filepath.Join(t.TempDir(), "polyglot.db"), inbox.Options{
		Now:   func() time.Time { return testNow },
		NewID: func() string { n++; return fmt.Sprintf("cid%04d", n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w := &realWorld{in: in,
		mx: newNetConn(protocols.Matrix, protocols.EncE2EEVerified),
		xm: newNetConn(protocols.XMPP, protocols.EncTransport),
		wa: newNetConn(protocols.WhatsApp, protocols.EncE2EE)}
	for acct, c := range map[string]*netConn{"mx": w.mx, "xm": w.xm, "wa": w.wa} {
		in.Attach(acct, c)
		w.ingest(t, acct, protocols.ConnectionEvent{State: protocols.ConnOnline})
	}
	w.ingest(t, "mx", protocols.ContactEvent{Contact: adaMX, Name: "Ada Lovelace"})
	w.ingest(t, "xm", protocols.ContactEvent{Contact: adaXM, Name: "Ada Lovelace", Subscription: "both"})
	w.ingest(t, "wa", protocols.ContactEvent{Contact: bobWA, Name: "Bob"})
	w.ingest(t, "mx", protocols.KeyChangeEvent{Chat: "!ada:example.org", Contact: adaMX, DeviceID: "ADADEV", Fingerprint: "abcd ef01", Kind: protocols.KeyVerified, At: testNow.Add(-25 * time.Hour)})
	msg := func(acct string, from protocols.Address, chat, id, body string, ago time.Duration, enc protocols.Encryption) {
		w.ingest(t, acct, protocols.MessageEvent{Message: protocols.Message{
			NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: protocols.ChatID(chat)}, Sender: from, Body: body,
			Sent: testNow.Add(-ago), Received: testNow.Add(-ago), Encryption: enc}})
	}
	msg("xm", adaXM, adaXM.ID, "x1", "sent from my phone over XMPP", 26*time.Hour, protocols.EncTransport)
	msg("mx", adaMX, "!ada:example.org", "m1", "Did you see the analytical engine notes?", 3*time.Hour, protocols.EncE2EEVerified)
	msg("mx", adaMX, "!ada:example.org", "m2", "\x1b]0;owned\x07\x1b[2J\x1b[31mred", 2*time.Hour, protocols.EncE2EEVerified)
	msg("wa", bobWA, bobWA.ID, "w1", "lunch tomorrow?", 30*time.Minute, protocols.EncE2EE)
	msg("xm", evil, evil.ID, "e1", "hi! click http://evil.example/\x1b[5mnow", 10*time.Minute, protocols.EncTransport)
	// The user confirms that both Adas are one person (the suggestion comes
	// from the equal names).
	sugg, err := in.MergeSuggestions()
	if err != nil || len(sugg) != 1 {
		t.Fatalf("merge suggestions: %v %v", sugg, err)
	}
	if err := in.Merge(sugg[0].A, sugg[0].B); err != nil {
		t.Fatal(err)
	}
	id, err := in.FindConversation(adaMX.Key())
	if err != nil {
		t.Fatalf("find Ada: %v", err)
	}
	w.ada = id
	return w
}

func (w *realWorld) ingest(t testing.TB, acct string, ev protocols.Event) {
	t.Helper()
	if err := w.in.Ingest(acct, ev); err != nil {
		t.Fatalf("ingest %T: %v", ev, err)
	}
}

func assertInert(t *testing.T, frame string) {
	t.Helper()
	if i := strings.IndexAny(frame, "\x1b\x07\u009b\u009d"); i >= 0 {
		t.Fatalf("frame holds a raw control byte at %d: %q", i, frame[max(0, i-20):min(len(frame), i+20)])
	}
}

func TestGoldenInbox(t *testing.T) {
	w := newRealWorld(t)
	h := newHarness(t, w.in, 80, 20)
	frame := h.view()
	assertInert(t, frame)
	golden(t, "inbox", frame)
}

func TestGoldenConversationShowsEscapesInert(t *testing.T) {
	w := newRealWorld(t)
	h := newHarness(t, w.in, 80, 24)
	h.send(openConversationMsg{ID: w.ada})
	frame := h.view()
	assertInert(t, frame)
	if !strings.Contains(frame, "␛]0;owned␇␛[2J␛[31mred") {
		t.Fatalf("the escape body is not shown as visible placeholders:\n%s", frame)
	}
	golden(t, "conversation", frame)
}

func TestGoldenRequests(t *testing.T) {
	w := newRealWorld(t)
	h := newHarness(t, w.in, 80, 20)
	h.keys("r")
	frame := h.view()
	assertInert(t, frame)
	golden(t, "requests", frame)
}

// TestRealDowngradeFlow goes through the real router: Matrix goes offline,
// the send is refused with a DowngradeError, the prompt appears, and "y"
// sends over XMPP with the weaker class recorded on the message.
func TestRealDowngradeFlow(t *testing.T) {
	w := newRealWorld(t)
	h := newHarness(t, w.in, 80, 24)
	h.send(openConversationMsg{ID: w.ada})
	w.ingest(t, "mx", protocols.ConnectionEvent{State: protocols.ConnOffline})
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}}})
	h.typeText("meet at noon")
	h.keys("enter")
	frame := h.view()
	assertInert(t, frame)
	golden(t, "downgrade", frame)
	if q := h.m.conv.prompt.question(); q != "Matrix (E2EE verified) is offline. Send via XMPP — TLS only, servers can read it?" {
		t.Fatalf("prompt asks %q", q)
	}
	h.mustShow("[w] wait for Matrix (queue)", "[n] cancel")
	h.keys("y")
	msgs, err := w.in.Messages(w.ada, inbox.Cursor{}, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages: %v %v", msgs, err)
	}
	if m := msgs[0]; m.Body != "meet at noon" || m.Network != protocols.XMPP || m.Encryption != protocols.EncTransport {
		t.Fatalf("sent %+v, want XMPP TLS only", m)
	}
	h.mustShow("meet at noon", "You XM TLS")
}

func TestRealRequestAccept(t *testing.T) {
	w := newRealWorld(t)
	h := newHarness(t, w.in, 80, 20)
	h.mustShow("Requests (1)")
	h.keys("r", "a")
	reqs, err := w.in.Requests()
	if err != nil || len(reqs) != 0 {
		t.Fatalf("after accept: %v %v", reqs, err)
	}
	h.keys("esc")
	h.mustShow("mallory", "Requests ")
	h.mustNotShow("Requests (1)")
}

// TestWhatsAppHostileNamesAreInert: what the WhatsApp connector passes
// through unchanged (protocols/whatsapp's tests: a push name, a group
// subject and a body carrying terminal controls) lands in the real store
// and reaches the screen inert, in the inbox, the conversation and the
// person view.
func TestWhatsAppHostileNamesAreInert(t *testing.T) {
	w := newRealWorld(t)
	evilWA := protocols.Address{Network: protocols.WhatsApp, ID: "4915100000666@s.whatsapp.net", Account: "wa"}
	group := protocols.Chat{ID: "120363000000000666@g.us", Group: true, Name: "Family \x1b]0;pwned\x07\x1b[2J"}
	w.ingest(t, "wa", protocols.ChatEvent{Chat: group, Encryption: protocols.EncE2EE, Members: []protocols.Address{evilWA, bobWA}})
	w.ingest(t, "wa", protocols.ContactEvent{Contact: evilWA, Name: "Mallory\x1b[31m\u202e\u009b2J"})
	w.ingest(t, "wa", protocols.MessageEvent{Message: protocols.Message{NetworkID: "3EB0666", Chat: group, Sender: evilWA,
		Body: "hello\x1b[5mblink\x07\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", Sent: testNow.Add(-time.Minute),
		Received: testNow.Add(-time.Minute), Encryption: protocols.EncE2EE}})
	h := newHarness(t, w.in, 100, 24)
	h.mustShow("Family ␛]0;pwned␇␛[2J")
	assertInert(t, h.view())
	h.keys("enter") // the group: the newest conversation
	h.mustShow("Mallory␛[31m", "hello␛[5mblink␇")
	assertInert(t, h.view())
}
