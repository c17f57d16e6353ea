package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

var (
	histAnn = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ann:example.org", Server: "example.org"}
	histMe  = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@me:example.org", Server: "example.org"}
	histT0  = time.Unix(1_700_000_000, 0) // 2023-11-14 22:13:20 UTC
)

// historyStore opens the profile's real store (the file `polyglot` uses)
// through the inbox API, with Ann as a contact and n numbered messages
// from her, one second apart; the caller keeps it open.
func historyStore(t *testing.T, p *profile, n int) *inbox.Inbox {
	t.Helper()
	in, err := inbox.Open(filepath.Join(p.data, "polyglot", profileDB), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	evs := []protocols.Event{protocols.ContactEvent{Contact: histAnn, Name: "Ann"}}
	for i := 1; i <= n; i++ {
		evs = append(evs, annSays(fmt.Sprintf("$%04d", i), fmt.Sprintf("n=%04d", i), i))
	}
	if err := in.IngestBatch("mx", evs); err != nil {
		t.Fatal(err)
	}
	return in
}

func annSays(id, body string, sec int) protocols.Event {
	return protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: "!ann", Peer: histAnn},
		Sender: histAnn, Body: body, Sent: histT0.Add(time.Duration(sec) * time.Second), Encryption: protocols.EncE2EE}}
}

func historyProfile(t *testing.T) *profile {
	p := newProfile(t)
	p.extraEnv = append(p.extraEnv, "TZ=UTC")
	return p
}

// TestHistoryPrintsTheLastMessagesOldestFirst: the default is the last 50,
// --limit N the last N, --limit 0 everything (paged: more than two store
// pages here), always oldest first; the plain form names sender, network
// and encryption.
func TestHistoryPrintsTheLastMessagesOldestFirst(t *testing.T) {
	p := historyProfile(t)
	historyStore(t, p, 450)
	out, stderr, code := p.run("", "history", "@ann:example.org")
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("default: %d lines, want the last 50:\n%s", len(lines), out)
	}
	if want := "2023-11-14 22:20:01  Ann (Matrix, E2EE): n=0401"; lines[0] != want {
		t.Fatalf("first line %q, want %q", lines[0], want)
	}
	if !strings.HasSuffix(lines[49], "n=0450") {
		t.Fatalf("last line %q, want the newest message", lines[49])
	}
	for _, tc := range []struct {
		limit      string
		n          int
		first, end string
	}{{"3", 3, "n=0448", "n=0450"}, {"0", 450, "n=0001", "n=0450"}, {"1000", 450, "n=0001", "n=0450"}} {
		out, stderr, code := p.run("", "history", "matrix:@ann:example.org", "--limit", tc.limit)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || len(lines) != tc.n || !strings.HasSuffix(lines[0], tc.first) || !strings.HasSuffix(lines[tc.n-1], tc.end) {
			t.Fatalf("--limit %s: exit %d, %d lines (%s … %s), want %d (%s … %s): %s", tc.limit, code, len(lines),
				lines[0], lines[len(lines)-1], tc.n, tc.first, tc.end, stderr)
		}
		for i := 1; i < len(lines); i++ {
			if lines[i] <= lines[i-1] {
				t.Fatalf("--limit %s: not oldest first at line %d: %q after %q", tc.limit, i, lines[i], lines[i-1])
			}
		}
	}
	// The contact's name finds the conversation too.
	if out, _, code := p.run("", "history", "Ann", "--limit", "1"); code != 0 || !strings.HasSuffix(out, "n=0450\n") {
		t.Fatalf("by name: exit %d %q", code, out)
	}
}

