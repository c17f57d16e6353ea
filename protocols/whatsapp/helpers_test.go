package whatsapp

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"polyglot/inbox"
	"polyglot/protocols"
)

const testAccount = "whatsapp:+491700000001"

// ownIdentityKey is the phone's identity key the rig's link leaves in the
// store (whatsmeow keeps it; a later Save does not change it).
var ownIdentityKey = testKey(1)

// testStoreKey is the store key the rig's whatsapp.db is sealed under.
var testStoreKey = bytes.Repeat([]byte{0x5e}, StoreKeySize)

var (
	me    = types.NewJID("491700000001", types.DefaultUserServer)
	alice = types.NewJID("491711111111", types.DefaultUserServer)
	bob   = types.NewJID("491722222222", types.DefaultUserServer)
	group = types.NewJID("120363000000000001", types.GroupServer)
)

// rig is a linked connector (no socket: no WhatsApp server can run in
// tests) whose events go into a real inbox store on a temp SQLite file,
// the way the supervisor forwards them.
type rig struct {
	t    *testing.T
	c    *Connector
	in   *inbox.Inbox
	db   string
	mu   sync.Mutex
	seen []protocols.Event
	sent []sentMsg
	fail error // sendHook's answer while set
}

type sentMsg struct {
	to  types.JID
	msg *waE2E.Message
	id  types.MessageID
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	in, err := inbox.Open(filepath.Join(dir, "inbox.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	r := &rig{t: t, in: in, db: filepath.Join(dir, "accounts", "wa", "whatsapp.db")}
	r.open()
	return r
}

// open builds a connector on the rig's whatsapp.db (again, after a
// "restart") and starts forwarding its events into the inbox.
func (r *rig) open() {
	if err := createPrivate(r.db); err != nil { // as Link would
		r.t.Fatal(err)
	}
	c, err := New(Config{Account: testAccount, DBPath: r.db, StoreKey: testStoreKey, Accepted: r.in.Accepted, Logger: zerolog.Nop()})
	if err != nil {
		r.t.Fatal(err)
	}
	if !c.Linked() {
		// What a link leaves in whatsapp.db: a device with its ID (the
		// next open loads it, as after a restart).
		own := me
		own.Device = 7
		c.cli.Store.ID = &own
		c.cli.Store.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{}, AccountSignature: make([]byte, 64), AccountSignatureKey: ownIdentityKey[:], DeviceSignature: make([]byte, 64)}
		if err := c.cli.Store.Save(context.Background()); err != nil {
			r.t.Fatal(err)
		}
	}
	c.sendHook = func(_ context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail != nil {
			return whatsmeow.SendResponse{}, r.fail
		}
		r.sent = append(r.sent, sentMsg{to, msg, id})
		return whatsmeow.SendResponse{ID: id, Timestamp: time.Now()}, nil
	}
	r.c = c
	r.in.Attach(testAccount, c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-c.closed:
				return
			case ev := <-c.Events():
				if err := r.in.Ingest(testAccount, ev); err != nil {
					r.t.Errorf("ingest %T: %v", ev, err)
				}
				r.mu.Lock()
				r.seen = append(r.seen, ev)
				r.mu.Unlock()
			}
		}
	}()
	r.t.Cleanup(func() { c.Close(); <-done })
}

func (r *rig) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// dispatch hands an event to the connector exactly as whatsmeow does.
func (r *rig) dispatch(evt any) {
	r.t.Helper()
	if failed := r.c.cli.DangerousInternals().DispatchEvent(evt); failed {
		r.t.Fatalf("handler reported %T as not stored", evt)
	}
}

// waitFor polls until ok or fails after a deadline.
func (r *rig) waitFor(what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// event waits for the first emitted event of type T matching ok.
func event[T protocols.Event](r *rig, ok func(T) bool) T {
	r.t.Helper()
	var found T
	r.waitFor("a matching event", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ev := range r.seen {
			if e, is := ev.(T); is && ok(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func (r *rig) lastSent() sentMsg {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		r.t.Fatal("nothing was sent")
	}
	return r.sent[len(r.sent)-1]
}

// messages is the conversation holding networkID, oldest first.
func (r *rig) messages(networkID string) (inbox.Conversation, []inbox.Message) {
	r.t.Helper()
	var conv inbox.Conversation
	var out []inbox.Message
	r.waitFor("message "+networkID+" in the store", func() bool {
		convs, err := r.in.Conversations(inbox.Cursor{}, 100)
		if err != nil {
			r.t.Fatal(err)
		}
		// Requests are not in the list; they are conversations all the same.
		reqs, err := r.in.Requests()
		if err != nil {
			r.t.Fatal(err)
		}
		for _, q := range reqs {
			c, err := r.in.Conversation(q.Conversation)
			if err != nil {
				r.t.Fatal(err)
			}
			convs = append(convs, c)
		}
		for _, c := range convs {
			ms, err := r.in.Messages(c.ID, inbox.Cursor{}, 500)
			if err != nil {
				r.t.Fatal(err)
			}
			for _, m := range ms {
				if m.NetworkID == networkID {
					conv, out = c, ms
					return true
				}
			}
		}
		return false
	})
	return conv, out
}

func (r *rig) message(networkID string) inbox.Message {
	r.t.Helper()
	_, ms := r.messages(networkID)
	for _, m := range ms {
		if m.NetworkID == networkID {
			return m
		}
	}
	panic("unreachable")
}

var clock = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// incoming is a live message event as whatsmeow emits it after decrypting
// raw: wrappers (edits, device-sent) are unwrapped by whatsmeow's own code.
func incoming(chat, sender types.JID, id, push string, raw *waE2E.Message) *events.Message {
	clock = clock.Add(time.Minute)
	e := &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsFromMe: sender.User == me.User, IsGroup: chat.Server == types.GroupServer},
			ID:            id, PushName: push, Timestamp: clock,
		},
		RawMessage: raw,
	}
	return e.UnwrapRaw()
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: &s} }
