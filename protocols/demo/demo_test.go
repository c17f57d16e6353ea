package demo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"polyglot/protocols"
)

var epoch = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

func newWorld(t *testing.T, seed int64, speed float64) *World {
	t.Helper()
	w := New(Options{Seed: seed, Speed: speed, Now: func() time.Time { return epoch }})
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func account(t *testing.T, w *World, n protocols.Network) Account {
	t.Helper()
	for _, a := range w.Accounts() {
		if a.Network == n {
			return a
		}
	}
	t.Fatalf("no %s account", n)
	return Account{}
}

func connect(t *testing.T, w *World, n protocols.Network) protocols.Connector {
	t.Helper()
	c := account(t, w, n).Connector
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", n, err)
	}
	return c
}

// await reads events until match returns true; it returns every event read.
func await(t *testing.T, ch <-chan protocols.Event, timeout time.Duration, what string, match func(protocols.Event) bool) []protocols.Event {
	t.Helper()
	deadline := time.After(timeout)
	var seen []protocols.Event
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("events closed while waiting for %s; saw %d events", what, len(seen))
			}
			seen = append(seen, ev)
			if match(ev) {
				return seen
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; saw %d events: %s", what, len(seen), summary(seen))
		}
	}
}

// drainQuiet reads events until none arrives for quiet.
func drainQuiet(ch <-chan protocols.Event, quiet time.Duration) []protocols.Event {
	var seen []protocols.Event
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return seen
			}
			seen = append(seen, ev)
		case <-time.After(quiet):
			return seen
		}
	}
}

func summary(evs []protocols.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %T %+v", ev, ev)
	}
	return b.String()
}

func isMessageFrom(id string) func(protocols.Event) bool {
	return func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && !m.Historical && m.Message.Sender.ID == id
	}
}

func TestConnectEmitsRosterGroupAndRecentHistory(t *testing.T) {
	w := newWorld(t, 1, 50)
	c := connect(t, w, protocols.Matrix)
	burst := drainQuiet(c.Events(), 50*time.Millisecond) // the script's first step is 8 s = 160 ms away

	if ce, ok := burst[0].(protocols.ConnectionEvent); !ok || ce.State != protocols.ConnOnline {
		t.Fatalf("first event = %T %+v, want ConnectionEvent online", burst[0], burst[0])
	}
	var roster []string
	perChat := map[string]int{}
	var group *protocols.ChatEvent
	for _, ev := range burst {
		switch e := ev.(type) {
		case protocols.ContactEvent:
			roster = append(roster, e.Contact.ID)
			if e.Contact.Account != "demo-matrix" || e.Contact.Network != protocols.Matrix || e.Contact.Server != "matrix.example" {
				t.Errorf("contact address incomplete: %+v", e.Contact)
			}
		case protocols.ChatEvent:
			group = &e
		case protocols.MessageEvent:
			if !e.Historical {
				t.Errorf("connect burst message not historical: %+v", e.Message)
			}
			perChat[string(e.Message.Chat.ID)]++
		}
	}
	want := []string{"@alice:matrix.example", "@bob:matrix.example", "@priya:matrix.example", "@jose:matrix.example"}
	if !slices.Equal(roster, want) {
		t.Errorf("roster = %v, want %v", roster, want)
	}
	if group == nil || !group.Chat.Group || group.Chat.Name == "" || len(group.Members) != 4 || group.Encryption != protocols.EncE2EE {
		t.Errorf("group chat event = %+v, want a named E2EE group with 4 members", group)
	}
	if len(perChat) != 5 {
		t.Errorf("history arrived for %d chats, want 5 (4 DMs + group): %v", len(perChat), perChat)
	}
	for chat, n := range perChat {
		if n > recentOnConnect {
			t.Errorf("chat %s got %d messages on connect, want at most %d", chat, n, recentOnConnect)
		}
	}
}

