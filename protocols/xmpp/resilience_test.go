package xmpp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// collectMessages reads events for d and returns the MessageEvents.
func collectMessages(c *Connector, d time.Duration) []protocols.MessageEvent {
	var out []protocols.MessageEvent
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.Events():
			stored(ev)
			if me, ok := ev.(protocols.MessageEvent); ok {
				out = append(out, me)
			}
		case <-deadline:
			return out
		}
	}
}

// TestMAMCatchUpAfterOffline: messages that arrive while Polyglot is not
// connected come in through MAM on the next connect, once; a second
// catch-up brings nothing twice; FetchHistory pages the conversation.
func TestMAMCatchUpAfterOffline(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	dataDir := t.TempDir()
	withData := func(c *Config) { c.DataDir = dataDir }
	first := newClient(t, p, "alice", "pw", withData)
	bob := p.StartPeer("bob@localhost", "pw")
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "while online"})
	waitEvent(t, first, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "while online" })
	waitEvent[protocols.CheckpointEvent](t, first, 10*time.Second, nil) // a live message moves the position once stored
	first.Close()

	for _, b := range []string{"offline 1", "offline 2", "offline 3"} {
		bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": b})
	}
	time.Sleep(300 * time.Millisecond) // let Prosody archive them

	second := newClient(t, p, "alice", "pw", withData) // a new process would do the same: position is in DataDir
	got := collectMessages(second, 1500*time.Millisecond)
	var bodies []string
	for _, me := range got {
		if !me.Historical {
			t.Errorf("caught-up message not Historical: %+v", me.Message)
		}
		bodies = append(bodies, me.Message.Body)
	}
	if strings.Join(bodies, "|") != "offline 1|offline 2|offline 3" {
		t.Fatalf("catch-up delivered %q, want the three offline messages once, in order", bodies)
	}
	second.Close()
	third := newClient(t, p, "alice", "pw", withData)
	if again := collectMessages(third, time.Second); len(again) != 0 {
		t.Fatalf("second catch-up delivered %d messages again", len(again))
	}

	page, err := third.FetchHistory(ctx10(t), "bob@localhost", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].Body != "offline 2" || page.Messages[1].Body != "offline 3" || page.Before == "" {
		t.Fatalf("newest page %+v", page)
	}
	older, err := third.FetchHistory(ctx10(t), "bob@localhost", page.Before, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(older.Messages) != 2 || older.Messages[0].Body != "while online" || older.Messages[1].Body != "offline 1" || older.Before != "" {
		t.Fatalf("older page %+v", older)
	}
}

// TestMessageBetweenCatchUpAndPresence: a message that reaches the server
// after the catch-up's last page but before Polyglot's presence goes to
// offline storage, which Prosody does not flush to a session that queried
// the archive. It must still arrive, before what is said after the login,
// and a restart must not bring it again.
func TestMessageBetweenCatchUpAndPresence(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	dataDir := t.TempDir()
	withData := func(c *Config) { c.DataDir = dataDir }
	bob := p.StartPeer("bob@localhost", "pw")
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "before"})
	first := newClient(t, p, "alice", "pw", withData) // first login: the position is set
	waitEvent(t, first, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "before" })
	waitEvent[protocols.CheckpointEvent](t, first, 10*time.Second, nil)
	first.Close()

	cfg := Config{JID: "alice@" + p.Domain(), Password: "pw", Server: p.Addr(), CAFile: p.CAFile(), Resource: "polyglot", Account: "acct-alice", DataDir: dataDir}
	second, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	second.beforePresence = func() {
		if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": "in the gap"}) {
			t.Error("the server did not confirm the message sent in the gap")
		}
	}
	go func() { // Connect blocks on a full channel otherwise
		if err := second.Connect(ctx10(t)); err != nil {
			t.Errorf("connect: %v", err)
		}
		bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "after"})
	}()
	var bodies []string
	waitEvent(t, second, 15*time.Second, func(e protocols.MessageEvent) bool {
		bodies = append(bodies, e.Message.Body)
		return e.Message.Body == "after"
	})
	if strings.Join(bodies, "|") != "in the gap|after" {
		t.Fatalf("after the login came %q, want the gap's message once, then the live one", bodies)
	}
	waitEvent[protocols.CheckpointEvent](t, second, 10*time.Second, nil) // the live one moves the position
	second.Close()
	third := newClient(t, p, "alice", "pw", withData)
	if again := collectMessages(third, time.Second); len(again) != 0 {
		t.Fatalf("a restart delivered %d messages again", len(again))
	}
}

