package matrix_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
)

// TestLateRoomKeyReplacesUndecryptable: bob's Megolm key for a message
// reaches alice after the message itself (a proxy between alice and the real
// Dendrite withholds to-device events from her /sync for a while). Alice's
// connector first reports the message as undecryptable with a notice, then,
// when the original key (index 0 of bob's session) arrives, re-emits it
// decrypted under the same event ID. Through a real inbox the user ends with
// one row holding the text, not a lock notice plus a second row.
func TestLateRoomKeyReplacesUndecryptable(t *testing.T) {
	lk := startLateKey(t)
	a, nio, proxy, room := lk.a, lk.nio, lk.proxy, lk.room
	evID := lk.sendLocked("late secret-5d1e")

	// The key arrives in a later sync; bob's typing makes that sync return
	// at once instead of after the long-poll timeout.
	proxy.Release()
	nio.MustDo(map[string]any{"op": "typing", "room": room, "on": true})
	got := a.wait(20*time.Second, "decrypted message", isLate(evID, false)).(protocols.MessageEvent).Message
	if got.Body != "late secret-5d1e" || got.Notice != "" || got.Encryption != protocols.EncE2EE ||
		got.Sender.ID != lk.bob || got.Chat.ID != protocols.ChatID(room) || got.Outgoing {
		t.Fatalf("decrypted message %+v", got)
	}
	if proxy.Releases() == 0 {
		t.Fatal("no sync carried the released keys")
	}
	// Later messages on the same session decrypt at once.
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "and one more"})
	a.waitMessage(20*time.Second, "and one more")
	if n := a.count(isLate(evID, false)); n != 1 {
		t.Fatalf("decrypted message emitted %d times", n)
	}
	assertOneRow(t, openInbox(t, a), evID, "late secret-5d1e", "and one more")
}

// TestLateRoomKeyAfterRestart: Polyglot is closed while a message waits for
// its key; the key comes in the first sync of the next run, and the message
// is still re-emitted decrypted (the waiting event is kept in the
// connector's database, not in memory).
func TestLateRoomKeyAfterRestart(t *testing.T) {
	lk := startLateKey(t)
	evID := lk.sendLocked("sent while locked secret-77ab")
	sess := lk.a.c.Session()
	lk.a.close()
	lk.proxy.Release()

	cfg2 := matrix.Config{UserID: lk.cfg.UserID, Homeserver: lk.proxy.URL(), AccessToken: sess.AccessToken,
		DeviceID: sess.DeviceID, DBPath: lk.cfg.DBPath, PickleKey: lk.cfg.PickleKey}
	a2 := connect(t, lk.d, cfg2)
	got := a2.wait(20*time.Second, "decrypted message after restart", isLate(evID, false)).(protocols.MessageEvent).Message
	if got.Body != "sent while locked secret-77ab" || got.Notice != "" || got.Sender.ID != lk.bob {
		t.Fatalf("decrypted message %+v", got)
	}
	if lk.proxy.Releases() == 0 {
		t.Fatal("no sync carried the released keys")
	}
	// Both runs' events, in order, through one inbox: one row with the text.
	in := openInbox(t, lk.a)
	for _, ev := range a2.events() {
		if err := in.Ingest("mx", ev); err != nil {
			t.Fatal(err)
		}
	}
	assertOneRow(t, in, evID, "sent while locked secret-77ab", "sent while locked secret-77ab")
}

// lateKey is alice (Polyglot, syncing through a SyncProxy) in an encrypted
// DM with bob (matrix-nio) on a real Dendrite.
type lateKey struct {
	d     *testserver.Dendrite
	a     *client
	cfg   matrix.Config
	nio   *testserver.NioPeer
	proxy *testserver.SyncProxy
	bob   string
	room  string
	t     *testing.T
}

func startLateKey(t *testing.T) *lateKey {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	nio := testserver.StartNioPeer(t, d, bob, "password-bob")
	proxy := testserver.StartSyncProxy(t, d.URL())
	cfg := cfgFor(t, alice, "password-alice")
	cfg.Homeserver = proxy.URL()
	a := connect(t, d, cfg)
	room := openDM(t, a, nio, bob, "l-1", "hello bob").Chat
	return &lateKey{d: d, a: a, cfg: cfg, nio: nio, proxy: proxy, bob: bob, room: string(room), t: t}
}