func TestFetchHistoryPagesBackwardsWithoutGapsOrRepeats(t *testing.T) {
	w := newWorld(t, 1, 50)
	c := connect(t, w, protocols.Matrix)
	ctx := context.Background()
	chat := "!dm-alice:matrix.example"

	var all []protocols.Message
	before, pages := "", 0
	for {
		p, err := c.FetchHistory(ctx, protocols.ChatID(chat), before, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Messages) == 0 || len(p.Messages) > 10 {
			t.Fatalf("page %d has %d messages", pages, len(p.Messages))
		}
		all = append(p.Messages, all...)
		if p.Before == "" {
			break
		}
		before = p.Before
	}
	if len(all) != 43 || pages != 5 {
		t.Fatalf("got %d messages in %d pages, want 43 in 5", len(all), pages)
	}
	seen := map[string]bool{}
	for i, m := range all {
		if seen[string(m.NetworkID)] {
			t.Fatalf("message %s twice", m.NetworkID)
		}
		seen[string(m.NetworkID)] = true
		if i > 0 && m.Sent.Before(all[i-1].Sent) {
			t.Fatalf("history out of order at %d", i)
		}
		if !m.Sent.Before(epoch) {
			t.Fatalf("history message from the future: %v", m.Sent)
		}
	}
	if last := all[len(all)-1]; last.Body != "Perfect. I owe you a coffee ☕" || last.Encryption != protocols.EncE2EEVerified {
		t.Errorf("newest = %q (%v), want Alice's scripted last line, E2EE verified", last.Body, last.Encryption)
	}
	if _, err := c.FetchHistory(ctx, protocols.ChatID(chat), "garbage", 10); err == nil {
		t.Error("bad cursor accepted")
	}
	if _, err := c.FetchHistory(ctx, "!nope:matrix.example", "", 10); !errors.Is(err, protocols.ErrUnknownPeer) {
		t.Errorf("unknown chat: err = %v, want ErrUnknownPeer", err)
	}
}