// TestMUC: join by address, send and receive in the room, nicknames, and the
// room history for a late joiner.
func TestMUC(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	room := "tea@" + p.MUCDomain()
	bob := p.StartPeer("bob@localhost", "pw")
	bob.Do(map[string]any{"op": "join", "room": room, "nick": "Bobby"})
	bob.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })
	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "before you came"})

	alice := newClient(t, p, "alice", "pw", func(c *Config) { c.Nick = "Al" })
	if err := alice.JoinRoom(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	hist := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "before you came" })
	if !hist.Historical || !hist.Message.Chat.Group || hist.Message.Chat.ID != protocols.ChatID(room) || hist.Message.Sender.ID != room+"/Bobby" {
		t.Fatalf("room history %+v", hist)
	}
	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "hello room"})
	live := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "hello room" })
	if live.Historical || live.Message.Outgoing || live.Message.NetworkID == "" {
		t.Fatalf("live room message %+v", live)
	}
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "g1", To: protocols.Address{Network: protocols.XMPP, ID: room}, Group: true, Body: "hi all"}); err != nil {
		t.Fatal(err)
	}
	got := bob.Message(10*time.Second, "hi all")
	if got.From != room+"/Al" || got.Type != "groupchat" {
		t.Fatalf("bob saw %+v", got)
	}
	echo := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "hi all" })
	if !echo.Message.Outgoing || echo.Message.ClientID != "g1" {
		t.Fatalf("own room echo %+v", echo.Message)
	}
	page, err := alice.FetchHistory(ctx10(t), protocols.ChatID(room), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) < 3 || page.Messages[len(page.Messages)-1].Body != "hi all" {
		t.Fatalf("room MAM page %+v", page.Messages)
	}
}

// TestServerKilledMidConversation: Prosody dies without a goodbye; the
// connector reports offline, Connect on the same value works once the server
// is back, MAM brings what was sent meanwhile, and a message typed while
// offline goes out exactly once.
func TestServerKilledMidConversation(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	alice := newClient(t, p, "alice", "pw", func(c *Config) { c.PingInterval, c.PingTimeout = time.Second, time.Second })
	bob := p.StartPeer("bob@localhost", "pw")
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "k1", To: bobAddr, Body: "before crash"}); err != nil {
		t.Fatal(err)
	}
	bob.Message(10*time.Second, "before crash")

	p.Kill()
	off := waitEvent(t, alice, 10*time.Second, func(e protocols.ConnectionEvent) bool { return e.State == protocols.ConnOffline })
	if off.Err == nil {
		t.Fatal("offline event without a reason")
	}
	// The user types while offline: the outbox keeps it and retries.
	queued := protocols.OutgoingMessage{ClientID: "k2", To: bobAddr, Body: "typed while offline"}
	if _, err := alice.Send(ctx10(t), queued); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("Send while offline: %v, want ErrNotConnected", err)
	}

	p.Start()
	bob = p.StartPeer("bob@localhost", "pw")
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "sent while you were away"})
	time.Sleep(200 * time.Millisecond)

	// The supervisor's retry: Connect again on the same connector.
	var err error
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = alice.Connect(ctx)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	back := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "sent while you were away" })
	if !back.Historical && back.Message.NetworkID == "" {
		t.Fatalf("caught-up message %+v", back)
	}
	// The outbox retries with the same ClientID (twice, as a crash between
	// send and ack could make it): the peer counts one.
	for i := 0; i < 2; i++ {
		if _, err := alice.Send(ctx10(t), queued); err != nil {
			t.Fatal(err)
		}
	}
	bob.Message(10*time.Second, "typed while offline")
	time.Sleep(300 * time.Millisecond)
	// The second identical send is a retry the peer's dedupe cannot see
	// (slixmpp has none); Polyglot must not put it on the wire twice.
	if n := bob.Count(); n != 1 {
		t.Fatalf("peer received %d messages after reconnect, want exactly 1", n)
	}
	for _, ev := range collectMessages(alice, 500*time.Millisecond) {
		if ev.Message.Body == "sent while you were away" {
			t.Fatal("caught-up message delivered twice")
		}
	}
}

