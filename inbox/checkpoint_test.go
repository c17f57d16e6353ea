package inbox

import (
	"testing"

	"polyglot/protocols"
)

// A connector's catch-up position moves only over what is stored: a
// checkpoint is committed after the events before it are in the store,
// never after a failure, until the connector reconnects and fetches the
// range again.
func TestCheckpointCommitsOnlyWhatIsStored(t *testing.T) {
	w := newIngestWorld(t, Options{})
	committed := 0
	cp := protocols.CheckpointEvent{Commit: func() { committed++ }}
	unstorable := protocols.MessageEvent{Message: protocols.Message{NetworkID: "$bad", Body: "no peer, no chat"}}

	if err := w.in.IngestBatch("mx", []protocols.Event{protocols.MessageEvent{Message: w.annMsg("$1", "one", 1)}, cp}); err != nil {
		t.Fatal(err)
	}
	if committed != 1 {
		t.Fatalf("a stored batch committed %d checkpoints, want 1", committed)
	}

	// A lone event no retry could store is dropped: it holds nothing back.
	if err := w.in.Ingest("mx", unstorable); err == nil {
		t.Fatal("an unstorable message was accepted")
	}
	if err := w.in.IngestBatch("mx", []protocols.Event{protocols.MessageEvent{Message: w.annMsg("$2", "two", 2)}, cp}); err != nil {
		t.Fatal(err)
	}
	if committed != 2 {
		t.Fatalf("after a dropped unstorable event %d checkpoints committed, want 2", committed)
	}

	// A batch that failed as a whole lost a message that could be stored:
	// neither its checkpoint nor any later one is committed...
	if err := w.in.IngestBatch("mx", []protocols.Event{protocols.MessageEvent{Message: w.annMsg("$3", "three", 3)}, unstorable, cp}); err == nil {
		t.Fatal("a batch with an unstorable message was accepted")
	}
	w.msg(t, "$4", "four", 4)
	if err := w.in.Ingest("mx", cp); err != nil {
		t.Fatal(err)
	}
	if committed != 2 {
		t.Fatalf("a checkpoint after a lost message was committed (%d)", committed)
	}
	// ...until the connector reconnects and catches up from the old position.
	if err := w.in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnConnecting}); err != nil {
		t.Fatal(err)
	}
	if err := w.in.IngestBatch("mx", []protocols.Event{protocols.MessageEvent{Message: w.annMsg("$3", "three", 3)}, cp}); err != nil {
		t.Fatal(err)
	}
	if committed != 3 {
		t.Fatalf("after the reconnect's catch-up %d checkpoints committed, want 3", committed)
	}
	if n := len(w.messages(t)); n != 5 {
		t.Fatalf("store holds %d messages, want 5 ($0…$4 once each)", n)
	}
}
