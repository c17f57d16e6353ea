package inbox

import (
	"context"
	"testing"
	"time"

	"polyglot/protocols"
)

// Every text message is searchable as soon as the call that stored it
// returns, whichever path stored it (the user's send, a live message, a
// history batch, an edit, a late decryption), and stays so after the store
// is reopened. No insert trigger indexes them any more: each path does.
func TestEveryStoredMessageIsSearchable(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	bob := obAccounts[0].addr
	find := func(in *Inbox, word string) []string {
		t.Helper()
		hits, err := in.Search(word, 10)
		if err != nil {
			t.Fatalf("Search(%q): %v", word, err)
		}
		var out []string
		for _, h := range hits {
			out = append(out, h.Message.Body)
		}
		return out
	}

	// Sent while offline: queued, and already searchable.
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "zebra crossing at noon"}); err != nil {
		t.Fatal(err)
	}
	if got := find(w.in, "zebra"); len(got) != 1 {
		t.Fatalf("queued message: %q", got)
	}

	// A history batch with a duplicate, an edit and a locked message that
	// is decrypted later in the same batch.
	t0 := time.Unix(1_700_000_100, 0)
	msg := func(id, body string, i int, locked bool) protocols.Event {
		return protocols.MessageEvent{Historical: true, Message: protocols.Message{NetworkID: protocols.MessageID(id),
			Chat: protocols.Chat{ID: "!dm:matrix.example"}, Sender: bob, Body: body,
			Sent: t0.Add(time.Duration(i) * time.Second), Undecryptable: locked}}
	}
	batch := []protocols.Event{
		msg("$q1", "quokka sighting", 1, false),
		msg("$q1", "quokka sighting", 1, false),
		msg("$w1", "wombat burrow", 2, false),
		protocols.EditEvent{From: bob, TargetID: "$w1", Body: "wombat tunnel", Chat: "!dm:matrix.example"},
		msg("$l1", "", 3, true),
		msg("$l1", "lyrebird song", 3, false),
		msg("$p1", "platypus", 4, false),
	}
	if err := w.in.IngestBatch("mx", batch); err != nil {
		t.Fatal(err)
	}
	// A live message alone.
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$e1",
		Chat: protocols.Chat{ID: "!dm:matrix.example"}, Sender: bob, Body: "echidna", Sent: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"zebra": 1, "quokka": 1, "wombat": 1, "tunnel": 1, "burrow": 0, "lyrebird": 1, "platypus": 1, "echidna": 1}
	for word, n := range want {
		if got := find(w.in, word); len(got) != n {
			t.Errorf("Search(%q) = %q, want %d hit(s)", word, got, n)
		}
	}

	// Committed means kept: a fresh process finds the same.
	w.in.Close()
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for word, n := range want {
		if got := find(in, word); len(got) != n {
			t.Errorf("after reopen: Search(%q) = %q, want %d hit(s)", word, got, n)
		}
	}
}
