package whatsapp

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"polyglot/inbox"
	"polyglot/protocols"
)

// Hostile text: terminal escapes, an OSC 52 clipboard write, a bidi
// override, NUL-free control bytes. The store keeps it byte for byte; the
// TUI's sanitizer makes it inert on screen.
const (
	hostileBody    = "hi \x1b[2J\x1b]52;c;ZXZpbA==\x07 \u202eexe.pdf \x1b[31mred"
	hostilePush    = "Alice \x1b]0;pwned\x07\x1b[1m"
	hostileSubject = "Team \x1b[5m\u202e blink \x1b]8;;http://x\x07link"
)

// TestTextFromStrangerIsARequest: a first 1:1 message lands in Requests,
// named by the sender's push name, E2EE, with body and name unchanged.
func TestTextFromStrangerIsARequest(t *testing.T) {
	r := newRig(t)
	r.dispatch(incoming(alice, alice, "A1", hostilePush, text(hostileBody)))
	conv, ms := r.messages("A1")
	if !conv.Request {
		t.Fatalf("first message from a stranger: conversation %+v is not a request", conv)
	}
	m := ms[len(ms)-1]
	if m.Body != hostileBody || m.Encryption != protocols.EncE2EE || m.Network != protocols.WhatsApp || m.Outgoing {
		t.Fatalf("stored %+v", m)
	}
	if m.Sender.ID != alice.String() {
		t.Fatalf("sender %q, want %q", m.Sender.ID, alice.String())
	}
	reqs, err := r.in.Requests()
	if err != nil || len(reqs) != 1 || reqs[0].Name != hostilePush || reqs[0].From.ID != alice.String() {
		t.Fatalf("requests = %+v, %v; want one from %s named %q", reqs, err, alice, hostilePush)
	}
}

// TestReadAndTypingOnlyToAccepted: nothing goes back to a stranger; once
// accepted, the read receipt and typing go to the network (here: they
// reach the socket check, as no WhatsApp server runs in tests).
func TestReadAndTypingOnlyToAccepted(t *testing.T) {
	r := newRig(t)
	r.dispatch(incoming(alice, alice, "A1", "Alice", text("hello")))
	conv, _ := r.messages("A1")
	if err := r.c.MarkRead(r.c.ctx, protocols.ChatID(alice.String()), "A1"); err != nil {
		t.Fatalf("MarkRead to a stranger = %v, want nil (nothing sent)", err)
	}
	if err := r.c.SetTyping(r.c.ctx, protocols.ChatID(alice.String()), true); err != nil {
		t.Fatalf("SetTyping to a stranger = %v, want nil (nothing sent)", err)
	}
	if err := r.in.Decide(r.c.ctx, conv.ID, inbox.Accept); err != nil {
		t.Fatal(err)
	}
	if !r.in.Accepted(r.c.address(alice)) {
		t.Fatal("accepted sender not accepted")
	}
	if err := r.c.MarkRead(r.c.ctx, protocols.ChatID(alice.String()), "A1"); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("MarkRead to an accepted peer = %v, want an attempt (ErrNotConnected offline)", err)
	}
	if err := r.c.SetTyping(r.c.ctx, protocols.ChatID(alice.String()), true); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("SetTyping to an accepted peer = %v, want an attempt (ErrNotConnected offline)", err)
	}
}

