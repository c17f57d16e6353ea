// Package protocolstest holds every connector to the promises the core
// relies on, as one suite each network's tests run against its real
// server (the demo network against its simulation):
//
//   - Connect: the first link state is Connecting or Online, Online follows
//     a successful Connect, and no message comes before the first state.
//   - Send is idempotent per ClientID: a resend after a crash reaches the
//     peer once.
//   - PeerEncryption never claims more than a message then gets, and a
//     message that cannot get MinEncryption is refused, never sent weaker.
//   - History pages go backwards without gaps or repeats.
//   - A capability that is false makes its method return ErrUnsupported.
//   - Hostile text comes through unchanged, both ways: sanitizing is the
//     screen's job, and a connector that "cleans" text loses what was said.
//   - Catch-up (where the network keeps messages for an offline user):
//     what was missed arrives once after Connect, and once its checkpoint
//     is committed a restart does not deliver it again.
package protocolstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"polyglot/protocols"
)

// Network is what the suite needs of one network.
type Network struct {
	// New returns a connector for the user's account, not yet connected.
	// Every call opens the same account with the same data (a restart).
	New func(t testing.TB) protocols.Connector
	// Peer is someone on the same network the user writes to and hears
	// from.
	Peer Peer
	// CatchUp: the server keeps messages for a user who is offline, and
	// the connector fetches them on Connect.
	CatchUp bool
	// Hostile is text a terminal would act on that the network can carry
	// (XML, for one, cannot carry C0 controls).
	Hostile []string
	// Timeout bounds each wait for the network (a message to arrive).
	Timeout time.Duration
}

// Peer is the other side of the user's conversation.
type Peer interface {
	// Address is the peer as the user writes to them.
	Address() protocols.Address
	// Say sends body to the user and returns once the network took it.
	Say(t testing.TB, body string)
	// Heard is how many messages with body the peer got, counted once
	// sentinel, which the user sent after them, has arrived.
	Heard(t testing.TB, body, sentinel string) int
}

// HostileCommon is hostile text every network here can carry: the 8-bit
// CSI and OSC a terminal may obey, bidi overrides, zero-width and
// combining characters, and a line long enough to need wrapping.
var HostileCommon = []string{
	"csi \u009b2J\u009b31m red? osc \u009d0;title\u009c",
	"bidi \u202egnp.exe\u202c and \u2066isolate\u2069 zero\u200bwidth",
	"combining e\u0301\u0301\u0301\u0301 and emoji 👩‍👩‍👧 and CJK 日本語",
	longLine(3000),
}

// HostileControls adds C0 controls, for networks whose wire carries them.
// A lone CR is not among them: it is a line ending, and rich text (Matrix
// HTML) turns it into LF, as HTML parsing must.
var HostileControls = []string{
	"esc \x1b[2J\x1b]0;pwned\x07 bell \x07 backspace \x08\x08 tab\tnul-free",
}

func longLine(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghij "[i%11]
	}
	return string(b)
}

// Run runs the suite.
func Run(t *testing.T, n Network) {
	if n.Timeout == 0 {
		n.Timeout = 45 * time.Second
	}
	s := &suite{n: n}
	s.rec = s.connect(t)
	t.Cleanup(func() { _ = s.rec.C.Close() })
	t.Run("ConnectOrder", s.connectOrder)
	// Introduce the two sides (a Matrix DM is created and joined, an XMPP
	// contact heard from) before promises that need a conversation.
	t.Run("Introduce", s.introduce)
	if t.Failed() {
		return
	}
	t.Run("SendIsIdempotentPerClientID", s.idempotentSend)
	t.Run("PeerEncryptionNeverClaimsMore", s.peerEncryption)
	t.Run("HostileTextUnchanged", s.hostileText)
	t.Run("HistoryPagesWithoutGapsOrRepeats", s.historyPages)
	t.Run("FalseCapabilitiesAreUnsupported", s.unsupported)
	if n.CatchUp {
		t.Run("CatchUpOnceAfterRestart", s.catchUp)
	}
}

type suite struct {
	n    Network
	rec  *Recorder
	chat protocols.ChatID // the user's chat with the peer, as the network names it
}

// connect opens and connects the user's connector, recording from its
// first event.
func (s *suite) connect(t testing.TB) *Recorder {
	t.Helper()
	c := s.n.New(t)
	r := Record(c)
	ctx, cancel := context.WithTimeout(context.Background(), s.n.Timeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		_ = c.Close()
		t.Fatalf("%s: Connect: %v", c.Network(), err)
	}
	return r
}

