package inbox

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"polyglot/protocols"
)

// ingestWorld: Ann is a Matrix contact, her DM room is !ann, the account
// "mx" is online through a recording connector offering E2EE.
type ingestWorld struct {
	in   *Inbox
	conn *obConn
	conv ConversationID
	t0   time.Time
}

var (
	ann   = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ann:example.org", Server: "example.org"}
	other = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@zoe:example.org", Server: "example.org"}
)

func newIngestWorld(t *testing.T, opts Options) *ingestWorld {
	t.Helper()
	in, err := Open(filepath.Join(t.TempDir(), "i.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w := &ingestWorld{in: in, conn: newObConn(protocols.Matrix, protocols.EncE2EE), t0: time.Unix(1_700_000_000, 0)}
	in.Attach("mx", w.conn)
	for _, ev := range []protocols.Event{
		protocols.ConnectionEvent{State: protocols.ConnOnline},
		protocols.ContactEvent{Contact: ann, Name: "Ann"},
		protocols.ContactEvent{Contact: other, Name: "Zoe"},
	} {
		if err := in.Ingest("mx", ev); err != nil {
			t.Fatal(err)
		}
	}
	w.msg(t, "$0", "hello", 0)
	cs, err := in.Conversations(Cursor{}, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("conversations = %+v (%v)", cs, err)
	}
	w.conv = cs[0].ID
	return w
}

func (w *ingestWorld) annMsg(id, body string, at time.Duration) protocols.Message {
	return protocols.Message{NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: "!ann", Peer: ann}, Sender: ann, Body: body,
		Sent: w.t0.Add(at), Encryption: protocols.EncE2EE}
}

func (w *ingestWorld) msg(t *testing.T, id, body string, at time.Duration) {
	t.Helper()
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: w.annMsg(id, body, at)}); err != nil {
		t.Fatal(err)
	}
}

func (w *ingestWorld) messages(t *testing.T) []Message {
	t.Helper()
	ms, err := w.in.Messages(w.conv, Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (w *ingestWorld) conversation(t *testing.T) Conversation {
	t.Helper()
	c, err := w.in.Conversation(w.conv)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIngestDedupe(t *testing.T) {
	w := newIngestWorld(t, Options{})
	w.msg(t, "$0", "hello", 0) // the same event again (sync replay)
	batch := []protocols.Event{
		protocols.MessageEvent{Message: w.annMsg("$1", "one", time.Minute)},
		protocols.MessageEvent{Message: w.annMsg("$1", "one", time.Minute)},
	}
	if err := w.in.IngestBatch("mx", batch); err != nil {
		t.Fatal(err)
	}
	if ms := w.messages(t); len(ms) != 2 {
		t.Fatalf("%d messages after replays, want 2", len(ms))
	}
	if c := w.conversation(t); c.Unread != 2 || c.Preview != "one" {
		t.Fatalf("unread %d preview %q", c.Unread, c.Preview)
	}

	// Our own message comes back from the server (by client ID) and from
	// another sync (by network ID): still one message, now sent.
	sent, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the send to be acknowledged", func() bool {
		m, err := w.in.Message(sent.ID)
		return err == nil && m.State == StateSent
	})
	me := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@me:example.org"}
	echo := protocols.Message{ClientID: protocols.ClientID(sent.ClientID), NetworkID: protocols.MessageID("net-" + sent.ClientID), Chat: protocols.Chat{ID: "!ann", Peer: ann},
		Sender: me, Outgoing: true, Body: "mine", Sent: time.Now()}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: echo}); err != nil {
		t.Fatal(err)
	}
	echo.ClientID = ""
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: echo}); err != nil {
		t.Fatal(err)
	}
	var mine int
	for _, m := range w.messages(t) {
		if m.Outgoing {
			mine++
			if m.State != StateSent || m.NetworkID != "net-"+sent.ClientID {
				t.Fatalf("own message %+v", m)
			}
		}
	}
	if mine != 1 {
		t.Fatalf("%d copies of our own message", mine)
	}
}