// TestReplyEditRevokeReaction: the message kinds that refer to an earlier
// message, built with whatsmeow's own builders as a peer's phone sends
// them, change what the conversation shows.
func TestReplyEditRevokeReaction(t *testing.T) {
	r := newRig(t)
	r.dispatch(incoming(alice, alice, "A1", "Alice", text("first")))
	reply := &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
		Text: proto.String("a reply"),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("A1"), Participant: proto.String(alice.String()),
			QuotedMessage: text("first")},
	}}
	r.dispatch(incoming(alice, alice, "A2", "Alice", reply))
	if m := r.message("A2"); m.ReplyTo != "A1" || m.Body != "a reply" {
		t.Fatalf("reply stored as %+v", m)
	}

	// The peer's edit, as their phone builds it (an EditedMessage wrapper).
	edit := r.c.cli.BuildEdit(alice, "A1", text("first, edited "+hostileBody))
	r.dispatch(incoming(alice, alice, "A3", "Alice", edit))
	r.waitFor("the edit", func() bool { m := r.message("A1"); return m.Edited && m.Body == "first, edited "+hostileBody })

	r.dispatch(incoming(alice, alice, "A4", "Alice", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: &waCommon.MessageKey{RemoteJID: proto.String(alice.String()), FromMe: proto.Bool(false), ID: proto.String("A2")}, Text: proto.String("👍"),
		SenderTimestampMS: proto.Int64(clock.UnixMilli())}}))
	r.waitFor("the reaction", func() bool {
		m := r.message("A2")
		return len(m.Reactions) == 1 && m.Reactions[0].Key == "👍"
	})
	// A second reaction replaces the first (one per person on WhatsApp).
	r.dispatch(incoming(alice, alice, "A4b", "Alice", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: &waCommon.MessageKey{RemoteJID: proto.String(alice.String()), ID: proto.String("A2")}, Text: proto.String("❤️")}}))
	r.waitFor("the reaction replaced", func() bool {
		m := r.message("A2")
		return len(m.Reactions) == 1 && m.Reactions[0].Key == "❤️"
	})
	// An empty reaction takes it back.
	r.dispatch(incoming(alice, alice, "A5", "Alice", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: &waCommon.MessageKey{RemoteJID: proto.String(alice.String()), ID: proto.String("A2")}, Text: proto.String("")}}))
	r.waitFor("the reaction removed", func() bool { return len(r.message("A2").Reactions) == 0 })

	// The peer deletes their message for everyone: shown as deleted.
	revoke := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key: &waCommon.MessageKey{RemoteJID: proto.String(alice.String()), FromMe: proto.Bool(true), ID: proto.String("A2")}}}
	r.dispatch(incoming(alice, alice, "A6", "Alice", revoke))
	r.waitFor("the deletion", func() bool { return r.message("A2").Deleted })

	// None of these events became a message of its own.
	_, ms := r.messages("A1")
	if len(ms) != 2 {
		var bodies []string
		for _, m := range ms {
			bodies = append(bodies, m.NetworkID+"="+m.Body)
		}
		t.Fatalf("conversation holds %d messages, want 2: %v", len(ms), bodies)
	}
}

// TestImageIsAnAttachment: media arrive as metadata only (fetched on
// open), caption as the body.
func TestImageIsAnAttachment(t *testing.T) {
	r := newRig(t)
	img := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"),
		DirectPath: proto.String("/v/t62.7118-24/123?ccb=11-4"), MediaKey: []byte("0123456789abcdef0123456789abcdef"),
		FileSHA256: []byte("s"), FileEncSHA256: []byte("e"), FileLength: proto.Uint64(4242), Width: proto.Uint32(640), Height: proto.Uint32(480),
	}}
	r.dispatch(incoming(alice, alice, "IMG1", "Alice", img))
	m := r.message("IMG1")
	if m.Body != "look" || len(m.Attachments) != 1 {
		t.Fatalf("stored %+v", m)
	}
	a := m.Attachments[0]
	if a.Name != "image.jpg" || a.MIME != "image/jpeg" || a.Size != 4242 || a.URL != "/v/t62.7118-24/123?ccb=11-4" || a.Width != 640 || a.Key == "" {
		t.Fatalf("attachment %+v", a)
	}
	// Opening it needs the server; offline the answer says so.
	if _, err := r.c.Download(r.c.ctx, a, t.TempDir()); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("Download offline = %v, want ErrNotConnected", err)
	}
	if _, err := r.c.Download(r.c.ctx, protocols.Attachment{URL: "/x", Key: "not-ours"}, t.TempDir()); err == nil {
		t.Fatal("Download of a foreign attachment succeeded")
	}
}

// TestGroupSubjectAndMembers: a group message is a group conversation
// titled by its subject (hostile subject unchanged), lines by sender.
func TestGroupSubjectAndMembers(t *testing.T) {
	r := newRig(t)
	r.dispatch(&events.GroupInfo{JID: group, Name: &types.GroupName{Name: hostileSubject}})
	r.dispatch(incoming(group, bob, "G1", "Bob", text("hello group")))
	conv, ms := r.messages("G1")
	if conv.Kind != inbox.Group || conv.Title != hostileSubject {
		t.Fatalf("group conversation %+v, want kind group titled %q", conv, hostileSubject)
	}
	if m := ms[len(ms)-1]; m.Sender.ID != bob.String() || m.Body != "hello group" {
		t.Fatalf("group line %+v", m)
	}
}

