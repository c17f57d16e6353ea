package inbox

import (
	"testing"
	"time"

	"polyglot/protocols"
)

// A first-login history fill is reported while it runs, with each report
// replacing the last and telling screens (ChangeAccounts); its Done report,
// or its session ending, removes it.
func TestHistoryProgressIsKeptWhileTheFillRuns(t *testing.T) {
	w := newIngestWorld(t, Options{})
	changes, stop := w.in.Subscribe()
	defer stop()
	report := func(ev protocols.Event) {
		t.Helper()
		if err := w.in.Ingest("xmpp:me@example.org", ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(w.in.HistoryProgress()) != 0 {
		t.Fatal("progress before any fill")
	}
	report(protocols.HistoryProgressEvent{Messages: 100, Limit: 2000, Chats: 3})
	for deadline := time.After(5 * time.Second); ; {
		select {
		case c := <-changes:
			if c.Kind != ChangeAccounts {
				continue
			}
		case <-deadline:
			t.Fatal("screens were not told about the progress")
		}
		break
	}
	report(protocols.HistoryProgressEvent{Messages: 340, Limit: 2000, Chats: 12})
	if got := w.in.HistoryProgress()["xmpp:me@example.org"]; got != (HistoryProgress{Messages: 340, Limit: 2000, Chats: 12}) {
		t.Fatalf("progress %+v", got)
	}
	report(protocols.HistoryProgressEvent{Messages: 420, Limit: 2000, Chats: 14, Done: true})
	if p, ok := w.in.HistoryProgress()["xmpp:me@example.org"]; ok {
		t.Fatalf("a finished fill is still reported: %+v", p)
	}

	report(protocols.HistoryProgressEvent{Messages: 100, Chats: 1})
	report(protocols.ConnectionEvent{State: protocols.ConnOffline})
	if p, ok := w.in.HistoryProgress()["xmpp:me@example.org"]; ok {
		t.Fatalf("a fill outlived its session: %+v", p)
	}
}