// sendLocked has bob send body while the proxy holds alice's to-device
// events back, so his new Megolm session's key (index 0, the message's
// index) does not reach her; it checks she shows the message as
// undecryptable, and returns its event ID.
func (lk *lateKey) sendLocked(body string) string {
	t := lk.t
	t.Helper()
	lk.proxy.Hold()
	evID := lk.nio.MustDo(map[string]any{"op": "send", "room": lk.room, "body": body})["event_id"].(string)
	first := lk.a.wait(20*time.Second, "undecryptable message", isLate(evID, true)).(protocols.MessageEvent).Message
	if first.Body != "" || !strings.Contains(first.Notice, "Unable to decrypt") || first.Sender.ID != lk.bob ||
		first.Chat.ID != protocols.ChatID(lk.room) || first.Encryption != protocols.EncE2EE {
		t.Fatalf("undecryptable message %+v", first)
	}
	if held := lk.proxy.HeldTypes(); !slices.Contains(held, "m.room.encrypted") {
		t.Fatalf("proxy held %v, want bob's olm-encrypted room key", held)
	}
	if n := lk.a.count(isLate(evID, false)); n != 0 {
		t.Fatalf("message decrypted while its key was withheld")
	}
	return evID
}

func isLate(evID string, undecryptable bool) func(protocols.Event) bool {
	return func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && m.Message.NetworkID == protocols.MessageID(evID) && m.Message.Undecryptable == undecryptable
	}
}

// assertOneRow: the conversation shows the message once, with its text, no
// notice, not marked edited, and preview is the conversation's preview.
func assertOneRow(t *testing.T, in *inbox.Inbox, evID, body, preview string) {
	t.Helper()
	ms := conversationOf(t, in, evID)
	shown := lines(ms)
	t.Logf("conversation:\n%s", strings.Join(shown, "\n"))
	var rows []inbox.Message
	for _, m := range ms {
		if m.NetworkID == evID {
			rows = append(rows, m)
		}
	}
	if len(rows) != 1 || rows[0].Body != body || rows[0].Notice != "" || rows[0].Edited {
		t.Fatalf("rows for the late message: %+v\n%s", rows, strings.Join(shown, "\n"))
	}
	c, err := in.Conversation(ms[0].Conversation)
	if err != nil {
		t.Fatal(err)
	}
	if c.Preview != preview {
		t.Fatalf("preview %q, want %q", c.Preview, preview)
	}
}