// A batch is all or nothing: one bad event stores none of it.
func TestIngestBatchAtomic(t *testing.T) {
	w := newIngestWorld(t, Options{})
	bad := protocols.Message{NetworkID: "x", Chat: protocols.Chat{ID: "?"}, Body: "no sender, no network"}
	err := w.in.IngestBatch("unknown-account", []protocols.Event{
		protocols.MessageEvent{Message: w.annMsg("$good", "good", time.Minute)},
		protocols.MessageEvent{Message: bad},
	})
	if err == nil || !strings.Contains(err.Error(), "unknown network") {
		t.Fatalf("err = %v, want an unknown network error", err)
	}
	if ms := w.messages(t); len(ms) != 1 {
		t.Fatalf("a failed batch left %d messages", len(ms))
	}
}

// History sync stores messages without making them unread or moving the
// conversation's unread count.
func TestIngestHistoricalNoUnread(t *testing.T) {
	w := newIngestWorld(t, Options{})
	if err := w.in.MarkRead(context.Background(), w.conv); err != nil {
		t.Fatal(err)
	}
	var evs []protocols.Event
	for i := range 5 {
		evs = append(evs, protocols.MessageEvent{Historical: true, Message: w.annMsg(fmt.Sprintf("$h%d", i), "old", -time.Duration(i+1)*time.Hour)})
	}
	if err := w.in.IngestBatch("mx", evs); err != nil {
		t.Fatal(err)
	}
	c := w.conversation(t)
	if c.Unread != 0 || c.Preview != "hello" {
		t.Fatalf("after history: unread %d preview %q (older history must not become the preview)", c.Unread, c.Preview)
	}
	if ms := w.messages(t); len(ms) != 6 || ms[0].Body != "old" || ms[5].Body != "hello" {
		t.Fatalf("history not in time order: %d messages", len(ms))
	}
}

