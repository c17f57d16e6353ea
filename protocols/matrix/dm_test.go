package matrix_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
)

// TestEncryptedDMWithNio: Polyglot and matrix-nio (libolm) talk through a
// real Dendrite, encrypted both ways, and the server keeps only ciphertext.
// The same conversation then exercises receipts, typing, replies, edits,
// reactions, redactions and back-paging.
func TestEncryptedDMWithNio(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	nio := testserver.StartNioPeer(t, d, bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx := context.Background()

	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}
	if got := a.c.PeerEncryption(bobAddr); got != protocols.EncE2EE {
		t.Fatalf("PeerEncryption before any DM = %v, want e2ee (Send creates an encrypted DM)", got)
	}
	secret := "hello **bob** secret-7f3a"
	res, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "c-1", To: bobAddr, Body: secret, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if res.Encryption != protocols.EncE2EE || !strings.HasPrefix(string(res.Chat), "!") || res.NetworkID == "" {
		t.Fatalf("send result %+v", res)
	}
	room := res.Chat

	inv, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == string(room) })
	if err != nil {
		t.Fatalf("nio got no invite: %v", err)
	}
	if inv["sender"] != alice {
		t.Fatalf("invite from %v", inv["sender"])
	}
	nio.MustDo(map[string]any{"op": "join", "room": room})
	got, err := nio.WaitEvent(30*time.Second, bodyIs("hello **bob** secret-7f3a"))
	if err != nil {
		t.Fatalf("nio did not decrypt Polyglot's message: %v\n%v", err, nio.Events())
	}
	if got["encrypted"] != true || got["event_id"] != string(res.NetworkID) {
		t.Fatalf("nio saw %v", got)
	}
	if f, _ := got["formatted"].(string); !strings.Contains(f, "<strong>bob</strong>") {
		t.Fatalf("Markdown not rendered to formatted_body: %q", f)
	}

	// nio → Polyglot, encrypted.
	reply := nio.MustDo(map[string]any{"op": "send", "room": room, "body": "hi alice secret-91c2", "reply_to": res.NetworkID})
	m := a.waitMessage(30*time.Second, "hi alice secret-91c2")
	if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing || m.Sender.ID != bob {
		t.Fatalf("received %+v", m)
	}
	if m.Chat.ID != room || m.Chat.Group {
		t.Fatalf("DM chat = %+v, want 1:1 %s", m.Chat, room)
	}
	if m.ReplyTo != res.NetworkID || string(m.NetworkID) != reply["event_id"] {
		t.Fatalf("reply: ReplyTo=%q NetworkID=%q", m.ReplyTo, m.NetworkID)
	}
	a.wait(10*time.Second, "ChatEvent for the DM", func(ev protocols.Event) bool {
		c, ok := ev.(protocols.ChatEvent)
		return ok && c.Chat.ID == room && !c.Chat.Group && c.Encryption == protocols.EncE2EE
	})

	// Polyglot replies to nio's message.
	r2, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "c-2", To: bobAddr, Chat: room, Body: "a reply", ReplyTo: m.NetworkID, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := nio.WaitEvent(20*time.Second, bodyIs("a reply"))
	if err != nil {
		t.Fatal(err)
	}
	if rel, _ := ev["relates_to"].(map[string]any); rel == nil || rel["m.in_reply_to"].(map[string]any)["event_id"] != string(m.NetworkID) {
		t.Fatalf("reply relation lost: %v", ev)
	}

	// Read receipts and typing, both ways.
	if err := a.c.MarkRead(ctx, room, m.NetworkID); err != nil {
		t.Fatal(err)
	}
	if _, err := nio.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "receipt" && ev["user"] == alice && ev["event_id"] == string(m.NetworkID)
	}); err != nil {
		t.Fatalf("nio saw no read receipt: %v", err)
	}
	nio.MustDo(map[string]any{"op": "read", "room": room, "event": r2.NetworkID})
	a.wait(20*time.Second, "read receipt from bob", func(ev protocols.Event) bool {
		r, ok := ev.(protocols.ReceiptEvent)
		return ok && r.Kind == protocols.ReceiptRead && r.From.ID == bob && len(r.IDs) == 1 && r.IDs[0] == r2.NetworkID
	})
	if err := a.c.SetTyping(ctx, room, true); err != nil {
		t.Fatal(err)
	}
	if _, err := nio.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		us, _ := ev["users"].([]any)
		return ev["ev"] == "typing" && len(us) == 1 && us[0] == alice
	}); err != nil {
		t.Fatalf("nio saw no typing: %v", err)
	}
	nio.MustDo(map[string]any{"op": "typing", "room": room, "on": true})
	a.wait(20*time.Second, "typing from bob", func(ev protocols.Event) bool {
		ty, ok := ev.(protocols.TypingEvent)
		return ok && ty.Typing && ty.From.ID == bob && ty.Chat == room
	})
	nio.MustDo(map[string]any{"op": "typing", "room": room, "on": false})
	a.wait(20*time.Second, "typing stopped", func(ev protocols.Event) bool {
		ty, ok := ev.(protocols.TypingEvent)
		return ok && !ty.Typing && ty.From.ID == bob
	})

	// Edits both ways.
	edit := nio.MustDo(map[string]any{"op": "send", "room": room, "body": "hi alice (edited)", "edit_of": m.NetworkID})
	a.wait(20*time.Second, "edit from bob", func(ev protocols.Event) bool {
		e, ok := ev.(protocols.EditEvent)
		return ok && e.TargetID == m.NetworkID && e.Body == "hi alice (edited)" && string(e.NetworkID) == edit["event_id"]
	})
	if _, err := a.c.Edit(ctx, room, r2.NetworkID, "c-3", "a better reply"); err != nil {
		t.Fatal(err)
	}
	if _, err := nio.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		rel, _ := ev["relates_to"].(map[string]any)
		return ev["ev"] == "message" && rel != nil && rel["rel_type"] == "m.replace" && rel["event_id"] == string(r2.NetworkID)
	}); err != nil {
		t.Fatalf("nio saw no edit: %v", err)
	}

	// Reactions both ways, and removing ours.
	nio.MustDo(map[string]any{"op": "react", "room": room, "target": r2.NetworkID, "key": "👍"})
	a.wait(20*time.Second, "reaction from bob", func(ev protocols.Event) bool {
		r, ok := ev.(protocols.ReactionEvent)
		return ok && r.TargetID == r2.NetworkID && r.Key == "👍" && r.From.ID == bob && !r.Remove
	})
	if err := a.c.React(ctx, room, m.NetworkID, "🎉", false); err != nil {
		t.Fatal(err)
	}
	react, err := nio.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "reaction" && ev["target"] == string(m.NetworkID) && ev["key"] == "🎉"
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.c.React(ctx, room, m.NetworkID, "🎉", true); err != nil {
		t.Fatal(err)
	}
	if _, err := nio.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "redaction" && ev["redacts"] == react["event_id"]
	}); err != nil {
		t.Fatalf("reaction removal not seen: %v", err)
	}

	// Redactions both ways.
	gone := nio.MustDo(map[string]any{"op": "send", "room": room, "body": "oops"})
	a.waitMessage(20*time.Second, "oops")
	nio.MustDo(map[string]any{"op": "redact", "room": room, "target": gone["event_id"]})
	a.wait(20*time.Second, "redaction from bob", func(ev protocols.Event) bool {
		dl, ok := ev.(protocols.DeleteEvent)
		return ok && string(dl.TargetID) == gone["event_id"] && dl.From.ID == bob
	})
	if err := a.c.Retract(ctx, room, r2.NetworkID); err != nil {
		t.Fatal(err)
	}
	if _, err := nio.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "redaction" && ev["redacts"] == string(r2.NetworkID)
	}); err != nil {
		t.Fatalf("nio saw no redaction: %v", err)
	}

	// Back-paging: more than one page, oldest first overall, decrypted.
	for i := 0; i < 12; i++ {
		nio.MustDo(map[string]any{"op": "send", "room": room, "body": "page " + string(rune('a'+i))})
	}
	a.waitMessage(30*time.Second, "page l")
	var bodies []string
	before, pages := "", 0
	for {
		page, err := a.c.FetchHistory(ctx, room, before, 5)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		var chunk []string
		for _, hm := range page.Messages {
			if hm.Undecryptable {
				t.Fatalf("history message undecryptable: %+v", hm)
			}
			if hm.EditOf == "" {
				chunk = append(chunk, hm.Body)
			}
		}
		bodies = append(chunk, bodies...)
		if page.Before == "" || pages > 20 {
			break
		}
		before = page.Before
	}
	joined := strings.Join(bodies, "|")
	if pages < 3 || !strings.Contains(joined, "hello bob secret-7f3a|hi alice secret-91c2") ||
		!strings.HasSuffix(joined, "page j|page k|page l") {
		t.Fatalf("history over %d pages: %s", pages, joined)
	}

	// The server stored only ciphertext for this DM.
	assertOnlyCiphertext(t, d, string(room), "secret-7f3a", "secret-91c2")
}

