package inbox

import (
	"testing"
	"time"

	"polyglot/protocols"
)

// A message first stored as undecryptable (its key was late) turns into the
// decrypted text in place when the connector delivers it again: one row, no
// lock notice, not "edited", unread unchanged, preview and search updated.
func TestLateDecryptionFillsTheSameRow(t *testing.T) {
	w := newIngestWorld(t, Options{})
	locked := w.annMsg("$late", "", time.Minute)
	locked.Undecryptable = true
	locked.Notice = "🔒 Unable to decrypt this message (waiting for the sender's keys)"
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: locked}); err != nil {
		t.Fatal(err)
	}
	before := w.conversation(t)

	// A stranger's copy under the same ID must not fill it.
	forged := w.annMsg("$late", "forged text", time.Minute)
	forged.Sender = other
	// The real copy, and a late undecryptable replay that must not undo it,
	// in one batch.
	again := locked
	if err := w.in.IngestBatch("mx", []protocols.Event{
		protocols.MessageEvent{Message: forged},
		protocols.MessageEvent{Message: w.annMsg("$late", "the late secret", time.Minute)},
		protocols.MessageEvent{Message: again},
	}); err != nil {
		t.Fatal(err)
	}
	ms := w.messages(t)
	if len(ms) != 2 {
		t.Fatalf("%d rows, want 2 (hello + the late one): %+v", len(ms), ms)
	}
	m := ms[1]
	if m.NetworkID != "$late" || m.Body != "the late secret" || m.Notice != "" || m.Edited || m.Sender.ID != ann.ID {
		t.Fatalf("late message row %+v", m)
	}
	after := w.conversation(t)
	if after.Unread != before.Unread || after.Preview != "the late secret" {
		t.Fatalf("unread %d→%d, preview %q", before.Unread, after.Unread, after.Preview)
	}
	hits, err := w.in.Search("secret", 10)
	if err != nil || len(hits) != 1 || hits[0].Message.ID != m.ID {
		t.Fatalf("search after decryption: %+v (%v)", hits, err)
	}

	// An ordinary message is never rewritten by a copy with other text.
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: w.annMsg("$late", "rewritten", time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if ms := w.messages(t); ms[1].Body != "the late secret" {
		t.Fatalf("decrypted row rewritten: %+v", ms[1])
	}
}
