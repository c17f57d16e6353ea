package inbox

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"polyglot/protocols"
)

// cjkStore is a store with Ada (Matrix, a contact) and the bodies as her
// messages, one a minute, oldest first.
func cjkStore(t *testing.T, bodies ...string) *Inbox {
	t.Helper()
	in, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	if err := in.Ingest("mx", protocols.ContactEvent{Contact: ada, Name: "Ada Lovelace"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	for i, body := range bodies {
		m := protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("$m%d", i)), Chat: protocols.Chat{ID: "!dm", Peer: ada}, Sender: ada,
			Body: body, Sent: t0.Add(time.Duration(i) * time.Minute)}
		if err := in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

var ada = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ada:example.org", Server: "example.org"}

// messageBodies are the bodies of the message hits of query, newest first.
func messageBodies(t *testing.T, in *Inbox, query string) []string {
	t.Helper()
	hits, err := in.Search(query, 50)
	if err != nil {
		t.Fatalf("Search(%q): %v", query, err)
	}
	var out []string
	for _, h := range hits {
		if h.Message.ID != 0 {
			out = append(out, h.Message.Body)
		}
	}
	return out
}

// Text in scripts without spaces is found anywhere inside a "word", for
// queries of one, two and more characters, alone or with other words; a
// phrase never matches across two separate runs of such text.
func TestSearchCJKSubstring(t *testing.T) {
	in := cjkStore(t,
		"明日の会議は10時から",     // 0
		"会議室を予約しました",      // 1
		"東京駅で待ち合わせ",       // 2
		"Zoom会議のリンクを送ります", // 3
		"会議 議事録",          // 4: two runs
		"ประชุมพรุ่งนี้ตอนเก้าโมง", // 5: Thai, "meeting tomorrow at nine"
		"내일 회의를 합시다",                    // 6: Korean, a particle attached
		"我们明天开会讨论项目",                    // 7: Chinese
		"plain english about a meeting", // 8
	)
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"会議", []string{"会議 議事録", "Zoom会議のリンクを送ります", "会議室を予約しました", "明日の会議は10時から"}},
		{"の会議", []string{"明日の会議は10時から"}},
		{"明日の会議は", []string{"明日の会議は10時から"}},
		{"議は", []string{"明日の会議は10時から"}},
		{"会", []string{"我们明天开会讨论项目", "会議 議事録", "Zoom会議のリンクを送ります", "会議室を予約しました", "明日の会議は10時から"}},
		{"駅", []string{"東京駅で待ち合わせ"}},
		{"京駅", []string{"東京駅で待ち合わせ"}},
		{"駅東", nil},
		{"会議事", nil}, // "会議" and "議事" are separate runs
		{"議事録", []string{"会議 議事録"}},
		{"会議 zoom", []string{"Zoom会議のリンクを送ります"}},
		{"会議 zoo", []string{"Zoom会議のリンクを送ります"}},
		{"zoo 会議", nil}, // as for words, only the last one is a prefix
		{"Zoom会議", []string{"Zoom会議のリンクを送ります"}},
		{"会議 10", []string{"明日の会議は10時から"}},
		{"พรุ่งนี้", []string{"ประชุมพรุ่งนี้ตอนเก้าโมง"}},
		{"회의", []string{"내일 회의를 합시다"}},
		{"开会", []string{"我们明天开会讨论项目"}},
		{"明天开会", []string{"我们明天开会讨论项目"}},
		{"meeting", []string{"plain english about a meeting"}},
	} {
		if got := messageBodies(t, in, c.q); !slices.Equal(got, c.want) {
			t.Errorf("Search(%q) = %q, want %q", c.q, got, c.want)
		}
	}
	hits, err := in.Search("会議は", 10)
	if err != nil || len(hits) != 1 {
		t.Fatalf("会議は: %v %v", hits, err)
	}
	if h := hits[0]; h.Snippet != "明日の"+SnippetOpen+"会議は"+SnippetClose+"10時から" || h.Title != "Ada Lovelace" || h.Conversation != h.Message.Conversation {
		t.Errorf("hit: %+v", h)
	}
}

