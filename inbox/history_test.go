package inbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"polyglot/protocols"
)

// TestReadOnlyPagesForwardThroughTies: a read-only handle beside the
// writer pages a conversation oldest first, also through messages that
// share one timestamp, and the tail cursor starts exactly N before the end;
// it never writes.
func TestReadOnlyPagesForwardThroughTies(t *testing.T) {
	w := newIngestWorld(t, Options{})
	var evs []protocols.Event
	for i := 1; i <= 30; i++ {
		m := w.annMsg(fmt.Sprintf("$t%02d", i), fmt.Sprintf("t%02d", i), time.Minute) // one timestamp for all
		evs = append(evs, protocols.MessageEvent{Message: m})
	}
	if err := w.in.IngestBatch("mx", evs); err != nil {
		t.Fatal(err)
	}
	path := w.in.dbPath(t)
	ro, err := OpenReadOnly(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	read := func(from Cursor, page int) []string {
		var out []string
		for {
			ms, err := ro.MessagesAfter(w.conv, from, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				return out
			}
			for _, m := range ms {
				out = append(out, m.Body)
			}
			last := ms[len(ms)-1]
			from = Cursor{At: last.At, ID: int64(last.ID)}
		}
	}
	all := read(Cursor{}, 7)
	if len(all) != 31 || all[0] != "hello" || all[1] != "t01" || all[30] != "t30" {
		t.Fatalf("paged forward: %d %v", len(all), all)
	}
	for _, n := range []int{1, 5, 30, 31, 100} {
		c, err := ro.TailCursor(w.conv, n)
		if err != nil {
			t.Fatal(err)
		}
		got := read(c, 4)
		if want := min(n, 31); len(got) != want || got[len(got)-1] != "t30" || got[0] != all[31-want] {
			t.Fatalf("tail %d: %v", n, got)
		}
	}
	if err := ro.Ingest("mx", protocols.MessageEvent{Message: w.annMsg("$ro", "written?", time.Hour)}); err == nil {
		t.Fatal("a read-only store took a write")
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), "none.db"), Options{}); !errors.Is(err, ErrNoStore) {
		t.Fatalf("missing store: %v", err)
	}
}

// dbPath is the file the store lives in.
func (in *Inbox) dbPath(t *testing.T) string {
	t.Helper()
	var seq int
	var name, file string
	if err := in.db.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file
}