// TestHistoryJSONAndSanitizing: --json is one object per line with the
// contract's fields; a body full of terminal escapes reaches the JSON
// exactly (escaped) and the plain output inert; nothing either form
// writes could drive a terminal.
func TestHistoryJSONAndSanitizing(t *testing.T) {
	p := historyProfile(t)
	in := historyStore(t, p, 1)
	evil := "clear\x1b[2J\x1b]0;pwned\x07 csi\u009b31m del\x7f rtl\u202eexe.txt\nsecond line"
	err := in.IngestBatch("mx", []protocols.Event{
		annSays("$evil", evil, 2),
		protocols.MessageEvent{Message: protocols.Message{NetworkID: "$mine", ClientID: "pgmine", Chat: protocols.Chat{ID: "!ann", Peer: histAnn},
			Sender: histMe, Outgoing: true, Body: "my reply", Sent: histT0.Add(3 * time.Second), Encryption: protocols.EncE2EEVerified}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := p.run("", "history", "@ann:example.org", "--json")
	if code != 0 {
		t.Fatalf("history --json: exit %d: %s", code, stderr)
	}
	assertInert(t, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines, want 3:\n%s", len(lines), out)
	}
	var got []historyJSON
	for _, l := range lines {
		var j historyJSON
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		got = append(got, j)
	}
	e, mine := got[1], got[2]
	if e.Body != evil || e.Network != "matrix" || e.Encryption != "e2ee" || e.Sender != "@ann:example.org" ||
		e.NetworkID != "$evil" || e.ID <= got[0].ID || e.Kind != "message" || e.Outgoing {
		t.Fatalf("JSON of the escape message: %+v", e)
	}
	if at, err := time.Parse(time.RFC3339, e.Time); err != nil || !at.Equal(histT0.Add(2*time.Second)) {
		t.Fatalf("time %q (%v), want RFC 3339 of %v", e.Time, err, histT0.Add(2*time.Second))
	}
	if !mine.Outgoing || mine.ClientID != "pgmine" || mine.Encryption != "e2ee-verified" || mine.Body != "my reply" {
		t.Fatalf("JSON of the own message: %+v", mine)
	}
	for _, field := range []string{`"id":`, `"network_id":`, `"network":`, `"encryption":`, `"sender":`, `"time":`, `"body":`} {
		if !strings.Contains(lines[0], field) {
			t.Fatalf("JSON lacks %s: %s", field, lines[0])
		}
	}

	out, _, code = p.run("", "history", "@ann:example.org")
	if code != 0 {
		t.Fatalf("history: exit %d", code)
	}
	assertInert(t, out)
	for _, want := range []string{"clear␛[2J␛]0;pwned␇", "\n    second line\n", "me (Matrix, E2EE verified): my reply"} {
		if !strings.Contains(out, want) {
			t.Fatalf("plain output lacks %q:\n%s", want, out)
		}
	}
}

// assertInert fails on any byte or character a terminal acts on: C0
// controls but the newline, DEL, C1 controls, bidi overrides.
func assertInert(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) {
			t.Fatalf("output holds %U at byte %d:\n%q", r, i, out)
		}
	}
}

// TestHistoryWhileAnotherPolyglotWrites: the store stays open in this
// process, which keeps storing messages and meanwhile holds a write
// transaction open; `polyglot history` (another process) still answers at
// once with a consistent, ordered view and never the uncommitted row.
func TestHistoryWhileAnotherPolyglotWrites(t *testing.T) {
	p := historyProfile(t)
	in := historyStore(t, p, 100)
	storePath := filepath.Join(p.data, "polyglot", profileDB)

	// A writer that holds the write lock with a row it never commits.
	raw, err := sql.Open("sqlite", "file:"+storePath+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE messages SET body = 'uncommitted' WHERE network_id = '$0001'`); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := p.run("", "history", "@ann:example.org", "--limit", "0")
	if code != 0 || strings.Count(out, "\n") != 100 || strings.Contains(out, "uncommitted") {
		t.Fatalf("with a write transaction open: exit %d, %d lines, %s", code, strings.Count(out, "\n"), stderr)
	}
	tx.Rollback()

	// The inbox keeps ingesting while history runs again and again.
	var stored atomic.Int64
	stored.Store(100)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 101; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := in.Ingest("mx", annSays(fmt.Sprintf("$%04d", i), fmt.Sprintf("n=%04d", i), i)); err != nil {
				t.Error(err)
				return
			}
			stored.Store(int64(i))
		}
	}()
	for run := 0; run < 5; run++ {
		before := stored.Load()
		out, stderr, code := p.run("", "history", "@ann:example.org", "--json", "--limit", "0")
		if code != 0 {
			t.Fatalf("run %d beside a writer: exit %d: %s", run, code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if int64(len(lines)) < before {
			t.Fatalf("run %d: %d messages, but %d were stored before it started", run, len(lines), before)
		}
		for i, l := range lines {
			var j historyJSON
			if err := json.Unmarshal([]byte(l), &j); err != nil || j.Body != fmt.Sprintf("n=%04d", i+1) {
				t.Fatalf("run %d line %d: %q (%v): not the contiguous, ordered history", run, i, l, err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if _, err := os.Stat(storePath); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryRefusesClearly: an unknown address and an empty profile are
// "cannot" (3) with a sentence saying so; bad arguments are usage (2).
func TestHistoryRefusesClearly(t *testing.T) {
	p := historyProfile(t)
	if _, stderr, code := p.run("", "history", "@ann:example.org"); code != exitCannot || !strings.Contains(stderr, "nothing is stored yet") {
		t.Fatalf("no store: exit %d %q", code, stderr)
	}
	historyStore(t, p, 2)
	_, stderr, code := p.run("", "history", "bob@example.org")
	if code != exitCannot || !strings.Contains(stderr, `no conversation with "bob@example.org"`) || strings.Contains(stderr, "inbox:") {
		t.Fatalf("unknown address: exit %d %q", code, stderr)
	}
	for _, args := range [][]string{
		{"history"},
		{"history", "@ann:example.org", "extra"},
		{"history", "@ann:example.org", "--limit", "-1"},
		{"history", "@ann:example.org", "--limit", "many"},
		{"history", "@ann:example.org", "--no-such-flag"},
	} {
		if _, stderr, code := p.run("", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}
