package inbox

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/protocols"
)

func TestSearch(t *testing.T) {
	in, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ada := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ada:example.org", Server: "example.org"}
	if err := in.Ingest("mx", protocols.ContactEvent{Contact: ada, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	for i, body := range []string{"the concert tickets are booked", "meeting moved to Tuesday", "meetings all day", "secret plans", `quote " and ) ( * NEAR OR`} {
		m := protocols.Message{NetworkID: protocols.MessageID("$" + string(rune('a'+i))), Chat: protocols.Chat{ID: "!dm", Peer: ada}, Sender: ada, Body: body, Sent: t0.Add(time.Duration(i) * time.Minute)}
		if err := in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Ingest("mx", protocols.DeleteEvent{Chat: "!dm", TargetID: "$d", From: ada}); err != nil {
		t.Fatal(err)
	}
	bodies := func(q string) []string {
		hits, err := in.Search(q, 10)
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		var out []string
		for _, h := range hits {
			out = append(out, h.Message.Body)
		}
		return out
	}
	if got := bodies("concert"); len(got) != 1 || !strings.Contains(got[0], "concert") {
		t.Errorf("concert: %q", got)
	}
	if got := bodies("meet"); len(got) != 2 || got[0] != "meetings all day" {
		t.Errorf("prefix meet, newest first: %q", got)
	}
	if got := bodies("secret"); len(got) != 0 {
		t.Errorf("a deleted message matched: %q", got)
	}
	for _, q := range []string{`"`, `) OR (`, `NEAR(`, `*`, `'; DROP TABLE messages; --`} {
		bodies(q) // must not error
	}
	if got := bodies(`quote "`); len(got) != 1 {
		t.Errorf("quotes in the query: %q", got)
	}
	hits, _ := in.Search("tickets", 1)
	if len(hits) != 1 || !strings.Contains(hits[0].Snippet, SnippetOpen+"tickets"+SnippetClose) || hits[0].Title != "Ada" {
		t.Errorf("snippet/title: %+v", hits)
	}
	if err := in.OptimizeSearch(); err != nil {
		t.Fatal(err)
	}
	if got := bodies("meet"); len(got) != 2 {
		t.Errorf("after OptimizeSearch: %q", got)
	}
}

// A store written by schema version 1 (whose update triggers lost edited
// messages from the index) is healed on open: the edited text is found,
// the old text is not, deleted messages stay out.
func TestSearchIndexHealedOnUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0] + `; PRAGMA user_version = 1;
		INSERT INTO people(id, name) VALUES (1, 'Ada');
		INSERT INTO conversations(id, kind, person_id, title) VALUES (1, 1, 1, 'Ada');
		INSERT INTO messages(id, conversation_id, network, account, sender, body, at) VALUES
			(1, 1, 'matrix', 'mx', '@ada:x', 'see you at five', 1),
			(2, 1, 'matrix', 'mx', '@ada:x', 'gone soon', 2);
		UPDATE messages SET body = 'see you at six', edited = 1 WHERE id = 1;
		UPDATE messages SET body = '', deleted = 1 WHERE id = 2;`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	in, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for q, want := range map[string]int{"six": 1, "see": 1, "five": 0, "gone": 0} {
		hits, err := in.Search(q, 10)
		if err != nil || len(hits) != want {
			t.Errorf("Search(%q) = %d hits (%v), want %d", q, len(hits), err, want)
		}
	}
}