// TestReceiptsTypingPresence: receipts move our message to delivered and
// read; typing shows on the conversation; presence is reported.
func TestReceiptsTypingPresence(t *testing.T) {
	r := newRig(t)
	// Our own message, sent from the phone, seen by this linked device.
	r.dispatch(incoming(alice, me, "M1", "", text("sent from my phone")))
	if m := r.message("M1"); !m.Outgoing {
		t.Fatalf("own message stored as incoming: %+v", m)
	}
	src := types.MessageSource{Chat: alice, Sender: alice}
	r.dispatch(&events.Receipt{MessageSource: src, MessageIDs: []types.MessageID{"M1"}, Type: types.ReceiptTypeDelivered, Timestamp: clock})
	r.waitFor("delivered", func() bool { return r.message("M1").State == inbox.StateDelivered })
	r.dispatch(&events.Receipt{MessageSource: src, MessageIDs: []types.MessageID{"M1"}, Type: types.ReceiptTypeRead, Timestamp: clock})
	r.waitFor("read", func() bool { return r.message("M1").State == inbox.StateRead })

	r.dispatch(&events.ChatPresence{MessageSource: src, State: types.ChatPresenceComposing})
	conv, _ := r.messages("M1")
	r.waitFor("typing", func() bool {
		c, err := r.in.Conversation(conv.ID)
		return err == nil && c.Typing
	})
	r.dispatch(&events.ChatPresence{MessageSource: src, State: types.ChatPresencePaused})
	r.waitFor("typing stopped", func() bool {
		c, err := r.in.Conversation(conv.ID)
		return err == nil && !c.Typing
	})
	r.dispatch(&events.Presence{From: alice, Unavailable: true, LastSeen: clock})
	event(r, func(e protocols.PresenceEvent) bool {
		return e.From.ID == alice.String() && e.State == protocols.PresenceOffline
	})
}

// TestHistorySync: a history blob (messages as WhatsApp stores them,
// parsed by whatsmeow's ParseWebMessage) is written in the background as
// historical messages, in order, in the right conversations.
func TestHistorySync(t *testing.T) {
	r := newRig(t)
	web := func(chat types.JID, id string, fromMe bool, participant string, at int64, body string) *waHistorySync.HistorySyncMsg {
		w := &waWeb.WebMessageInfo{
			Key:              &waCommon.MessageKey{RemoteJID: proto.String(chat.String()), FromMe: proto.Bool(fromMe), ID: proto.String(id)},
			Message:          text(body),
			MessageTimestamp: proto.Uint64(uint64(at)),
		}
		if participant != "" {
			w.Participant = proto.String(participant)
		}
		return &waHistorySync.HistorySyncMsg{Message: w}
	}
	base := clock.Add(-48 * time.Hour).Unix()
	hs := &events.HistorySync{Data: &waHistorySync.HistorySync{
		SyncType: waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
		Conversations: []*waHistorySync.Conversation{
			{ID: proto.String(alice.String()), Name: proto.String("Alice"), Messages: []*waHistorySync.HistorySyncMsg{
				// newest first, as WhatsApp sends them
				web(alice, "H3", false, "", base+30, "third "+hostileBody),
				web(alice, "H2", true, "", base+20, "second"),
				web(alice, "H1", false, "", base+10, "first"),
			}},
			{ID: proto.String(group.String()), Name: proto.String(hostileSubject), Messages: []*waHistorySync.HistorySyncMsg{
				web(group, "HG1", false, bob.String(), base+5, "old group line"),
			}},
		},
	}}
	r.dispatch(hs)
	_, ms := r.messages("H3")
	var got []string
	for _, m := range ms {
		got = append(got, m.NetworkID+":"+m.Body)
	}
	if strings.Join(got, "|") != "H1:first|H2:second|H3:third "+hostileBody {
		t.Fatalf("history conversation = %q", got)
	}
	if !ms[1].Outgoing || ms[0].Outgoing {
		t.Fatalf("directions wrong: %+v", ms)
	}
	event(r, func(e protocols.MessageEvent) bool { return e.Message.NetworkID == "H1" && e.Historical })
	conv, gms := r.messages("HG1")
	if conv.Title != hostileSubject || gms[0].Sender.ID != bob.String() {
		t.Fatalf("group from history: %+v %+v", conv, gms[0])
	}
}

func state(r *rig) inbox.AccountState {
	for _, s := range r.in.AccountStates() {
		if s.Account == testAccount {
			return s
		}
	}
	return inbox.AccountState{}
}