// TestLostRoomKeyRecoveredByKeyRequest: bob (a second Polyglot) shares his
// Megolm key with alice, but it never reaches her (the proxy loses her
// to-device events). Alice shows the message as undecryptable and sends
// m.room_key_request to bob; his connector, having shared that session with
// her device, forwards it (mautrix's key sharing), and alice's connector
// re-emits the message decrypted: the key request is what resolves it.
func TestLostRoomKeyRecoveredByKeyRequest(t *testing.T) {
	a, b, proxy, res := startPolyglotPair(t)
	ctx := context.Background()
	aliceAddr := protocols.Address{Network: protocols.Matrix, ID: a.c.Session().UserID}
	bob := b.c.Session().UserID

	proxy.DropUntil("/sendToDevice/m.room_key_request/")
	sent, err := b.c.Send(ctx, protocols.OutgoingMessage{ClientID: "k-2", To: aliceAddr, Chat: res.Chat, Body: "lost key secret-0c4f", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	first := a.wait(20*time.Second, "undecryptable message", isLate(string(sent.NetworkID), true)).(protocols.MessageEvent).Message
	if first.Body != "" || !strings.Contains(first.Notice, "Unable to decrypt") || first.Sender.ID != bob {
		t.Fatalf("undecryptable message %+v", first)
	}
	waitFor(t, 10*time.Second, "alice's key request", func() bool { return !proxy.Dropping() })
	if proxy.Dropped() == 0 {
		t.Fatal("the proxy lost no to-device event: the room key was not withheld")
	}
	got := a.wait(20*time.Second, "message decrypted with the forwarded key", isLate(string(sent.NetworkID), false)).(protocols.MessageEvent).Message
	if got.Body != "lost key secret-0c4f" || got.Notice != "" || got.Sender.ID != bob || got.Encryption != protocols.EncE2EE {
		t.Fatalf("decrypted message %+v", got)
	}
	assertOneRow(t, openInbox(t, a), string(sent.NetworkID), "lost key secret-0c4f", "lost key secret-0c4f")
}

// TestLateKeyForEditShowsNoLockRow: bob's message and his edit of it come
// without their key. The message gets the lock row; the edit (its cleartext
// m.relates_to says what it is) gets none. Once the key comes the message
// shows its text and then the edit applies: one row, edited.
func TestLateKeyForEditShowsNoLockRow(t *testing.T) {
	a, b, proxy, res := startPolyglotPair(t)
	ctx := context.Background()
	aliceAddr := protocols.Address{Network: protocols.Matrix, ID: a.c.Session().UserID}

	proxy.Hold()
	sent, err := b.c.Send(ctx, protocols.OutgoingMessage{ClientID: "e-1", To: aliceAddr, Chat: res.Chat, Body: "tpyo", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	edit, err := b.c.Edit(ctx, res.Chat, sent.NetworkID, "e-2", "typo fixed")
	if err != nil {
		t.Fatal(err)
	}
	a.wait(20*time.Second, "undecryptable message", isLate(string(sent.NetworkID), true))
	// Both graces are over once the edit's would have been shown.
	time.Sleep(3 * time.Second)
	locked := a.count(func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && m.Message.Undecryptable
	})
	if locked != 1 || a.count(isLate(string(edit.NetworkID), true)) != 0 {
		t.Fatalf("%d lock rows, want 1 (the message, not the edit):\n%s", locked, dumpEvents(a.events()))
	}

	proxy.Release()
	if err := b.c.SetTyping(ctx, res.Chat, true); err != nil {
		t.Fatal(err)
	}
	a.wait(20*time.Second, "decrypted message", isLate(string(sent.NetworkID), false))
	a.wait(20*time.Second, "bob's edit", func(ev protocols.Event) bool {
		e, ok := ev.(protocols.EditEvent)
		return ok && e.TargetID == sent.NetworkID && e.Body == "typo fixed" && e.NetworkID == edit.NetworkID
	})

	ms := conversationOf(t, openInbox(t, a), string(res.NetworkID))
	t.Logf("conversation:\n%s", strings.Join(lines(ms), "\n"))
	var rows []inbox.Message
	for _, m := range ms {
		if m.Notice != "" {
			t.Fatalf("a lock row stayed: %+v", m)
		}
		if m.Sender.ID == b.c.Session().UserID {
			rows = append(rows, m)
		}
	}
	if len(rows) != 1 || protocols.MessageID(rows[0].NetworkID) != sent.NetworkID || rows[0].Body != "typo fixed" || !rows[0].Edited {
		t.Fatalf("bob's rows: %+v", rows)
	}
}

// startPolyglotPair is alice (syncing through a SyncProxy) and bob, both
// Polyglot, in an encrypted DM that alice opened with a first message.
func startPolyglotPair(t *testing.T) (a, b *client, proxy *testserver.SyncProxy, first protocols.SendResult) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	proxy = testserver.StartSyncProxy(t, d.URL())
	cfg := cfgFor(t, alice, "password-alice")
	cfg.Homeserver = proxy.URL()
	a = connect(t, d, cfg)
	b = connect(t, d, cfgFor(t, bob, "password-bob"))
	ctx := context.Background()
	first, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "p-1", To: protocols.Address{Network: protocols.Matrix, ID: bob},
		Body: "hello bob", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	req := b.wait(20*time.Second, "invite", func(ev protocols.Event) bool {
		r, ok := ev.(protocols.RequestEvent)
		return ok && r.Chat.ID == first.Chat
	}).(protocols.RequestEvent)
	if err := b.c.AnswerRequest(ctx, req.From, req.Chat.ID, true); err != nil {
		t.Fatal(err)
	}
	b.waitMessage(30*time.Second, "hello bob")
	return a, b, proxy, first
}
