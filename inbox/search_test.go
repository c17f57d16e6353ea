package inbox

import (
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
		m := protocols.Message{NetworkID: "$" + string(rune('a'+i)), Chat: protocols.Chat{ID: "!dm", Peer: ada}, Sender: ada, Body: body, Sent: t0.Add(time.Duration(i) * time.Minute)}
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
}
