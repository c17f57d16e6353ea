package inbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"polyglot/protocols"
)

// incomingAfter ingests evs and returns the conversations ChangeIncoming
// named, in order. A trailing connection event marks the end of the feed
// (subscribers get changes in publish order).
func incomingAfter(t *testing.T, in *Inbox, evs ...protocols.Event) []ConversationID {
	t.Helper()
	changes, stop := in.Subscribe()
	defer stop()
	for _, ev := range evs {
		if err := in.Ingest("mx", ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
		t.Fatal(err)
	}
	var got []ConversationID
	for {
		select {
		case c := <-changes:
			switch c.Kind {
			case ChangeIncoming:
				got = append(got, c.Conversation)
			case ChangeAccounts:
				return got
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("change feed stalled; incoming so far %v", got)
		}
	}
}

// Only a live message from someone else is worth a notification.
func TestChangeIncomingLiveOnly(t *testing.T) {
	w := newIngestWorld(t, Options{})
	live := protocols.MessageEvent{Message: w.annMsg("$live", "are you there?", time.Minute)}
	if got := incomingAfter(t, w.in, live); len(got) != 1 || got[0] != w.conv {
		t.Fatalf("live message from Ann: incoming %v, want [%d]", got, w.conv)
	}
	hist := protocols.MessageEvent{Message: w.annMsg("$old", "from the archive", -time.Hour), Historical: true}
	if got := incomingAfter(t, w.in, hist); len(got) != 0 {
		t.Fatalf("historical message: incoming %v, want none", got)
	}
	own := w.annMsg("$own", "sent from my phone", 2*time.Minute)
	own.Outgoing, own.Sender = true, protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@me:example.org"}
	if got := incomingAfter(t, w.in, protocols.MessageEvent{Message: own}); len(got) != 0 {
		t.Fatalf("own message: incoming %v, want none", got)
	}
	// The same message again (a re-delivery) is no news.
	if got := incomingAfter(t, w.in, live); len(got) != 0 {
		t.Fatalf("duplicate message: incoming %v, want none", got)
	}
	// A catch-up burst in one batch is one change, not one per message.
	var burst []protocols.Event
	for i := 0; i < 50; i++ {
		burst = append(burst, protocols.MessageEvent{Message: w.annMsg(fmt.Sprintf("$b%d", i), "burst", time.Hour+time.Duration(i)*time.Second)})
	}
	changes, stop := w.in.Subscribe()
	defer stop()
	if err := w.in.IngestBatch("mx", burst); err != nil {
		t.Fatal(err)
	}
	n := 0
	for done := false; !done; {
		select {
		case c := <-changes:
			if c.Kind == ChangeIncoming {
				n++
			}
		case <-time.After(300 * time.Millisecond):
			done = true
		}
	}
	if n != 1 {
		t.Fatalf("a batch of 50 live messages gave %d incoming changes, want 1", n)
	}
}

// A stranger's first message notifies once (the request opens); further
// messages of the pending request, ignored and blocked senders stay quiet.
func TestChangeIncomingRequests(t *testing.T) {
	w := newIngestWorld(t, Options{})
	eve := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@eve:elsewhere.org", Server: "elsewhere.org"}
	msg := func(id, body string) protocols.MessageEvent {
		return protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: "!eve", Peer: eve},
			Sender: eve, Body: body, Sent: w.t0.Add(time.Hour), Encryption: protocols.EncE2EE}}
	}
	got := incomingAfter(t, w.in, msg("$e1", "hi, we met at the conference"))
	if len(got) != 1 || got[0] == w.conv {
		t.Fatalf("stranger's first message: incoming %v, want one for the new request", got)
	}
	req := got[0]
	if c, err := w.in.Conversation(req); err != nil || !c.Request {
		t.Fatalf("conversation %d is not a request: %+v (%v)", req, c, err)
	}
	if got := incomingAfter(t, w.in, msg("$e2", "hello?"), msg("$e3", "hello??")); len(got) != 0 {
		t.Fatalf("more messages of a pending request: incoming %v, want none", got)
	}
	if err := w.in.Decide(context.Background(), req, Ignore); err != nil {
		t.Fatal(err)
	}
	if got := incomingAfter(t, w.in, msg("$e4", "still there?")); len(got) != 0 {
		t.Fatalf("ignored sender: incoming %v, want none", got)
	}
	if err := w.in.Decide(context.Background(), req, Block); err != nil {
		t.Fatal(err)
	}
	if got := incomingAfter(t, w.in, msg("$e5", "let me in")); len(got) != 0 {
		t.Fatalf("blocked sender: incoming %v, want none", got)
	}
	// A subscription request from another stranger notifies once too.
	zed := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@zed:elsewhere.org", Server: "elsewhere.org"}
	sub := protocols.RequestEvent{From: zed, Name: "Zed", Chat: protocols.Chat{ID: "!zed", Peer: zed}, Kind: protocols.RequestSubscription, At: w.t0}
	if got := incomingAfter(t, w.in, sub); len(got) != 1 {
		t.Fatalf("new subscription request: incoming %v, want one", got)
	}
	if got := incomingAfter(t, w.in, sub); len(got) != 0 {
		t.Fatalf("repeated subscription request: incoming %v, want none", got)
	}
}

// The title count is conversations with unread messages, requests included,
// and drops when one is read.
func TestUnreadConversations(t *testing.T) {
	w := newIngestWorld(t, Options{})
	n, err := w.in.UnreadConversations()
	if err != nil || n != 1 { // Ann's "hello" from setup
		t.Fatalf("unread = %d (%v), want 1", n, err)
	}
	eve := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@eve:elsewhere.org", Server: "elsewhere.org"}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$e", Chat: protocols.Chat{ID: "!eve", Peer: eve},
		Sender: eve, Body: "hi", Sent: w.t0}}); err != nil {
		t.Fatal(err)
	}
	if n, _ = w.in.UnreadConversations(); n != 2 {
		t.Fatalf("unread with a request = %d, want 2", n)
	}
	if err := w.in.MarkRead(context.Background(), w.conv); err != nil {
		t.Fatal(err)
	}
	if n, _ = w.in.UnreadConversations(); n != 1 {
		t.Fatalf("unread after reading Ann = %d, want 1", n)
	}
}