// Every path that stores or rewrites text keeps the character index right:
// the user's send, a history batch (with a duplicate, an edit, a late
// decryption), a live message, a deletion; and it survives a reopen.
func TestEveryStoredCJKMessageIsSearchable(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	bob := obAccounts[0].addr
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "会議室を予約した"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_100, 0)
	msg := func(id, body string, i int, locked bool) protocols.Event {
		return protocols.MessageEvent{Historical: true, Message: protocols.Message{NetworkID: protocols.MessageID(id),
			Chat: protocols.Chat{ID: "!dm:matrix.example"}, Sender: bob, Body: body,
			Sent: t0.Add(time.Duration(i) * time.Second), Undecryptable: locked}}
	}
	if err := w.in.IngestBatch("mx", []protocols.Event{
		msg("$q1", "東京駅で待つ", 1, false),
		msg("$q1", "東京駅で待つ", 1, false),
		msg("$w1", "資料を送ります", 2, false),
		protocols.EditEvent{From: bob, TargetID: "$w1", Body: "写真を送ります", Chat: "!dm:matrix.example"},
		msg("$l1", "", 3, true),
		msg("$l1", "誕生日おめでとう", 3, false),
		msg("$d1", "秘密の計画", 4, false),
		protocols.DeleteEvent{Chat: "!dm:matrix.example", TargetID: "$d1", From: bob},
		msg("$e1", "English, then edited into 日本語", 5, false),
		protocols.EditEvent{From: bob, TargetID: "$e1", Body: "now plain English", Chat: "!dm:matrix.example"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$x1",
		Chat: protocols.Chat{ID: "!dm:matrix.example"}, Sender: bob, Body: "花火大会", Sent: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	// A message deleted in a later transaction leaves the index too.
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$x2",
		Chat: protocols.Chat{ID: "!dm:matrix.example"}, Sender: bob, Body: "消える言葉", Sent: t0.Add(2 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.in.Ingest("mx", protocols.DeleteEvent{Chat: "!dm:matrix.example", TargetID: "$x2", From: bob}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"予約": 1, "駅": 1, "資料": 0, "写真": 1, "誕生日": 1, "秘密": 0, "日本語": 0, "花火": 1, "大会": 1, "消える": 0, "言": 0}
	check := func(in *Inbox, when string) {
		for q, n := range want {
			if got := messageBodies(t, in, q); len(got) != n {
				t.Errorf("%s: Search(%q) = %q, want %d hit(s)", when, q, got, n)
			}
		}
	}
	check(w.in, "stored")
	w.in.Close()
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	check(in, "after reopen")
}

// People's names (the person's and each network's display name), their
// addresses and phone numbers, and group names and addresses find the
// conversation; a blocked one is never found; LIKE wildcards in the query
// are plain text.
func TestSearchNamesAndAddresses(t *testing.T) {
	in := cjkStore(t, "hello")
	hanako := protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: "819012345678@s.whatsapp.net", Server: "s.whatsapp.net"}
	mallory := protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "mallory@evil.example", Server: "evil.example"}
	for _, ev := range []struct {
		acct string
		ev   protocols.Event
	}{
		{"wa", protocols.ContactEvent{Contact: hanako, Name: "山田 花子"}},
		{"xm", protocols.ContactEvent{Contact: mallory, Name: "Mallory"}},
		{"wa", protocols.MessageEvent{Message: protocols.Message{NetworkID: "h1", Chat: protocols.Chat{ID: protocols.ChatID(hanako.ID)}, Sender: hanako, Body: "こんにちは", Sent: time.Unix(1_700_100_000, 0)}}},
		{"xm", protocols.MessageEvent{Message: protocols.Message{NetworkID: "x1", Chat: protocols.Chat{ID: protocols.ChatID(mallory.ID)}, Sender: mallory, Body: "hi", Sent: time.Unix(1_700_100_001, 0)}}},
		{"mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "g1", Chat: protocols.Chat{ID: "!hike:example.org", Group: true, Name: "Weekend hike 🥾"},
			Sender: ada, Body: "Train at 8:12?", Sent: time.Unix(1_700_100_002, 0)}}},
	} {
		if err := in.Ingest(ev.acct, ev.ev); err != nil {
			t.Fatal(err)
		}
	}
	names := func(q string) []string {
		t.Helper()
		hits, err := in.Search(q, 50)
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		var out []string
		for _, h := range hits {
			if h.Message.ID == 0 {
				out = append(out, h.Title+" | "+h.Snippet)
			}
		}
		return out
	}
	for q, want := range map[string][]string{
		"花子":                {"山田 花子 | 山田 «花子»"},
		"lovelace":          {"Ada Lovelace | Ada «Lovelace»"},
		"ADA:EXAMPLE":       {"Ada Lovelace | @«ada:example».org"},
		"8190123":           {"山田 花子 | «8190123»45678@s.whatsapp.net"},
		"hike":              {"Weekend hike 🥾 | Weekend «hike» 🥾"},
		"!hike:example":     {"Weekend hike 🥾 | «!hike:example».org"},
		"mallory":           {"Mallory | «Mallory»"},
		"a_a":               nil,
		"%":                 nil,
		`\`:                 nil,
		"ada lovelace":      {"Ada Lovelace | «Ada Lovelace»"},
		"  ada   lovelace ": {"Ada Lovelace | «Ada Lovelace»"},
	} {
		if got := names(q); !slices.Equal(got, want) {
			t.Errorf("names for %q = %q, want %q", q, got, want)
		}
	}
	hits, err := in.Search("花子", 50)
	if err != nil || len(hits) == 0 || hits[0].Network != "" || hits[0].Conversation == 0 || hits[0].NameKind != "name" {
		t.Fatalf("花子: %+v %v", hits, err)
	}
	if hits, _ := in.Search("819012", 50); len(hits) != 1 || hits[0].Network != protocols.WhatsApp || hits[0].Name != hanako.ID || hits[0].NameKind != "address" {
		t.Errorf("an address hit names its network: %+v", hits)
	}
	// Blocked: gone from search, names and messages alike.
	conv := hits[0].Conversation
	if err := in.Decide(context.Background(), conv, Block); err != nil {
		t.Fatal(err)
	}
	if got := names("花子"); got != nil {
		t.Errorf("a blocked person is found: %q", got)
	}
	if got := messageBodies(t, in, "こんにちは"); got != nil {
		t.Errorf("a blocked person's message is found: %q", got)
	}
}

// Hostile queries are text, never syntax: FTS5 operators, column filters,
// quotes, NUL and control bytes, invalid UTF-8 and a huge query all run
// without error; a hostile body is found and handed back raw (the TUI
// sanitizes it) with the match marked.
func TestSearchHostileInput(t *testing.T) {
	evil := "会議\x1b]52;c;cm0gLXJmIH4K\x07の件 \x1b[2J«偽»"
	in := cjkStore(t, evil, `quote " and ) ( * NEAR OR`, "u : 会")
	for _, q := range []string{`"`, `) OR (`, `NEAR(`, `*`, `'; DROP TABLE messages; --`, `u : "会"`, `g : 会議`,
		`会" OR "x`, `会 NOT 議`, "会\x00議", "\xff\xfe会", `{u g} : 会`, `^会`, `会*`, "会議\x1b[2J",
		strings.Repeat("会議 ", 300), strings.Repeat("あ", 5000), `%会%`, `_`} {
		if _, err := in.Search(q, 20); err != nil {
			t.Errorf("Search(%q): %v", q, err)
		}
	}
	hits, err := in.Search("の件", 10)
	if err != nil || len(hits) != 1 {
		t.Fatalf("の件: %+v %v", hits, err)
	}
	if h := hits[0]; h.Message.Body != evil || !strings.Contains(h.Snippet, SnippetOpen+"の件"+SnippetClose) {
		t.Errorf("hostile hit: %+v", h)
	}
	if got := messageBodies(t, in, `u : 会`); len(got) != 1 || got[0] != "u : 会" {
		// Everything is text: "u" is a word, not a column.
		t.Errorf("column syntax as text: %q", got)
	}
	// A long body's snippet is a window around the match, not the body.
	long := strings.Repeat("前置き", 2000) + "会議" + strings.Repeat("後書き", 2000)
	in2 := cjkStore(t, long)
	hits, _ = in2.Search("会議", 5)
	if len(hits) != 1 || len(hits[0].Snippet) > 200 || !strings.Contains(hits[0].Snippet, "«会議»") ||
		!strings.HasPrefix(hits[0].Snippet, "…") || !strings.HasSuffix(hits[0].Snippet, "…") {
		t.Errorf("long body snippet: %+v", hits)
	}
}