func (s *suite) ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.n.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Token is a fresh random word, so a test's messages are its own.
func Token() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *suite) connectOrder(t *testing.T) {
	i, _ := s.rec.Wait(t, s.n.Timeout, "ConnectionEvent online", IsState(protocols.ConnOnline))
	evs := s.rec.Events()
	first := -1
	for j, ev := range evs {
		if _, ok := ev.(protocols.ConnectionEvent); ok {
			first = j
			break
		}
		if _, ok := ev.(protocols.MessageEvent); ok {
			t.Fatalf("a message came before any link state:\n%s", Dump(evs))
		}
	}
	st := evs[first].(protocols.ConnectionEvent).State
	if st != protocols.ConnConnecting && st != protocols.ConnOnline {
		t.Fatalf("first link state %v, want connecting or online:\n%s", st, Dump(evs))
	}
	for _, ev := range evs[first:i] {
		if ce, ok := ev.(protocols.ConnectionEvent); ok && ce.State != protocols.ConnConnecting {
			t.Fatalf("link state %v between connecting and online after a successful Connect:\n%s", ce.State, Dump(evs))
		}
	}
}

func (s *suite) send(t testing.TB, clientID, body string) protocols.SendResult {
	t.Helper()
	res, err := s.rec.C.Send(s.ctx(t), protocols.OutgoingMessage{ClientID: protocols.ClientID(clientID), To: s.n.Peer.Address(), Chat: s.chat, Body: body})
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return res
}

func (s *suite) introduce(t *testing.T) {
	hello := "hello " + Token()
	res := s.send(t, "intro-"+Token(), hello)
	if res.Chat != "" {
		s.chat = res.Chat
	}
	if got := s.n.Peer.Heard(t, hello, hello); got != 1 {
		t.Fatalf("the peer got the first message %d times", got)
	}
	reply := "hi back " + Token()
	s.n.Peer.Say(t, reply)
	m := s.rec.Message(t, s.n.Timeout, reply)
	if m.Outgoing || m.Sender.ID != s.n.Peer.Address().ID {
		t.Fatalf("the peer's reply arrived as %+v", m)
	}
	if s.chat == "" {
		s.chat = m.Chat.ID
	}
	if m.Chat.ID != s.chat {
		t.Fatalf("the reply is in chat %q, the user's message went to %q", m.Chat.ID, s.chat)
	}
}

func (s *suite) idempotentSend(t *testing.T) {
	id, body := "once-"+Token(), "only once "+Token()
	first := s.send(t, id, body)
	second := s.send(t, id, body)
	if first.NetworkID != "" && second.NetworkID != "" && first.NetworkID != second.NetworkID {
		t.Errorf("the resend got network ID %q, the first %q: the peer sees two messages", second.NetworkID, first.NetworkID)
	}
	sentinel := "after the resend " + Token()
	s.send(t, "sentinel-"+Token(), sentinel)
	if got := s.n.Peer.Heard(t, body, sentinel); got != 1 {
		t.Fatalf("the peer got a message sent twice with one ClientID %d times, want 1", got)
	}
	other := s.send(t, "other-"+Token(), body)
	if other.NetworkID != "" && other.NetworkID == first.NetworkID {
		t.Fatal("a new ClientID reused the first message's network ID")
	}
}

func (s *suite) peerEncryption(t *testing.T) {
	peer := s.n.Peer.Address()
	claim := s.rec.C.PeerEncryption(peer)
	res := s.send(t, "enc-"+Token(), "how safe "+Token())
	if res.Encryption < claim {
		t.Fatalf("PeerEncryption said %s, the message went with %s", claim.Label(), res.Encryption.Label())
	}
	if claim == protocols.EncE2EEVerified {
		return
	}
	// Asking for more than the peer offers is refused, and nothing leaves.
	body := "must not leave " + Token()
	_, err := s.rec.C.Send(s.ctx(t), protocols.OutgoingMessage{ClientID: protocols.ClientID("strong-" + Token()), To: peer, Chat: s.chat,
		Body: body, MinEncryption: claim + 1})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("a send requiring %s to a %s peer: err %v, want ErrEncryptionUnavailable", (claim + 1).Label(), claim.Label(), err)
	}
	sentinel := "after the refusal " + Token()
	s.send(t, "sentinel-"+Token(), sentinel)
	if got := s.n.Peer.Heard(t, body, sentinel); got != 0 {
		t.Fatalf("a refused message reached the peer %d times", got)
	}
}

func (s *suite) hostileText(t *testing.T) {
	texts := slices.Clone(s.n.Hostile)
	for i, h := range texts {
		tag := fmt.Sprintf(" [%d %s]", i, Token())
		in := h + tag
		s.n.Peer.Say(t, in)
		if m := s.rec.Message(t, s.n.Timeout, in); m.Body != in {
			t.Errorf("hostile text %d arrived changed: %q", i, m.Body)
		}
		out := "out " + h + tag
		s.send(t, "hostile-"+Token(), out)
		if got := s.n.Peer.Heard(t, out, out); got != 1 {
			t.Errorf("hostile text %d reached the peer %d times unchanged, want 1", i, got)
		}
	}
}

