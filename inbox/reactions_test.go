package inbox

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"polyglot/protocols"
)

func (w *ingestWorld) reactionRows(t *testing.T, sender string) int {
	t.Helper()
	var n int
	if err := w.in.db.QueryRow(`SELECT COUNT(*) FROM reactions WHERE sender = ?`, sender).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReactionFloodIsBounded: a thousand reactions from one sender on one
// message (one XEP-0444 stanza can carry them) become at most
// MaxReactionsPerSender rows, logged once; the same emoji twice is one row;
// another sender keeps their own room; a taken-back reaction frees a place.
func TestReactionFloodIsBounded(t *testing.T) {
	var logs bytes.Buffer
	w := newIngestWorld(t, Options{Logger: zerolog.New(&logs)})
	w.msg(t, "$1", "vote", time.Minute)
	react := func(key string, from protocols.Address, remove bool) protocols.Event {
		return protocols.ReactionEvent{Chat: "!ann", TargetID: "$1", Key: key, From: from, Remove: remove}
	}
	// The same emoji twice, in one batch and in two.
	if err := w.in.IngestBatch("mx", []protocols.Event{react("👍", ann, false), react("👍", ann, false)}); err != nil {
		t.Fatal(err)
	}
	if err := w.in.Ingest("mx", react("👍", ann, false)); err != nil {
		t.Fatal(err)
	}
	if n := w.reactionRows(t, ann.ID); n != 1 {
		t.Fatalf("the same emoji three times: %d rows, want 1", n)
	}
	// A thousand distinct keys in one batch (one stanza) …
	var flood []protocols.Event
	for i := 0; i < 1000; i++ {
		flood = append(flood, react(fmt.Sprintf("k%04d", i), ann, false))
	}
	if err := w.in.IngestBatch("mx", flood); err != nil {
		t.Fatal(err)
	}
	// … and again one event at a time.
	for i := 1000; i < 1100; i++ {
		if err := w.in.Ingest("mx", react(fmt.Sprintf("k%04d", i), ann, false)); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.reactionRows(t, ann.ID); n != MaxReactionsPerSender {
		t.Fatalf("after 1,100 distinct reactions: %d rows, want %d", n, MaxReactionsPerSender)
	}
	if got := strings.Count(logs.String(), "reaction cap"); got != 1 {
		t.Fatalf("the cap was logged %d times, want once:\n%s", got, logs.String())
	}
	// Another sender is not crowded out.
	if err := w.in.Ingest("mx", react("🎉", other, false)); err != nil {
		t.Fatal(err)
	}
	if n := w.reactionRows(t, other.ID); n != 1 {
		t.Fatalf("another sender's reaction: %d rows", n)
	}
	// Taking one back makes room for one more.
	if err := w.in.IngestBatch("mx", []protocols.Event{react("👍", ann, true), react("❤️", ann, false), react("😮", ann, false)}); err != nil {
		t.Fatal(err)
	}
	ms := w.messages(t)
	var keys []string
	for _, rc := range ms[len(ms)-1].Reactions {
		for _, s := range rc.Senders {
			if s == ann.ID {
				keys = append(keys, rc.Key)
			}
		}
	}
	if len(keys) != MaxReactionsPerSender || !containsKey(keys, "❤️") || containsKey(keys, "👍") || containsKey(keys, "😮") {
		t.Fatalf("Ann's reactions after take-back: %d %v", len(keys), keys)
	}
}

// TestReactionKeysAreShortText: a key no emoji needs (over 64 bytes, or
// with control characters) is not stored, also inside a history message.
func TestReactionKeysAreShortText(t *testing.T) {
	w := newIngestWorld(t, Options{})
	m := w.annMsg("$h", "from history", time.Minute)
	for i := 0; i < 500; i++ {
		m.Reactions = append(m.Reactions, protocols.Reaction{Key: fmt.Sprintf("h%03d", i), Sender: other})
	}
	m.Reactions = append(m.Reactions, protocols.Reaction{Key: strings.Repeat("x", 65), Sender: ann},
		protocols.Reaction{Key: "\x1b[2J", Sender: ann}, protocols.Reaction{Key: "👍", Sender: ann})
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: m, Historical: true}); err != nil {
		t.Fatal(err)
	}
	if n := w.reactionRows(t, other.ID); n != MaxReactionsPerSender {
		t.Fatalf("history message with 500 reactions of one sender: %d rows", n)
	}
	if n := w.reactionRows(t, ann.ID); n != 1 {
		t.Fatalf("malformed keys stored: %d rows of Ann, want only 👍", n)
	}
}

func containsKey(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestOwnReactionsStopAtTheCap: the user's own reactions meet the same cap,
// refused before anything goes to the network (it would carry what the
// store drops); an existing one can still be sent again or taken back.
func TestOwnReactionsStopAtTheCap(t *testing.T) {
	w := newActWorld(t)
	ctx := context.Background()
	theirs := w.first(t)
	for i := 0; i < MaxReactionsPerSender; i++ {
		if err := w.in.React(ctx, theirs.ID, fmt.Sprintf("r%d", i), false); err != nil {
			t.Fatal(err)
		}
	}
	sent := len(w.conn.seen())
	err := w.in.React(ctx, theirs.ID, "one too many", false)
	if err == nil || !strings.Contains(err.Error(), "take one back") {
		t.Fatalf("reaction past the cap: %v", err)
	}
	if len(w.conn.seen()) != sent {
		t.Fatal("the refused reaction went to the network")
	}
	if err := w.in.React(ctx, theirs.ID, "r0", false); err != nil {
		t.Fatalf("an existing reaction again: %v", err)
	}
	if err := w.in.React(ctx, theirs.ID, "r0", true); err != nil {
		t.Fatal(err)
	}
	if err := w.in.React(ctx, theirs.ID, "one too many", false); err != nil {
		t.Fatalf("after taking one back: %v", err)
	}
}