// The triggers' pattern is the one grams.go builds, and it holds every text
// Go indexes, so removing a message always removes its index row.
func TestGramGlobCoversGramRunes(t *testing.T) {
	if gramGlob != gramGlob7 {
		t.Fatalf("gramRanges changed: migration 7's triggers use %q; add a migration that replaces them", gramGlob7)
	}
	in := cjkStore(t)
	var probes []rune
	for _, r := range gramRanges {
		probes = append(probes, r[0]-1, r[0], r[0]+1, (r[0]+r[1])/2, r[1]-1, r[1], r[1]+1)
	}
	probes = append(probes, 'a', 'é', 'ß', '😀', '。', '、', 0x30FB, 0x0E3F)
	for _, r := range probes {
		s := "x" + string(r) + "y"
		var glob bool
		if err := in.db.QueryRow(`SELECT ? GLOB ?`, s, gramGlob).Scan(&glob); err != nil {
			t.Fatal(err)
		}
		if hasGrams(s) && !glob {
			t.Errorf("U+%04X is indexed but the trigger pattern misses it", r)
		}
		inRange := false
		for _, g := range gramRanges {
			inRange = inRange || (g[0] <= r && r <= g[1])
		}
		if glob != inRange {
			t.Errorf("U+%04X: GLOB %v, in gramRanges %v", r, glob, inRange)
		}
	}
}

