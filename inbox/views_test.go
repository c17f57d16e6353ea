package inbox

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"polyglot/protocols"
)

// Walking a conversation back page by page with the cursor of each page's
// first message yields every message exactly once, in order — also when
// many share one timestamp.
func TestMessagesPaging(t *testing.T) {
	in, err := Open(filepath.Join(t.TempDir(), "v.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	a := protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "ann@example.org", Server: "example.org"}
	if err := in.Ingest("xm", protocols.ContactEvent{Contact: a, Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	const total = 237
	t0 := time.Unix(1_700_000_000, 0)
	var evs []protocols.Event
	for i := range total {
		at := t0.Add(time.Duration(i/10) * time.Second) // ten messages per second
		evs = append(evs, protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("m%03d", i)),
			Chat: protocols.Chat{ID: protocols.ChatID(a.ID)}, Sender: a, Body: fmt.Sprintf("%03d", i), Sent: at}})
	}
	if err := in.IngestBatch("xm", evs); err != nil {
		t.Fatal(err)
	}
	conv, err := in.FindConversation("xmpp:" + a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	cur := Cursor{}
	pages := 0
	for {
		page, err := in.Messages(conv, cur, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if pages++; pages > 10 {
			t.Fatal("paging does not end")
		}
		for i := 1; i < len(page); i++ {
			if page[i].At.Before(page[i-1].At) {
				t.Fatalf("page not oldest first at %d", i)
			}
		}
		chunk := make([]string, len(page))
		for i, m := range page {
			chunk[i] = m.Body
		}
		got = append(chunk, got...)
		cur = Cursor{At: page[0].At, ID: int64(page[0].ID)}
	}
	if pages != 5 || len(got) != total {
		t.Fatalf("%d pages, %d messages; want 5 pages, %d messages", pages, len(got), total)
	}
	for i, b := range got {
		if b != fmt.Sprintf("%03d", i) {
			t.Fatalf("message %d is %q: paging skipped or repeated one", i, b)
		}
	}
	if page, _ := in.Messages(conv, Cursor{}, 0); len(page) != total {
		t.Fatalf("limit 0 gave %d messages, want all %d (under MaxPage)", len(page), total)
	}
}

// The inbox list pages newest first by (last activity, id) and leaves out
// requests.
func TestConversationsPaging(t *testing.T) {
	in, err := Open(filepath.Join(t.TempDir(), "v.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	t0 := time.Unix(1_700_000_000, 0)
	const people = 23
	for i := range people {
		a := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: fmt.Sprintf("@p%02d:example.org", i)}
		if err := in.Ingest("mx", protocols.ContactEvent{Contact: a, Name: fmt.Sprintf("P%02d", i)}); err != nil {
			t.Fatal(err)
		}
		// Pairs share a timestamp so the id must break ties.
		m := protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("$%d", i)), Chat: protocols.Chat{ID: protocols.ChatID("!" + a.ID), Peer: a}, Sender: a,
			Body: "hi", Sent: t0.Add(time.Duration(i/2) * time.Minute)}
		if err := in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	stranger := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@stranger:example.org"}
	if err := in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$s", Chat: protocols.Chat{ID: "!s", Peer: stranger},
		Sender: stranger, Body: "hey", Sent: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	seen := map[ConversationID]bool{}
	var titles []string
	cur := Cursor{}
	for {
		page, err := in.Conversations(cur, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if seen[c.ID] {
				t.Fatalf("conversation %d listed twice", c.ID)
			}
			if c.Request {
				t.Fatal("a request in the inbox list")
			}
			seen[c.ID] = true
			titles = append(titles, c.Title)
		}
		last := page[len(page)-1]
		cur = Cursor{At: last.LastAt, ID: int64(last.ID)}
	}
	if len(titles) != people {
		t.Fatalf("listed %d conversations, want %d", len(titles), people)
	}
	for i, title := range titles {
		if want := fmt.Sprintf("P%02d", people-1-i); title != want {
			t.Fatalf("position %d is %s, want %s (newest first, id breaks ties)", i, title, want)
		}
	}
}