func TestSendGetsReceiptsTypingAndReply(t *testing.T) {
	w := newWorld(t, 7, 50)
	c := connect(t, w, protocols.WhatsApp)
	chloe := "15550100003@s.whatsapp.net"
	res, err := c.Send(context.Background(), protocols.OutgoingMessage{
		ClientID: "c1", To: protocols.Address{Network: protocols.WhatsApp, ID: chloe}, Body: "On arrive à 20h ?",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.NetworkID == "" || res.Chat != protocols.ChatID(chloe) || res.Encryption != protocols.EncE2EE {
		t.Fatalf("ack = %+v", res)
	}
	seen := await(t, c.Events(), 3*time.Second, "Chloé's reply", isMessageFrom(chloe))

	var order []string
	for _, ev := range seen {
		switch e := ev.(type) {
		case protocols.ReceiptEvent:
			if e.Chat == protocols.ChatID(chloe) && slices.Equal(e.IDs, []protocols.MessageID{res.NetworkID}) {
				order = append(order, e.Kind.String())
			}
		case protocols.TypingEvent:
			if e.From.ID == chloe {
				order = append(order, fmt.Sprintf("typing=%v", e.Typing))
			}
		case protocols.MessageEvent:
			if e.Message.Sender.ID == chloe && !e.Historical {
				order = append(order, "reply")
				m := e.Message
				if m.Outgoing || m.Encryption != protocols.EncE2EE || m.Chat.ID != protocols.ChatID(chloe) || m.NetworkID == "" {
					t.Errorf("reply = %+v", m)
				}
				if !slices.Contains(cast()[2].replies, m.Body) {
					t.Errorf("reply %q is not one of Chloé's lines", m.Body)
				}
			}
		}
	}
	want := []string{"delivered", "read", "typing=true", "typing=false", "reply"}
	if !slices.Equal(order, want) {
		t.Errorf("sequence = %v, want %v", order, want)
	}
	// The reply is on the server too: the newest history page ends with it,
	// after the user's own message.
	page, err := c.FetchHistory(context.Background(), protocols.ChatID(chloe), "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].ClientID != "c1" || !page.Messages[0].Outgoing || page.Messages[1].Sender.ID != chloe {
		t.Errorf("newest history = %+v", page.Messages)
	}
}

func TestReceiptsFollowEachNetwork(t *testing.T) {
	w := newWorld(t, 7, 50)
	ctx := context.Background()

	// XMPP (XEP-0184) receipts name the client ID we sent.
	x := connect(t, w, protocols.XMPP)
	dmitri := "dmitri@jabber.example"
	if _, err := x.Send(ctx, protocols.OutgoingMessage{ClientID: "x1", To: protocols.Address{Network: protocols.XMPP, ID: dmitri}, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	await(t, x.Events(), 3*time.Second, "delivery receipt by client ID", func(ev protocols.Event) bool {
		r, ok := ev.(protocols.ReceiptEvent)
		return ok && r.Kind == protocols.ReceiptDelivered && slices.Equal(r.IDs, []protocols.MessageID{"x1"})
	})

	// Matrix has read receipts only; the group answer comes from a member.
	m := connect(t, w, protocols.Matrix)
	hike := "!hike:matrix.example"
	res, err := m.Send(ctx, protocols.OutgoingMessage{ClientID: "m1", To: protocols.Address{Network: protocols.Matrix, ID: hike}, Chat: protocols.ChatID(hike), Group: true, Body: "I'll bring sandwiches"})
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]bool{"@alice:matrix.example": true, "@bob:matrix.example": true, "@priya:matrix.example": true}
	seen := await(t, m.Events(), 3*time.Second, "a group reply", func(ev protocols.Event) bool {
		e, ok := ev.(protocols.MessageEvent)
		return ok && !e.Historical && e.Message.Chat.ID == protocols.ChatID(hike) && members[e.Message.Sender.ID] && e.Message.Chat.Group &&
			!strings.Contains(e.Message.Body, "stove") && !strings.Contains(e.Message.Body, "⛺")
	})
	var kinds []protocols.ReceiptKind
	for _, ev := range seen {
		if r, ok := ev.(protocols.ReceiptEvent); ok && slices.Equal(r.IDs, []protocols.MessageID{res.NetworkID}) {
			kinds = append(kinds, r.Kind)
		}
	}
	if !slices.Equal(kinds, []protocols.ReceiptKind{protocols.ReceiptRead}) {
		t.Errorf("Matrix receipts = %v, want one read receipt", kinds)
	}
}

func TestSendIsIdempotentPerClientID(t *testing.T) {
	w := newWorld(t, 3, 50)
	c := connect(t, w, protocols.WhatsApp)
	ctx := context.Background()
	msg := protocols.OutgoingMessage{ClientID: "once", To: protocols.Address{Network: protocols.WhatsApp, ID: "15550100009@s.whatsapp.net"}, Body: "Bis Sonntag!"}
	first, err := c.Send(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Send(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("resend acked %+v, first ack %+v", second, first)
	}
	if n := w.Delivered("once"); n != 1 {
		t.Errorf("Delivered = %d, want 1", n)
	}
	out := w.Outbound()
	if len(out) != 2 || out[0].Resend || !out[1].Resend || protocols.MessageID(out[1].NetworkID) != first.NetworkID {
		t.Errorf("outbound = %+v, want the send then a marked resend", out)
	}
	page, _ := c.FetchHistory(ctx, protocols.ChatID(msg.To.ID), "", 5)
	n := 0
	for _, m := range page.Messages {
		if m.ClientID == "once" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the peer's chat holds the message %d times, want 1", n)
	}
	// A different client ID is a new message.
	msg.ClientID = "twice"
	if third, _ := c.Send(ctx, msg); third.NetworkID == first.NetworkID {
		t.Error("a new client ID reused the network ID")
	}
	if w.Delivered("twice") != 1 || w.Delivered("never-sent") != 0 {
		t.Error("Delivered counts wrong")
	}
}

func TestSendRefusesWeakerEncryptionAndBadInput(t *testing.T) {
	w := newWorld(t, 3, 50)
	ctx := context.Background()
	x := connect(t, w, protocols.XMPP)
	dmitri := protocols.Address{Network: protocols.XMPP, ID: "dmitri@jabber.example"}
	_, err := x.Send(ctx, protocols.OutgoingMessage{ClientID: "e1", To: dmitri, Body: "secret", MinEncryption: protocols.EncE2EE})
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("err = %v, want ErrEncryptionUnavailable", err)
	}
	for _, bad := range []protocols.OutgoingMessage{
		{ClientID: "b1", To: dmitri, Body: "   "},
		{ClientID: "b2", To: dmitri, Body: "bad \xff utf8"},
		{ClientID: "b3", To: protocols.Address{Network: protocols.Matrix, ID: "@alice:matrix.example"}, Body: "wrong network"},
		{ClientID: "b4", Body: "nobody"},
		{ClientID: "b5", To: dmitri, Body: strings.Repeat("x", 262145)},
	} {
		if _, err := x.Send(ctx, bad); err == nil {
			t.Errorf("accepted %q to %v", bad.ClientID, bad.To)
		}
	}
	if out := w.Outbound(); len(out) != 0 {
		t.Errorf("refused sends reached the network: %+v", out)
	}
	if w.Delivered("e1") != 0 {
		t.Error("refused message delivered")
	}
}

func TestPeerEncryptionPerIdentity(t *testing.T) {
	w := newWorld(t, 3, 50)
	m := account(t, w, protocols.Matrix).Connector
	x := account(t, w, protocols.XMPP).Connector
	wa := account(t, w, protocols.WhatsApp).Connector
	for _, tc := range []struct {
		c    protocols.Connector
		id   string
		want protocols.Encryption
	}{
		{m, "@alice:matrix.example", protocols.EncE2EEVerified},
		{m, "@bob:matrix.example", protocols.EncE2EE},
		{m, "!hike:matrix.example", protocols.EncE2EE},
		{m, "@someone:else.example", protocols.EncE2EE},
		{wa, "15550100001@s.whatsapp.net", protocols.EncE2EE},
		{x, "alice@jabber.example", protocols.EncTransport},
		{x, "dmitri@jabber.example", protocols.EncTransport},
	} {
		if got := tc.c.PeerEncryption(protocols.Address{Network: tc.c.Network(), ID: tc.id}); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.c.Network(), tc.id, got, tc.want)
		}
	}
	if got := m.PeerEncryption(protocols.Address{Network: protocols.XMPP, ID: "alice@jabber.example"}); got != protocols.EncNone {
		t.Errorf("Matrix connector claims %v for an XMPP address", got)
	}
	if caps := x.Capabilities(); caps.E2EE || !caps.Receipts {
		t.Errorf("XMPP caps = %+v, want transport-only with receipts", caps)
	}
	if caps := m.Capabilities(); !caps.E2EE || !caps.Verify || caps.Receipts || !caps.ReadMarkers {
		t.Errorf("Matrix caps = %+v", caps)
	}
	if caps := wa.Capabilities(); !caps.E2EE || caps.Verify || !caps.Receipts {
		t.Errorf("WhatsApp caps = %+v", caps)
	}
}

func TestSetDownRefusesTrafficAndHoldsIncoming(t *testing.T) {
	w := newWorld(t, 5, 10)
	c := connect(t, w, protocols.WhatsApp)
	ctx := context.Background()
	oma := protocols.Address{Network: protocols.WhatsApp, ID: "15550100009@s.whatsapp.net"}
	if _, err := c.Send(ctx, protocols.OutgoingMessage{ClientID: "d1", To: oma, Body: "Hallo Oma"}); err != nil {
		t.Fatal(err)
	}
	w.SetDown(protocols.WhatsApp, true) // before the first receipt (0.5 s = 50 ms away)
	seen := await(t, c.Events(), time.Second, "offline", func(ev protocols.Event) bool {
		e, ok := ev.(protocols.ConnectionEvent)
		return ok && e.State == protocols.ConnOffline
	})
	for _, ev := range seen {
		if r, ok := ev.(protocols.ReceiptEvent); ok {
			t.Fatalf("receipt before the outage began (machine too slow?): %+v", r)
		}
	}
	_, err := c.Send(ctx, protocols.OutgoingMessage{ClientID: "d2", To: oma, Body: "noch da?"})
	if !errors.Is(err, protocols.ErrNotConnected) {
		t.Errorf("Send while down: %v, want ErrNotConnected", err)
	}
	if err := c.MarkRead(ctx, protocols.ChatID(oma.ID), "x"); !errors.Is(err, protocols.ErrNotConnected) {
		t.Errorf("MarkRead while down: %v", err)
	}
	if err := c.SetTyping(ctx, protocols.ChatID(oma.ID), true); !errors.Is(err, protocols.ErrNotConnected) {
		t.Errorf("SetTyping while down: %v", err)
	}
	if _, err := c.FetchHistory(ctx, protocols.ChatID(oma.ID), "", 5); !errors.Is(err, protocols.ErrNotConnected) {
		t.Errorf("FetchHistory while down: %v", err)
	}
	if err := c.Connect(ctx); !errors.Is(err, protocols.ErrNotConnected) {
		t.Errorf("Connect while down: %v", err)
	}
	// 0.8 s real = 8 s virtual: the reply would have come by now.
	for _, ev := range drainQuiet(c.Events(), 800*time.Millisecond) {
		switch e := ev.(type) {
		case protocols.ReceiptEvent, protocols.TypingEvent:
			t.Fatalf("traffic while down: %T %+v", ev, ev)
		case protocols.MessageEvent:
			if !e.Historical { // the connect burst is still in the buffer
				t.Fatalf("message while down: %+v", e.Message)
			}
		}
	}
	if out := w.Outbound(); len(out) != 1 || out[0].ClientID != "d1" || w.Delivered("d2") != 0 {
		t.Errorf("outbound while down = %+v", out)
	}

	w.SetDown(protocols.WhatsApp, false)
	seen = await(t, c.Events(), 3*time.Second, "Oma's held reply", isMessageFrom(oma.ID))
	if ce, ok := seen[0].(protocols.ConnectionEvent); !ok || ce.State != protocols.ConnOnline {
		t.Errorf("first event after the outage = %T %+v, want online", seen[0], seen[0])
	}
	var receipts int
	for _, ev := range seen {
		if _, ok := ev.(protocols.ReceiptEvent); ok {
			receipts++
		}
	}
	if receipts != 2 {
		t.Errorf("held receipts delivered: %d, want 2", receipts)
	}
	if _, err := c.Send(ctx, protocols.OutgoingMessage{ClientID: "d3", To: oma, Body: "wieder da"}); err != nil {
		t.Errorf("Send after the outage: %v", err)
	}
}

func TestScriptedMatrixOutageThenCatchUp(t *testing.T) {
	w := newWorld(t, 5, 200) // 20 s → 100 ms, back at 45 s → 225 ms
	c := connect(t, w, protocols.Matrix)
	await(t, c.Events(), 2*time.Second, "scripted outage", func(ev protocols.Event) bool {
		e, ok := ev.(protocols.ConnectionEvent)
		return ok && e.State == protocols.ConnOffline && e.Detail != ""
	})
	_, err := c.Send(context.Background(), protocols.OutgoingMessage{ClientID: "o1", To: protocols.Address{Network: protocols.Matrix, ID: "@alice:matrix.example"}, Body: "hi"})
	if !errors.Is(err, protocols.ErrNotConnected) {
		t.Errorf("Send during the outage: %v, want ErrNotConnected (router falls back)", err)
	}
	seen := await(t, c.Events(), 2*time.Second, "José's message held over the outage", isMessageFrom("@jose:matrix.example"))
	back := slices.IndexFunc(seen, func(ev protocols.Event) bool {
		e, ok := ev.(protocols.ConnectionEvent)
		return ok && e.State == protocols.ConnOnline
	})
	if back != 0 {
		t.Errorf("José's message (due at 24 s) arrived before the network was back: %s", summary(seen))
	}
	await(t, c.Events(), 2*time.Second, "Bob's new device", func(ev protocols.Event) bool {
		e, ok := ev.(protocols.KeyChangeEvent)
		return ok && e.Kind == protocols.KeyNew && e.Contact.ID == "@bob:matrix.example" && e.Fingerprint != "" && e.Chat == "!dm-bob:matrix.example"
	})
}

func TestStrangerRequestsAndHostileContent(t *testing.T) {
	w := newWorld(t, 9, 200)
	wa := connect(t, w, protocols.WhatsApp)
	x := connect(t, w, protocols.XMPP)
	stranger := "447700900123@s.whatsapp.net"
	seen := await(t, wa.Events(), 2*time.Second, "the stranger's message", isMessageFrom(stranger))
	for _, ev := range seen {
		if c, ok := ev.(protocols.ContactEvent); ok && c.Contact.ID == stranger {
			t.Fatal("the stranger is on the roster; their message would not be a request")
		}
	}

	eve := "eve@chat.elsewhere.example"
	seen = await(t, x.Events(), 2*time.Second, "Eve's message", isMessageFrom(eve))
	var hostileName, osc, request bool
	for _, ev := range seen {
		switch e := ev.(type) {
		case protocols.ContactEvent:
			hostileName = hostileName || strings.Contains(e.Name, "\x1b[2J")
		case protocols.MessageEvent:
			osc = osc || strings.Contains(e.Message.Body, "\x1b]")
		case protocols.RequestEvent:
			request = e.From.ID == eve && e.Kind == protocols.RequestSubscription && e.From.Server == "chat.elsewhere.example"
		}
	}
	if !hostileName || !osc || !request {
		t.Errorf("hostile name %v, OSC body %v, subscription request %v: want all", hostileName, osc, request)
	}

	// Nothing went back to either stranger on its own: consent is the core's call.
	if out := w.Outbound(); len(out) != 0 {
		t.Errorf("the world sent on the user's behalf: %+v", out)
	}
	if err := x.(protocols.RequestResponder).AnswerRequest(context.Background(), protocols.Address{Network: protocols.XMPP, ID: eve}, protocols.ChatID(eve), true); err != nil {
		t.Fatal(err)
	}
	await(t, x.Events(), 2*time.Second, "Eve on the roster", func(ev protocols.Event) bool {
		c, ok := ev.(protocols.ContactEvent)
		return ok && c.Contact.ID == eve && c.Subscription == "both"
	})
}

func TestOutboundRecordsEverythingSent(t *testing.T) {
	w := newWorld(t, 2, 50)
	c := connect(t, w, protocols.XMPP)
	ctx := context.Background()
	sam := protocols.Address{Network: protocols.XMPP, ID: "sam@jabber.example"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.MarkRead(ctx, protocols.ChatID(sam.ID), "nid-1"))
	must(c.SetTyping(ctx, protocols.ChatID(sam.ID), true))
	_, err := c.Send(ctx, protocols.OutgoingMessage{ClientID: "s1", To: sam, Body: "yo"})
	must(err)
	must(c.(protocols.RequestResponder).AnswerRequest(ctx, protocols.Address{Network: protocols.XMPP, ID: "eve@chat.elsewhere.example"}, "", false))
	must(c.(protocols.Reactor).React(ctx, protocols.ChatID(sam.ID), "nid-1", "👍", false))
	_, err = c.(protocols.Editor).Edit(ctx, protocols.ChatID(sam.ID), "nid-2", "s1-edit", "yo!")
	must(err)
	must(c.(protocols.Retractor).Retract(ctx, protocols.ChatID(sam.ID), "nid-2"))

	out := w.Outbound()
	var kinds []OutboundKind
	for _, o := range out {
		kinds = append(kinds, o.Kind)
		if o.Account != "demo-xmpp" || o.Network != protocols.XMPP {
			t.Errorf("record without account: %+v", o)
		}
	}
	want := []OutboundKind{OutRead, OutTyping, OutMessage, OutRequestAnswer, OutReaction, OutEdit, OutRetraction}
	if !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	if out[0].NetworkID != "nid-1" || out[0].To.ID != sam.ID || !out[1].Typing || out[2].Body != "yo" ||
		out[2].Encryption != protocols.EncTransport || out[3].Accept || out[4].Body != "👍" {
		t.Errorf("records lack detail: %+v", out)
	}
}

// events records every connector's stream until the script is long over.
func runScript(t *testing.T, seed int64) map[protocols.Network][]protocols.Event {
	w := New(Options{Seed: seed, Speed: 5000, Now: func() time.Time { return epoch }})
	defer w.Close()
	got := map[protocols.Network][]protocols.Event{}
	for _, n := range protocols.Networks {
		connect(t, w, n)
	}
	// The script with its ambient tail ends by 480 s (96 ms here); it fits the buffer, so
	// wait until no task is left, then take what arrived.
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range w.conns {
		for {
			c.sched.mu.Lock()
			left := len(c.sched.q)
			c.sched.mu.Unlock()
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s script still has %d steps after 5 s", c.net, left)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, a := range w.Accounts() {
		got[a.Network] = drainQuiet(a.Connector.Events(), 50*time.Millisecond)
	}
	return got
}

func TestSameSeedSameEvents(t *testing.T) {
	a, b, other := runScript(t, 42), runScript(t, 42), runScript(t, 43)
	for _, n := range protocols.Networks {
		if len(a[n]) < 20 {
			t.Fatalf("%s: only %d events", n, len(a[n]))
		}
		if !reflect.DeepEqual(a[n], b[n]) {
			t.Errorf("%s: same seed, different events:\nA:%s\nB:%s", n, summary(a[n]), summary(b[n]))
		}
		if reflect.DeepEqual(a[n], other[n]) {
			t.Errorf("%s: seeds 42 and 43 gave identical worlds", n)
		}
	}
	// The whole script ran: the Matrix outage began and ended.
	var states []protocols.ConnState
	for _, ev := range a[protocols.Matrix] {
		if e, ok := ev.(protocols.ConnectionEvent); ok {
			states = append(states, e.State)
		}
	}
	if !slices.Equal(states, []protocols.ConnState{protocols.ConnOnline, protocols.ConnOffline, protocols.ConnOnline}) {
		t.Errorf("Matrix link states = %v", states)
	}
}

func TestPeopleLeaveASameNamePairUnmerged(t *testing.T) {
	w := newWorld(t, 1, 50)
	groups := w.People()
	if len(groups) < 3 {
		t.Fatalf("%d merged people, want several", len(groups))
	}
	merged := map[string]bool{}
	for _, g := range groups {
		if len(g) < 2 {
			t.Errorf("group of %d: %v", len(g), g)
		}
		for _, a := range g {
			if a.Account != protocols.AccountID(AccountID(a.Network)) || a.Server == "" {
				t.Errorf("address not as the connectors emit it: %+v", a)
			}
			merged[a.Key()] = true
		}
	}
	if merged["xmpp:sam@jabber.example"] || merged["whatsapp:15550100007@s.whatsapp.net"] {
		t.Error("Sam is merged; the demo must leave a merge suggestion")
	}
	names := map[string][]protocols.Network{}
	for _, p := range cast() {
		for _, id := range p.ids {
			if id.contact && !merged[id.address().Key()] {
				names[p.name] = append(names[p.name], id.net)
			}
		}
	}
	if len(names["Sam Okafor"]) != 2 {
		t.Errorf("unmerged same-name identities: %v", names)
	}
}

func TestInject(t *testing.T) {
	w := newWorld(t, 1, 1)
	c := account(t, w, protocols.XMPP).Connector
	ev := protocols.PresenceEvent{From: protocols.Address{Network: protocols.XMPP, ID: "x@y"}, State: protocols.PresenceAway}
	if err := w.Inject("demo-xmpp", ev); err != nil {
		t.Fatal(err)
	}
	if got := <-c.Events(); !reflect.DeepEqual(got, ev) {
		t.Errorf("got %+v", got)
	}
	if err := w.Inject("demo-icq", ev); err == nil {
		t.Error("unknown account accepted")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	w := New(Options{Seed: 1, Speed: 50})
	var conns []protocols.Connector
	for _, n := range protocols.Networks {
		conns = append(conns, connect(t, w, n))
	}
	// Pending replies and a full channel that nobody reads.
	_, err := conns[2].Send(context.Background(), protocols.OutgoingMessage{ClientID: "z", To: protocols.Address{Network: protocols.WhatsApp, ID: "15550100001@s.whatsapp.net"}, Body: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	injected := make(chan error, 1)
	go func() {
		var err error
		for i := 0; err == nil && i < 2*eventBuffer; i++ {
			err = w.Inject("demo-xmpp", protocols.TypingEvent{})
		}
		injected <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-injected:
		if err == nil {
			t.Error("Inject into a full channel succeeded after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Inject still blocked after Close")
	}
	for _, c := range conns {
		for range c.Events() { // must end: the channel is closed
		}
		if _, err := c.Send(context.Background(), protocols.OutgoingMessage{ClientID: "after", To: protocols.Address{ID: "x"}, Body: "x"}); !errors.Is(err, protocols.ErrNotConnected) {
			t.Errorf("Send after Close: %v", err)
		}
		if err := c.Connect(context.Background()); err == nil {
			t.Error("Connect after Close succeeded")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left (had %d):\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