// assertOnlyCiphertext checks Dendrite's sync DB: the room's messages are
// m.room.encrypted and no plaintext marker appears in any server file.
func assertOnlyCiphertext(t *testing.T, d *testserver.Dendrite, room string, markers ...string) {
	t.Helper()
	// Dendrite is still writing: wait for its lock instead of failing at once.
	db, err := sql.Open("sqlite", "file:"+d.DBPath("syncapi")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type, COUNT(*) FROM syncapi_output_room_events WHERE room_id=? GROUP BY type`, room)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for rows.Next() {
		var typ string
		var n int
		if err := rows.Scan(&typ, &n); err != nil {
			t.Fatal(err)
		}
		counts[typ] = n
	}
	rows.Close()
	if counts["m.room.message"] != 0 || counts["m.room.encrypted"] < 3 {
		t.Fatalf("server event types for the DM: %v", counts)
	}
	files, _ := filepath.Glob(filepath.Join(d.Dir(), "*.db*"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue // a -journal file the running server just removed
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range markers {
			if bytes.Contains(raw, []byte(mk)) {
				t.Fatalf("plaintext %q found in server file %s", mk, filepath.Base(f))
			}
		}
	}
}

// TestPeerEncryptionBeforeLogin: a message planned while the account is
// still logging in (a `polyglot send` right after start) is queued with
// the route's class as its floor; before login that class must be what a
// DM gets, not "none", or the message may later go out in the clear unasked.
func TestPeerEncryptionBeforeLogin(t *testing.T) {
	c, err := matrix.New(matrix.Config{UserID: "@alice:localhost", Password: "pw", PickleKey: make([]byte, 32), DBPath: t.TempDir() + "/matrix.db"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PeerEncryption(protocols.Address{Network: protocols.Matrix, ID: "@bob:localhost"}); got != protocols.EncE2EE {
		t.Fatalf("PeerEncryption before login = %v, want e2ee", got)
	}
}