func (s *suite) historyPages(t *testing.T) {
	ctx := s.ctx(t)
	if !s.rec.C.Capabilities().History {
		if _, err := s.rec.C.FetchHistory(ctx, s.chat, "", 10); !errors.Is(err, protocols.ErrUnsupported) {
			t.Fatalf("History is false, FetchHistory: %v, want ErrUnsupported", err)
		}
		return
	}
	run := Token()
	var said []string
	for i := range 12 {
		said = append(said, fmt.Sprintf("page %s #%02d", run, i))
		s.n.Peer.Say(t, said[i])
	}
	for _, b := range said {
		s.rec.Message(t, s.n.Timeout, b)
	}
	// Pages of 5 from the newest, each newest last, until all 12 are seen.
	var got []string
	seen := map[string]bool{}
	before := ""
	for page := 0; ; page++ {
		p, err := s.rec.C.FetchHistory(ctx, s.chat, before, 5)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		var bodies []string
		for _, m := range p.Messages {
			key := string(m.NetworkID)
			if key == "" {
				key = m.Body
			}
			if seen[key] {
				t.Fatalf("page %d repeats %q (%s)", page, m.Body, key)
			}
			seen[key] = true
			bodies = append(bodies, m.Body)
		}
		got = append(bodies, got...)
		if p.Before == "" || slices.Contains(bodies, said[0]) || page > 20 {
			break
		}
		before = p.Before
	}
	var ours []string
	for _, b := range got {
		if slices.Contains(said, b) {
			ours = append(ours, b)
		}
	}
	if !slices.Equal(ours, said) {
		t.Fatalf("paging back found %d of 12, in this order:\n%q", len(ours), ours)
	}
}

func (s *suite) unsupported(t *testing.T) {
	ctx, c := s.ctx(t), s.rec.C
	caps := c.Capabilities()
	target := s.send(t, "target-"+Token(), "target "+Token()).NetworkID
	check := func(what string, capable bool, err error) {
		t.Helper()
		if !capable && !errors.Is(err, protocols.ErrUnsupported) {
			t.Errorf("%s is false in Capabilities, the call: %v, want ErrUnsupported", what, err)
		}
		if capable && errors.Is(err, protocols.ErrUnsupported) {
			t.Errorf("%s is true in Capabilities, the call says unsupported: %v", what, err)
		}
	}
	check("Typing", caps.Typing, c.SetTyping(ctx, s.chat, false))
	check("ReadMarkers", caps.ReadMarkers, c.MarkRead(ctx, s.chat, target))
	if e, ok := c.(protocols.Editor); ok {
		_, err := e.Edit(ctx, s.chat, target, protocols.ClientID("edit-"+Token()), "edited "+Token())
		check("Edits", caps.Edits, err)
	} else if caps.Edits {
		t.Error("Edits is true but the connector has no Edit")
	}
	if r, ok := c.(protocols.Reactor); ok {
		check("Reactions", caps.Reactions, r.React(ctx, s.chat, target, "👍", false))
	} else if caps.Reactions {
		t.Error("Reactions is true but the connector has no React")
	}
	if r, ok := c.(protocols.Retractor); ok {
		check("Retractions", caps.Retractions, r.Retract(ctx, s.chat, target))
	} else if caps.Retractions {
		t.Error("Retractions is true but the connector has no Retract")
	}
}

func (s *suite) catchUp(t *testing.T) {
	_ = s.rec.C.Close()
	missed := "while you were away " + Token()
	s.n.Peer.Say(t, missed)
	s.rec = s.connect(t)
	m := s.rec.Message(t, s.n.Timeout, missed)
	if m.Outgoing {
		t.Fatalf("missed message arrived as outgoing: %+v", m)
	}
	// Its checkpoint (committed by the recorder) must follow it.
	i, _ := s.rec.Wait(t, s.n.Timeout, "missed message", IsMessage(missed))
	s.rec.WaitFrom(t, i+1, s.n.Timeout, "checkpoint after the missed message", func(ev protocols.Event) bool {
		_, ok := ev.(protocols.CheckpointEvent)
		return ok
	})
	// Restart: the live message after it arrives, the missed one does not
	// come again.
	_ = s.rec.C.Close()
	s.rec = s.connect(t)
	t.Cleanup(func() { _ = s.rec.C.Close() })
	s.rec.Wait(t, s.n.Timeout, "online after the restart", IsState(protocols.ConnOnline))
	live := "back again " + Token()
	s.n.Peer.Say(t, live)
	s.rec.Message(t, s.n.Timeout, live)
	if n := s.rec.Count(IsMessage(missed)); n != 0 {
		t.Fatalf("a message stored before the restart was delivered again (%d times):\n%s", n, Dump(s.rec.Events()))
	}
}
