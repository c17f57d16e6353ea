package xmpp

import (
	"fmt"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestFirstLoginReportsHistoryProgress: a first login whose archive
// (seeded by slixmpp peers before Polyglot ever logged in) holds more than
// one page (Prosody pages by 50) reports its background fill as it goes — messages so far, the
// limit, the conversations seen — and ends with a Done report whose figures
// are what it fetched. A second run fills nothing and reports nothing.
func TestFirstLoginReportsHistoryProgress(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	sends := map[string]int{"bob": 150, "carol": 120, "dave": 5}
	for _, who := range []string{"bob", "carol", "dave"} {
		p.Register(who, "pw")
		peer := p.StartPeer(who+"@localhost", "pw")
		for i := 1; i <= sends[who]; i++ {
			peer.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": fmt.Sprintf("%s %03d", who, i), "confirm": true})
		}
	}
	const total, limit = 275, 1000
	dataDir := t.TempDir()
	cfg := func(c *Config) { c.DataDir, c.HistoryMessages = dataDir, limit }
	c := newClient(t, p, "alice", "pw", cfg)

	// Each report's figures must be what arrived before it (one channel,
	// in order).
	var reports []protocols.HistoryProgressEvent
	messages, chats := 0, map[protocols.ChatID]bool{}
	deadline := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-c.Events():
			stored(ev)
			switch e := ev.(type) {
			case protocols.MessageEvent:
				messages++
				chats[e.Message.Chat.ID] = true
			case protocols.HistoryProgressEvent:
				if e.Messages != messages || e.Chats != len(chats) {
					t.Errorf("report %+v after %d messages in %d chats", e, messages, len(chats))
				}
				reports = append(reports, e)
				done = e.Done
			}
		case <-deadline:
			t.Fatalf("no Done report within 60 s; reports %+v, %d messages", reports, messages)
		}
	}
	if len(reports) < 3 {
		t.Fatalf("want a report at the start, one per further page and the end; got %+v", reports)
	}
	for i, r := range reports {
		if r.Limit != limit {
			t.Errorf("report %d: limit %d, want %d", i, r.Limit, limit)
		}
		if i > 0 && (r.Messages < reports[i-1].Messages || r.Chats < reports[i-1].Chats) {
			t.Errorf("figures went backwards: %+v after %+v", r, reports[i-1])
		}
		if r.Done != (i == len(reports)-1) {
			t.Errorf("report %d of %d has Done=%v", i, len(reports), r.Done)
		}
	}
	if last := reports[len(reports)-1]; last.Messages != total || last.Chats != 3 || messages != total {
		t.Errorf("last report %+v after %d messages; want %d messages in 3 chats", last, messages, total)
	}

	c.Close()
	again := newClient(t, p, "alice", "pw", cfg)
	for _, ev := range collectEvents(again, time.Second) {
		if r, ok := ev.(protocols.HistoryProgressEvent); ok {
			t.Fatalf("the second run reported a history fill: %+v", r)
		}
	}
}

// collectEvents reads every event for d.
func collectEvents(c *Connector, d time.Duration) []protocols.Event {
	var out []protocols.Event
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.Events():
			stored(ev)
			out = append(out, ev)
		case <-deadline:
			return out
		}
	}
}