// TestConnectionStates: LoggedOut asks for a new link, with the reason
// (the accounts screen shows "login needed (link again …)");
// StreamReplaced, TemporaryBan and KeepAliveTimeout each say what
// happened.
func TestConnectionStates(t *testing.T) {
	cases := []struct {
		evt    any
		state  protocols.ConnState
		detail string
	}{
		{&events.LoggedOut{Reason: events.ConnectFailureLoggedOut}, protocols.ConnAuthFailed, "link again with `polyglot account add whatsapp`: this device was unlinked"},
		{&events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureMainDeviceGone}, protocols.ConnAuthFailed, "account is gone or locked"},
		{&events.StreamReplaced{}, protocols.ConnAuthFailed, "opened by another program"},
		{&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour}, protocols.ConnOffline, "temporarily banned"},
		{&events.KeepAliveTimeout{ErrorCount: 3, LastSuccess: clock}, protocols.ConnConnecting, "3 keep-alives missed"},
	}
	for _, tc := range cases {
		r := newRig(t)
		r.dispatch(tc.evt)
		r.waitFor("account state", func() bool { return state(r).State == tc.state && state(r).Detail != "" })
		if s := state(r); !strings.Contains(s.Detail, tc.detail) {
			t.Errorf("%T: state %v %q, want it to say %q", tc.evt, s.State, s.Detail, tc.detail)
		}
	}
	// LoggedOut is an auth failure: the supervisor waits for a new link
	// instead of retrying.
	e := loginNeeded("x")
	if !errors.Is(e, protocols.ErrAuthFailed) || !errors.Is(e, ErrNotLinked) {
		t.Fatalf("loginNeeded = %v: not ErrAuthFailed and ErrNotLinked", e)
	}
}

// TestClientOutdatedUpdatesOnce: a 405 fetches the current version, uses
// it and connects again; a second 405 says Polyglot must be updated.
func TestClientOutdatedUpdatesOnce(t *testing.T) {
	r := newRig(t)
	before := wastore.GetWAVersion()
	t.Cleanup(func() { wastore.SetWAVersion(before) })
	want := wastore.WAVersionContainer{2, 3000, 1234567890}
	fetched, reconnected := make(chan struct{}, 2), make(chan struct{}, 2)
	r.c.cfg.LatestVersion = func(ctx context.Context) (*wastore.WAVersionContainer, error) {
		fetched <- struct{}{}
		return &want, nil
	}
	release := make(chan struct{})
	r.c.reconnect = func(ctx context.Context) error { reconnected <- struct{}{}; <-release; return nil }
	r.dispatch(&events.ClientOutdated{})
	// The server drops the outdated session at once: while the update and
	// its reconnect run, that is not reported as the link going down.
	r.dispatch(&events.Disconnected{})
	waitChan(t, fetched, "version fetch")
	waitChan(t, reconnected, "reconnect")
	r.dispatch(&events.Presence{From: bob}) // a marker: events are emitted in order
	event(r, func(e protocols.PresenceEvent) bool { return e.From.ID == bob.String() })
	r.mu.Lock()
	for _, ev := range r.seen {
		if ce, ok := ev.(protocols.ConnectionEvent); ok {
			t.Errorf("during the version update: %+v", ce)
		}
	}
	r.mu.Unlock()
	close(release)
	if got := wastore.GetWAVersion(); got != want {
		t.Fatalf("version after update %v, want %v", got, want)
	}
	r.dispatch(&events.ClientOutdated{})
	r.waitFor("offline state", func() bool { return state(r).State == protocols.ConnOffline && state(r).Detail != "" })
	if s := state(r); !strings.Contains(s.Detail, "update Polyglot") {
		t.Fatalf("second 405: %q", s.Detail)
	}
	if len(fetched) != 0 || len(reconnected) != 0 {
		t.Fatal("second 405 fetched or reconnected again")
	}
}