// TestRoomCatchUpAfterReconnect: more is said in a room while Polyglot's
// link is dead than the 20 messages a join replays; the rejoin after
// Connect pages the room archive, so every message arrives once and nothing
// from before the outage comes again.
func TestRoomCatchUpAfterReconnect(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	room := "night@" + p.MUCDomain()
	bob := p.StartPeer("bob@localhost", "pw")
	bob.Do(map[string]any{"op": "join", "room": room, "nick": "Bob"})
	bob.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })
	dataDir := t.TempDir()
	alice := newClient(t, p, "alice", "pw", func(c *Config) {
		c.PingInterval, c.PingTimeout, c.DataDir = time.Second, time.Second, dataDir
	})
	if err := alice.JoinRoom(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "before the outage"})
	waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "before the outage" })

	// A silent outage: the server stops answering, alice's pings notice.
	p.Freeze()
	waitEvent(t, alice, 10*time.Second, func(e protocols.ConnectionEvent) bool { return e.State == protocols.ConnOffline })
	p.Thaw()
	const n = 30
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("while away %02d", i)
		bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": want[i]})
	}
	bob.Message(10*time.Second, want[n-1]) // the room echoed the last one: all archived

	if err := alice.Connect(ctx10(t)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, me := range collectMessages(alice, 1500*time.Millisecond) {
		if me.Message.Chat.ID != protocols.ChatID(room) {
			continue
		}
		if me.Message.Body == "before the outage" {
			t.Fatal("a message from before the outage was delivered again")
		}
		if !me.Historical || me.Message.NetworkID == "" {
			t.Errorf("caught-up room message %+v (Historical %v)", me.Message, me.Historical)
		}
		got = append(got, me.Message.Body)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after the rejoin alice got %d messages %q, want the %d said while away, once, in order", len(got), got, n)
	}
	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "live again"})
	if me := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "live again" }); me.Historical {
		t.Fatalf("live message after rejoin marked historical")
	}
	waitEvent[protocols.CheckpointEvent](t, alice, 10*time.Second, nil)

	// A restart of Polyglot itself: the room position was saved in DataDir,
	// so the next process catches up the room the same way.
	alice.Close()
	var want2 []string
	for i := 0; i < 25; i++ {
		want2 = append(want2, fmt.Sprintf("while closed %02d", i))
		bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": want2[i]})
	}
	bob.Message(10*time.Second, want2[len(want2)-1])
	next := newClient(t, p, "alice", "pw", func(c *Config) { c.DataDir, c.Rooms = dataDir, []string{room} })
	got = got[:0]
	for _, me := range collectMessages(next, 1500*time.Millisecond) {
		if me.Message.Chat.ID == protocols.ChatID(room) {
			got = append(got, me.Message.Body)
		}
	}
	if strings.Join(got, "|") != strings.Join(want2, "|") {
		t.Fatalf("after a restart alice got %d room messages %q, want the %d said while closed", len(got), got, len(want2))
	}
}

// TestFirstLoginFetchesRecentHistory: an account that had messages before
// Polyglot first logged in gets its newest history at once (newest page
// before Connect returns, older pages in the background, back to
// HistoryMessages), each message once; the next run fetches none again.
func TestFirstLoginFetchesRecentHistory(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	bob := p.StartPeer("bob@localhost", "pw")
	const sent, depth = 250, 180
	for i := 1; i <= sent; i++ {
		bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": fmt.Sprintf("old %03d", i), "confirm": true})
	}
	dataDir := t.TempDir()
	cfg := func(c *Config) { c.DataDir, c.HistoryMessages = dataDir, depth }
	first := newClient(t, p, "alice", "pw", cfg)
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < depth && time.Now().Before(deadline) {
		for _, me := range collectMessages(first, 200*time.Millisecond) {
			seen[me.Message.Body]++
			if !me.Historical && strings.HasPrefix(me.Message.Body, "old") && me.Message.NetworkID == "" {
				t.Errorf("archived message without its archive ID: %+v", me.Message)
			}
		}
	}
	for i := sent - depth + 1; i <= sent; i++ {
		if b := fmt.Sprintf("old %03d", i); seen[b] == 0 {
			t.Fatalf("first login did not bring %q (got %d distinct messages)", b, len(seen))
		}
	}
	if b := fmt.Sprintf("old %03d", sent-depth); seen[b] != 0 {
		t.Errorf("first login went deeper than HistoryMessages=%d: %q arrived", depth, b)
	}
	first.Close()
	again := newClient(t, p, "alice", "pw", cfg)
	if got := collectMessages(again, time.Second); len(got) != 0 {
		t.Fatalf("the second run fetched %d messages again", len(got))
	}
}