// Receipts only move a message forward (sent → delivered → read), match
// network or client IDs, and a read marker covers earlier messages.
func TestReceiptsForwardOnly(t *testing.T) {
	w := newIngestWorld(t, Options{})
	ctx := context.Background()
	var sent []Message
	for _, body := range []string{"a", "b", "c"} {
		m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
	}
	waitFor(t, "three sends", func() bool { return len(w.conn.sends()) == 3 })
	state := func(m Message) MessageState {
		t.Helper()
		waitFor(t, "the ack to be stored", func() bool { got, _ := w.in.Message(m.ID); return got.State != StateQueued })
		got, err := w.in.Message(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}
	rcpt := func(kind protocols.ReceiptKind, ids ...protocols.MessageID) {
		t.Helper()
		if err := w.in.Ingest("mx", protocols.ReceiptEvent{Chat: "!ann", IDs: ids, Kind: kind, From: ann}); err != nil {
			t.Fatal(err)
		}
	}
	rcpt(protocols.ReceiptDelivered, protocols.MessageID(sent[0].ClientID)) // by client ID (XMPP style)
	if s := state(sent[0]); s != StateDelivered {
		t.Fatalf("after delivered: %v", s)
	}
	rcpt(protocols.ReceiptRead, protocols.MessageID("net-"+sent[1].ClientID)) // by network ID
	if s0, s1, s2 := state(sent[0]), state(sent[1]), state(sent[2]); s0 != StateRead || s1 != StateRead || s2 != StateSent {
		t.Fatalf("after read of b: %v %v %v, want read read sent", s0, s1, s2)
	}
	rcpt(protocols.ReceiptDelivered, protocols.MessageID("net-"+sent[1].ClientID)) // late delivery receipt
	if s := state(sent[1]); s != StateRead {
		t.Fatalf("a late delivered receipt moved read back to %v", s)
	}
	rcpt(protocols.ReceiptRead, "$0") // a receipt naming an incoming message changes nothing
	if ms := w.messages(t); ms[0].State != StateReceived {
		t.Fatalf("incoming message state %v", ms[0].State)
	}
}

func TestEditDeleteReaction(t *testing.T) {
	w := newIngestWorld(t, Options{})
	w.msg(t, "$1", "see you at 5", time.Minute)
	w.msg(t, "$2", "my pin is 1234", 2*time.Minute)
	ev := func(e protocols.Event) {
		t.Helper()
		if err := w.in.Ingest("mx", e); err != nil {
			t.Fatal(err)
		}
	}
	ev(protocols.EditEvent{Chat: "!ann", TargetID: "$1", NetworkID: "$e1", From: other, Body: "forged"}) // not the author
	ev(protocols.EditEvent{Chat: "!ann", TargetID: "$1", NetworkID: "$e2", From: ann, Body: "see you at 6"})
	ev(protocols.DeleteEvent{Chat: "!ann", TargetID: "$2", From: other}) // not the author
	if ms := w.messages(t); ms[2].Deleted {
		t.Fatal("someone else deleted Ann's message")
	}
	ev(protocols.DeleteEvent{Chat: "!ann", TargetID: "$2", From: ann})
	ev(protocols.ReactionEvent{Chat: "!ann", TargetID: "$1", Key: "👍", From: ann})
	ev(protocols.ReactionEvent{Chat: "!ann", TargetID: "$1", Key: "👍", From: other})
	ev(protocols.ReactionEvent{Chat: "!ann", TargetID: "$1", Key: "🎉", From: ann})
	ev(protocols.ReactionEvent{Chat: "!ann", TargetID: "$1", Key: "🎉", From: ann, Remove: true})

	ms := w.messages(t)
	edited, deleted := ms[1], ms[2]
	if edited.Body != "see you at 6" || !edited.Edited {
		t.Fatalf("edited message %q edited=%v", edited.Body, edited.Edited)
	}
	if len(edited.Reactions) != 1 || edited.Reactions[0].Key != "👍" || edited.Reactions[0].Count != 2 {
		t.Fatalf("reactions %+v", edited.Reactions)
	}
	if !deleted.Deleted || deleted.Body != "" {
		t.Fatalf("deleted message keeps %q (deleted=%v)", deleted.Body, deleted.Deleted)
	}
	if c := w.conversation(t); c.Preview != DeletedPreview {
		t.Fatalf("preview after delete %q", c.Preview)
	}
	if hits, _ := w.in.Search("pin", 10); len(hits) != 0 {
		t.Fatalf("a deleted message is searchable: %+v", hits)
	}
	if hits, _ := w.in.Search("6", 10); len(hits) != 1 {
		t.Fatalf("the edited text is not searchable: %+v", hits)
	}
	// An edit arriving as a message with EditOf works the same way.
	m := w.annMsg("$e3", "see you at 7", 3*time.Minute)
	m.EditOf = "$1"
	ev(protocols.MessageEvent{Message: m})
	if ms := w.messages(t); len(ms) != 3 || ms[1].Body != "see you at 7" {
		t.Fatalf("EditOf message: %d messages, body %q", len(ms), ms[1].Body)
	}
}

// A contact's new key shows in the conversation as a system line, like
// Signal, and does not count as an unread message.
func TestKeyChangeSystemMessage(t *testing.T) {
	w := newIngestWorld(t, Options{})
	before := w.conversation(t)
	err := w.in.Ingest("mx", protocols.KeyChangeEvent{Chat: "!ann", Contact: ann, DeviceID: "ABCDEFG",
		Fingerprint: "0123456789abcdef", Kind: protocols.KeyChanged, At: w.t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ms := w.messages(t)
	last := ms[len(ms)-1]
	if last.Kind != KindSystem || last.Body != "Ann: changed key ABCDEFG (fingerprint 0123 4567 89ab cdef)" {
		t.Fatalf("system line %+v", last)
	}
	after := w.conversation(t)
	if after.Unread != before.Unread || after.Preview != "hello" {
		t.Fatalf("key change touched unread/preview: %+v", after)
	}
	// A stranger's key in no chat of ours adds nothing anywhere.
	if err := w.in.Ingest("mx", protocols.KeyChangeEvent{Contact: protocols.Address{Network: protocols.Matrix, ID: "@x:y"}, DeviceID: "Z", Kind: protocols.KeyNew}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := w.in.Conversations(Cursor{}, 10); len(cs) != 1 {
		t.Fatalf("a stranger's key made a conversation: %+v", cs)
	}
}

// Typing is in memory, published, and expires on its own.
func TestTypingExpires(t *testing.T) {
	w := newIngestWorld(t, Options{TypingExpiry: 100 * time.Millisecond})
	changes, stop := w.in.Subscribe()
	defer stop()
	if err := w.in.Ingest("mx", protocols.TypingEvent{Chat: "!ann", From: ann, Typing: true}); err != nil {
		t.Fatal(err)
	}
	if !w.conversation(t).Typing {
		t.Fatal("not typing after a typing event")
	}
	waitFor(t, "typing to expire", func() bool { return !w.conversation(t).Typing })
	n := 0
	for n < 2 {
		select {
		case c := <-changes:
			if c.Kind == ChangeTyping && c.Conversation == w.conv {
				n++
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("got %d typing changes, want start and expiry", n)
		}
	}
}

// Group messages go to the room's conversation, titled by ChatEvent, and
// presence updates the identity.
func TestGroupAndPresence(t *testing.T) {
	w := newIngestWorld(t, Options{})
	room := protocols.Chat{ID: "!club:example.org", Group: true, Name: "Book club"}
	for i, from := range []protocols.Address{ann, other} {
		m := protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("$g%d", i)), Chat: room, Sender: from, Body: "chapter 3", Sent: w.t0.Add(time.Hour)}
		if err := w.in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.in.Ingest("mx", protocols.ChatEvent{Chat: protocols.Chat{ID: room.ID, Group: true, Name: "Book club (2025)"}, Encryption: protocols.EncE2EE}); err != nil {
		t.Fatal(err)
	}
	cs, err := w.in.Conversations(Cursor{}, 10)
	if err != nil || len(cs) != 2 {
		t.Fatalf("conversations %+v (%v)", cs, err)
	}
	g := cs[0]
	if g.Kind != Group || g.Title != "Book club (2025)" || g.Unread != 2 {
		t.Fatalf("group conversation %+v", g)
	}
	if ms, _ := w.in.Messages(g.ID, Cursor{}, 10); len(ms) != 2 || ms[0].SenderName == ms[1].SenderName {
		t.Fatalf("group messages %+v", ms)
	}
	if err := w.in.Ingest("mx", protocols.PresenceEvent{From: ann, State: protocols.PresenceAway}); err != nil {
		t.Fatal(err)
	}
	p, _ := w.in.PersonOf(ann)
	person, err := w.in.Person(p)
	if err != nil || len(person.Identities) != 1 || person.Identities[0].Presence != protocols.PresenceAway {
		t.Fatalf("presence %+v (%v)", person, err)
	}
}

// A batch indexes its messages for search at the end; an edit or delete in
// the same batch still leaves the index exact (FTS5's own check agrees).
func TestBatchSearchIndex(t *testing.T) {
	w := newIngestWorld(t, Options{})
	edit := w.annMsg("$e", "bring the blue folder", 3*time.Minute)
	edit.EditOf = "$1"
	err := w.in.IngestBatch("mx", []protocols.Event{
		protocols.MessageEvent{Message: w.annMsg("$1", "bring the red folder", time.Minute)},
		protocols.MessageEvent{Message: w.annMsg("$2", "password hunter2", 2*time.Minute)},
		protocols.MessageEvent{Message: edit},
		protocols.DeleteEvent{Chat: "!ann", TargetID: "$2", From: ann},
		protocols.MessageEvent{Message: w.annMsg("$3", "and a red pen", 4*time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"folder": 1, "blue": 1, "red": 1, "hunter2": 0, "hello": 1} {
		if hits, err := w.in.Search(q, 10); err != nil || len(hits) != want {
			t.Errorf("Search(%q) = %d hits (%v), want %d", q, len(hits), err, want)
		}
	}
	ftsExact(t, w.in)
}

// ftsExact checks, term by term, that the full-text index holds exactly
// the words of live text messages (not deleted ones, not system lines).
func ftsExact(t *testing.T, in *Inbox) {
	t.Helper()
	ctx := context.Background()
	conn, err := in.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, messages_fts, instance)`); err != nil {
		t.Fatal(err)
	}
	read := func(q string) map[string]bool {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		set := map[string]bool{}
		for rows.Next() {
			var id int64
			var s string
			if err := rows.Scan(&id, &s); err != nil {
				t.Fatal(err)
			}
			for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
				set[fmt.Sprintf("%d:%s", id, w)] = true
			}
		}
		return set
	}
	index := read(`SELECT doc, term FROM fts_terms`)
	want := read(`SELECT id, body FROM messages WHERE kind = 0 AND deleted = 0`)
	for k := range want {
		if !index[k] {
			t.Errorf("index lacks %s", k)
		}
	}
	for k := range index {
		if !want[k] {
			t.Errorf("index holds stale %s", k)
		}
	}
}