func waitChan(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestNotLinkedIsLoginNeeded: an account whose store was never made (or
// was deleted) is an auth failure saying to link again, and opening it
// creates no store.
func TestNotLinkedIsLoginNeeded(t *testing.T) {
	db := filepath.Join(t.TempDir(), "whatsapp.db")
	_, err := New(Config{Account: testAccount, DBPath: db, StoreKey: testStoreKey})
	if !errors.Is(err, protocols.ErrAuthFailed) || !errors.Is(err, ErrNotLinked) || !strings.Contains(err.Error(), "link again") {
		t.Fatalf("New without a store = %v", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("New made a store: %v", err)
	}
}

// TestUnshownKindsSaySo: a message kind Polyglot cannot show yet is a
// line that says what it was, and one whatsmeow could not decrypt is
// marked undecryptable; protocol plumbing (key distribution) is no line.
func TestUnshownKindsSaySo(t *testing.T) {
	r := newRig(t)
	r.dispatch(incoming(alice, alice, "L1", "Alice", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(52.5), DegreesLongitude: proto.Float64(13.4)}}))
	if m := r.message("L1"); m.Notice != "a WhatsApp location message, which Polyglot cannot show yet" {
		t.Fatalf("location stored as %+v", m)
	}
	r.dispatch(incoming(alice, alice, "K1", "Alice", &waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{
		GroupID: proto.String(group.String())}}))
	r.dispatch(&events.UndecryptableMessage{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: alice, Sender: alice}, ID: "U1", Timestamp: clock.Add(time.Hour)}})
	_, ms := r.messages("U1")
	for _, m := range ms {
		if m.NetworkID == "K1" {
			t.Fatalf("key distribution became a line: %+v", m)
		}
		if m.NetworkID == "U1" && !strings.Contains(m.Notice, "could not be decrypted") {
			t.Fatalf("undecryptable stored as %+v", m)
		}
	}
}

// TestUnstoredMessageIsNotAcknowledged: when the store does not confirm a
// live message, the handler tells whatsmeow it failed (so no ack or
// receipt goes to the server, which delivers it again) and the session is
// ended, so the supervisor's reconnect receives it again.
func TestUnstoredMessageIsNotAcknowledged(t *testing.T) {
	old := commitWait
	commitWait = 300 * time.Millisecond
	t.Cleanup(func() { commitWait = old })
	db := filepath.Join(t.TempDir(), "whatsapp.db")
	if err := createPrivate(db); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Account: testAccount, DBPath: db, StoreKey: testStoreKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	own := me
	c.cli.Store.ID = &own
	if failed := c.cli.DangerousInternals().DispatchEvent(incoming(alice, alice, "X1", "Alice", text("lost?"))); !failed {
		t.Fatal("a message nobody stored was reported as handled")
	}
	deadline := time.After(5 * time.Second)
	var sawMessage bool
	for {
		select {
		case ev := <-c.Events():
			switch e := ev.(type) {
			case protocols.MessageEvent:
				sawMessage = e.Message.NetworkID == "X1"
			case protocols.ConnectionEvent:
				if !sawMessage || e.State != protocols.ConnOffline || !strings.Contains(e.Detail, "reconnecting to receive it again") {
					t.Fatalf("got %+v (message seen first: %v)", e, sawMessage)
				}
				return
			}
		case <-deadline:
			t.Fatal("no offline event after an unstored message")
		}
	}
}

// TestHistorySyncNotificationAcknowledgedWhenStored: the phone's history
// sync notification (its blob inline, zlib-compressed protobuf, as for the
// first bootstrap) is downloaded and parsed by whatsmeow, written into the
// store, and only then acknowledged with a hist_sync receipt.
func TestHistorySyncNotificationAcknowledgedWhenStored(t *testing.T) {
	r := newRig(t)
	blob, _ := proto.Marshal(&waHistorySync.HistorySync{
		SyncType: waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
		Conversations: []*waHistorySync.Conversation{{ID: proto.String(bob.String()), Messages: []*waHistorySync.HistorySyncMsg{{
			Message: &waWeb.WebMessageInfo{
				Key:              &waCommon.MessageKey{RemoteJID: proto.String(bob.String()), FromMe: proto.Bool(false), ID: proto.String("HB1")},
				Message:          text("from before the link"),
				MessageTimestamp: proto.Uint64(uint64(clock.Add(-time.Hour).Unix())),
			}}}}},
	})
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(blob)
	zw.Close()
	acked := make(chan bool, 1)
	r.c.histReceipt = func(_ context.Context, id types.MessageID) error {
		_, ms := r.messages("HB1") // stored before the receipt
		acked <- id == "N1" && len(ms) == 1
		return nil
	}
	notif := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
		HistorySyncNotification: &waE2E.HistorySyncNotification{
			SyncType:                          waE2E.HistorySyncType_INITIAL_BOOTSTRAP.Enum(),
			InitialHistBootstrapInlinePayload: z.Bytes(),
		}}}
	r.dispatch(incoming(me, me, "N1", "", notif))
	select {
	case ok := <-acked:
		if !ok {
			t.Fatal("hist_sync receipt for the wrong message, or before the history was stored")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the history sync was never acknowledged")
	}
	if m := r.message("HB1"); m.Body != "from before the link" || m.Sender.ID != bob.String() {
		t.Fatalf("history message %+v", m)
	}
}