// A store from before the character index (schema 6) gets it built on
// open, in windows of ids (and at most backfillRows rows a step), newest
// first, in the background: everything is found once it is done, and the
// work is not redone on the next open.
func TestGramIndexBuiltForOldStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v6.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(strings.Join(migrations[:6], ";\n") + `; PRAGMA user_version = 6;
		INSERT INTO people(id, name) VALUES (1, 'Ada');
		INSERT INTO conversations(id, kind, person_id, title) VALUES (1, 1, 1, 'Ada');
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
		INSERT INTO messages(id, conversation_id, network, account, sender, body, at)
			SELECT i, 1, 'matrix', 'mx', '@ada:x', CASE i WHEN 3 THEN '古い会議の記録' WHEN 6001 THEN '真ん中の会議'
				WHEN 11999 THEN '新しい会議' WHEN 7000 THEN '消した会議' WHEN 8000 THEN 'システムの会議'
				ELSE CASE WHEN i BETWEEN 9001 AND 9450 THEN '束の' || i ELSE 'filler ' || i END END, i FROM n;
		INSERT INTO messages_fts(rowid, body) SELECT id, body FROM messages;
		UPDATE messages SET deleted = 1 WHERE id = 7000;
		UPDATE messages SET kind = 1 WHERE id = 8000;`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	in, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := in.waitBackfill(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"新しい会議", "真ん中の会議", "古い会議の記録"}
	if got := messageBodies(t, in, "会議"); !slices.Equal(got, want) {
		t.Errorf("after the upgrade: %q, want %q", got, want)
	}
	// More such messages in one window than a step indexes.
	var bundles int
	if err := in.db.QueryRow(`SELECT count(*) FROM messages_grams WHERE messages_grams MATCH 'u : "束"'`).Scan(&bundles); err != nil || bundles != 450 {
		t.Errorf("束: %d rows indexed (%v), want 450", bundles, err)
	}
	var left int
	if err := in.db.QueryRow(`SELECT count(*) FROM grams_backfill`).Scan(&left); err != nil || left != 0 {
		t.Errorf("backfill state left: %d %v", left, err)
	}
	in.Close()
	// Reopened: nothing to do, same answers.
	in, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	select {
	case <-in.gramsDone:
	default:
		t.Error("a finished backfill runs again")
	}
	if got := messageBodies(t, in, "会議"); !slices.Equal(got, want) {
		t.Errorf("after reopen: %q", got)
	}
}

// The backfill resumes where it stopped and may meet rows that live paths
// indexed meanwhile (an edit): each message is in the index once, with its
// current text.
func TestGramBackfillResumesAndReplaces(t *testing.T) {
	in := cjkStore(t, "一つ目の会議", "二つ目の会議", "三つ目の会議")
	// Pretend the two older messages were stored before the index: it has
	// only the newest, and the backfill starts below it.
	err := in.write(func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM messages_grams WHERE rowid < (SELECT max(id) FROM messages)`,
			`INSERT INTO grams_backfill(below) SELECT max(id) FROM messages`} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := messageBodies(t, in, "会議"); len(got) != 1 {
		t.Fatalf("before the backfill: %q", got)
	}
	// An edit reaches the middle one first.
	if err := in.Ingest("mx", protocols.EditEvent{From: ada, TargetID: "$m1", Body: "二つ目の打ち合わせ", Chat: "!dm"}); err != nil {
		t.Fatal(err)
	}
	// One id per step, so it resumes twice.
	for steps := 0; ; steps++ {
		done, err := in.backfillStep(1)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if steps > 10 {
			t.Fatal("the backfill does not end")
		}
	}
	if got := messageBodies(t, in, "会議"); !slices.Equal(got, []string{"三つ目の会議", "一つ目の会議"}) {
		t.Errorf("会議 after the backfill: %q", got)
	}
	if got := messageBodies(t, in, "打ち合わせ"); !slices.Equal(got, []string{"二つ目の打ち合わせ"}) {
		t.Errorf("the edited text: %q", got)
	}
	if got := messageBodies(t, in, "目"); len(got) != 3 {
		t.Errorf("each message once: %q", got)
	}
}
