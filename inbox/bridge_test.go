package inbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// brConn is obConn that can also edit, delete, react and list a room's
// members, recording each call.
type brConn struct {
	*obConn
	amu     sync.Mutex
	actions []string
	members []protocols.Address
}

func (c *brConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: true, Edits: true, Reactions: true, Retractions: true, Groups: true}
}

func (c *brConn) record(s string) {
	c.amu.Lock()
	c.actions = append(c.actions, s)
	c.amu.Unlock()
}

func (c *brConn) did() []string {
	c.amu.Lock()
	defer c.amu.Unlock()
	return append([]string(nil), c.actions...)
}

func (c *brConn) Edit(_ context.Context, _ protocols.ChatID, target protocols.MessageID, client protocols.ClientID, body string) (protocols.SendResult, error) {
	c.record("edit " + string(target) + " " + body)
	return protocols.SendResult{NetworkID: protocols.MessageID("edit-" + client), Encryption: c.enc}, nil
}

func (c *brConn) Retract(_ context.Context, _ protocols.ChatID, target protocols.MessageID) error {
	c.record("delete " + string(target))
	return nil
}

func (c *brConn) React(_ context.Context, _ protocols.ChatID, target protocols.MessageID, key string, remove bool) error {
	c.record(fmt.Sprintf("react %s %s %v", target, key, remove))
	return nil
}

func (c *brConn) FileEncryption(protocols.Address) protocols.Encryption {
	return c.PeerEncryption(protocols.Address{})
}
func (c *brConn) UploadLimit(context.Context) (int64, error) { return 0, nil }

func (c *brConn) Members(context.Context, protocols.ChatID) ([]protocols.Address, error) {
	return c.members, nil
}

// brWorld: a Matrix room (account "mx", E2EE) with dave in it, and a 1:1
// XMPP chat with carol (account "xm", TLS only).
type brWorld struct {
	in         *Inbox
	path       string
	mx, xm     *brConn
	room, chat ConversationID
	n          int
}

var (
	brRoom  = protocols.Chat{ID: "!room:mx.example", Group: true, Name: "Family"}
	brDave  = protocols.Address{Network: protocols.Matrix, ID: "@dave:mx.example", Server: "mx.example"}
	brEve   = protocols.Address{Network: protocols.Matrix, ID: "@eve:mx.example", Server: "mx.example"}
	brCarol = protocols.Address{Network: protocols.XMPP, ID: "carol@xmpp.example", Server: "xmpp.example"}
)

func newBrWorld(t *testing.T) *brWorld {
	t.Helper()
	w := &brWorld{path: filepath.Join(t.TempDir(), "inbox.db")}
	w.open(t)
	w.online(t, true)
	// The room and the chat exist before the link.
	w.incoming(t, "mx", brRoom, brDave, "$old", "before the link")
	w.incoming(t, "xm", protocols.Chat{ID: protocols.ChatID(brCarol.ID)}, brCarol, "x-old", "hi alice")
	var err error
	if w.room, err = w.in.FindConversation("matrix:" + string(brRoom.ID)); err != nil {
		t.Fatal(err)
	}
	if w.chat, err = w.in.FindConversation("xmpp:" + brCarol.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.in.Decide(context.Background(), w.chat, Accept); err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	return w
}

func (w *brWorld) open(t *testing.T) {
	t.Helper()
	in, err := Open(w.path, Options{DownloadDir: filepath.Join(filepath.Dir(w.path), "downloads"), NewID: func() string { w.n++; return fmt.Sprintf("cid-%d-%d", time.Now().UnixNano(), w.n) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w.in = in
	w.mx = &brConn{obConn: newObConn(protocols.Matrix, protocols.EncE2EE), members: []protocols.Address{brDave}}
	w.xm = &brConn{obConn: newObConn(protocols.XMPP, protocols.EncTransport)}
	in.RegisterAccount("mx", protocols.Matrix, protocols.EncNone)
	in.RegisterAccount("xm", protocols.XMPP, protocols.EncTransport)
	in.Attach("mx", w.mx)
	in.Attach("xm", w.xm)
}

func (w *brWorld) online(t *testing.T, on bool, accounts ...string) {
	t.Helper()
	if len(accounts) == 0 {
		accounts = []string{"mx", "xm"}
	}
	st := protocols.ConnOffline
	if on {
		st = protocols.ConnOnline
	}
	for _, a := range accounts {
		if err := w.in.Ingest(a, protocols.ConnectionEvent{State: st}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *brWorld) incoming(t *testing.T, account string, chat protocols.Chat, from protocols.Address, id, body string) {
	t.Helper()
	enc := protocols.EncE2EE
	if account == "xm" {
		enc = protocols.EncTransport
	}
	m := protocols.Message{NetworkID: protocols.MessageID(id), Chat: chat, Sender: from, Body: body, Sent: time.Now(), Encryption: enc}
	if err := w.in.Ingest(account, protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
}

func (w *brWorld) link(t *testing.T) BridgeLink {
	t.Helper()
	a, err := w.in.ResolveBridgeLeg("matrix:" + string(brRoom.ID))
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.in.ResolveBridgeLeg("xmpp:" + brCarol.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.AddBridge(context.Background(), a, b, false); !errors.Is(err, ErrBridgeWeaker) {
		t.Fatalf("linking an E2EE room with a TLS-only chat without a yes: %v, want ErrBridgeWeaker", err)
	}
	l, err := w.in.AddBridge(context.Background(), a, b, true)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the link to go active", func() bool {
		l, err = w.in.Bridge(l.ID)
		return err == nil && l.State == "active"
	})
	return l
}

// bodies are the texts a connector sent, in order.
func bodies(c *brConn) []string {
	var out []string
	for _, m := range c.sends() {
		out = append(out, m.Body)
	}
	return out
}

func waitSent(t *testing.T, c *brConn, what string, match func(string) bool) protocols.OutgoingMessage {
	t.Helper()
	var got protocols.OutgoingMessage
	waitFor(t, what, func() bool {
		for _, m := range c.sends() {
			if match(m.Body) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

func TestBridgeRelaysBothWaysAfterTheNotices(t *testing.T) {
	w := newBrWorld(t)
	l := w.link(t)
	if l.Weakest != protocols.EncTransport || !l.Weaker {
		t.Fatalf("link shows %v weaker=%v, want TLS only and marked weaker", l.Weakest, l.Weaker)
	}
	// The notices went out first, into both conversations.
	for _, c := range []*brConn{w.mx, w.xm} {
		b := bodies(c)
		if len(b) != 1 || !strings.Contains(b[0], "relayed to") || !strings.Contains(b[0], "!stop") {
			t.Fatalf("%s sent %q, want exactly the link notice", c.net, b)
		}
	}
	// Nothing from before the link crosses.
	w.incoming(t, "mx", brRoom, brDave, "$1", "dinner at 8?")
	got := waitSent(t, w.xm, "dave's message on XMPP", func(s string) bool { return strings.HasSuffix(s, "dinner at 8?") })
	if got.Body != "@dave:mx.example (Matrix · E2EE): dinner at 8?" {
		t.Fatalf("relayed body %q", got.Body)
	}
	if got.Profile == nil || got.Profile.ID != brDave.ID || got.Profile.Name != "@dave:mx.example (Matrix · E2EE)" {
		t.Fatalf("relayed profile %+v, want dave on Matrix", got.Profile)
	}
	w.incoming(t, "xm", protocols.Chat{ID: protocols.ChatID(brCarol.ID)}, brCarol, "x1", "yes!")
	waitSent(t, w.mx, "carol's answer in the room", func(s string) bool { return s == "carol@xmpp.example (XMPP · TLS only): yes!" })
	for _, b := range append(bodies(w.xm), bodies(w.mx)...) {
		if strings.Contains(b, "before the link") || strings.Contains(b, "hi alice") {
			t.Fatalf("a message from before the link was relayed: %q", b)
		}
	}
	// The user's own message in the room crosses too, once.
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.room, Body: "I'll bring cake"}); err != nil {
		t.Fatal(err)
	}
	waitSent(t, w.xm, "the user's own message on XMPP", func(s string) bool { return strings.HasSuffix(s, "): I'll bring cake") })
	// A relay is never relayed back.
	waitFor(t, "the queue to drain", func() bool { l, _ := w.in.Bridge(l.ID); return l.Pending == 0 })
	if n := strings.Count(strings.Join(bodies(w.mx), "\n"), "yes!"); n != 1 {
		t.Fatalf("carol's message went into the room %d times", n)
	}
	if n := strings.Count(strings.Join(bodies(w.xm), "\n"), "dinner at 8?"); n != 1 {
		t.Fatalf("dave's message went to XMPP %d times", n)
	}
}

func TestBridgeEditsDeletesAndReactionsFollow(t *testing.T) {
	w := newBrWorld(t)
	w.link(t)
	w.incoming(t, "mx", brRoom, brDave, "$1", "dinner at 8?")
	relay := waitSent(t, w.xm, "the relay", func(s string) bool { return strings.HasSuffix(s, "dinner at 8?") })
	relayID := "net-" + string(relay.ClientID)
	waitFor(t, "the relay's network ID", func() bool {
		var n int
		_ = w.in.db.QueryRow(`SELECT count(*) FROM messages WHERE network_id = ?`, relayID).Scan(&n)
		return n == 1
	})
	if err := w.in.Ingest("mx", protocols.EditEvent{Chat: brRoom.ID, TargetID: "$1", From: brDave, Body: "dinner at 9?"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edit on XMPP", func() bool {
		return contains(w.xm.did(), "edit "+relayID+" @dave:mx.example (Matrix · E2EE): dinner at 9?")
	})
	// Carol reacts to the relayed copy: the reaction reaches dave's original.
	if err := w.in.Ingest("xm", protocols.ReactionEvent{Chat: protocols.ChatID(brCarol.ID), TargetID: protocols.MessageID(relayID), Key: "👍", From: brCarol}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reaction in the room", func() bool { return contains(w.mx.did(), "react $1 👍 false") })
	if err := w.in.Ingest("mx", protocols.DeleteEvent{Chat: brRoom.ID, TargetID: "$1", From: brDave}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delete on XMPP", func() bool { return contains(w.xm.did(), "delete "+relayID) })
	// Our own relay's edit and reaction did not bounce back.
	for _, a := range w.mx.did() {
		if strings.HasPrefix(a, "edit") || strings.HasPrefix(a, "delete") {
			t.Fatalf("a change bounced back into the room: %q", a)
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func TestBridgeStopNewcomersAndLoops(t *testing.T) {
	w := newBrWorld(t)
	l := w.link(t)
	// Eve joined after the notice: her first message stays in the room,
	// she is told, and what she writes afterwards crosses.
	w.incoming(t, "mx", brRoom, brEve, "$e1", "who's coming?")
	waitSent(t, w.mx, "eve's own notice", func(s string) bool { return strings.Contains(s, "@eve:mx.example: you joined after") })
	w.incoming(t, "mx", brRoom, brEve, "$e2", "count me in")
	waitSent(t, w.xm, "eve's second message", func(s string) bool { return strings.HasSuffix(s, "count me in") })
	// Dave says !stop: acknowledged, and his messages stay in the room.
	w.incoming(t, "mx", brRoom, brDave, "$s", "!stop")
	waitSent(t, w.mx, "the !stop answer", func(s string) bool { return strings.Contains(s, "no longer relayed") })
	w.incoming(t, "mx", brRoom, brDave, "$p", "private: my door code")
	// A message another bridge relayed (prefixed, or a Matrix
	// per-message profile) is not relayed again.
	w.incoming(t, "xm", protocols.Chat{ID: protocols.ChatID(brCarol.ID)}, brCarol, "x-loop", "bob (Matrix · E2EE): relayed elsewhere")
	m := protocols.Message{NetworkID: "$relayed", Chat: brRoom, Sender: brDave, Body: "from someone's bridge", Sent: time.Now(),
		Encryption: protocols.EncE2EE, Relayed: true}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
	w.incoming(t, "mx", brRoom, brEve, "$e3", "last one")
	waitSent(t, w.xm, "a later message", func(s string) bool { return strings.HasSuffix(s, "last one") })
	waitFor(t, "the queue to drain", func() bool { l, _ := w.in.Bridge(l.ID); return l.Pending == 0 })
	for _, b := range append(bodies(w.xm), bodies(w.mx)...) {
		for _, never := range []string{"door code", "who's coming?", "relayed elsewhere", "from someone's bridge", "!stop"} {
			if strings.Contains(b, never) && !strings.Contains(b, "[Polyglot bridge]") {
				t.Fatalf("relayed %q", b)
			}
		}
	}
}

func TestBridgeCyclesAndSameNetworkRefused(t *testing.T) {
	w := newBrWorld(t)
	l := w.link(t)
	if _, err := w.in.AddBridge(context.Background(), l.B, l.A, true); !errors.Is(err, ErrBridgeCycle) {
		t.Fatalf("linking the same pair again (B↔A): %v, want ErrBridgeCycle", err)
	}
	other := protocols.Chat{ID: "!other:mx.example", Group: true, Name: "Other"}
	w.incoming(t, "mx", other, brDave, "$o", "hello")
	oc, err := w.in.FindConversation("matrix:" + string(other.ID))
	if err != nil {
		t.Fatal(err)
	}
	legs, err := w.in.BridgeLegs(oc)
	if err != nil || len(legs) != 1 {
		t.Fatalf("legs %v %v", legs, err)
	}
	if _, err := w.in.AddBridge(context.Background(), legs[0], l.A, true); !errors.Is(err, ErrBridgeSameNetwork) {
		t.Fatalf("two Matrix rooms: %v, want ErrBridgeSameNetwork", err)
	}
	// A third conversation linked to B would close a circle through A only
	// if it were also linked to A: link it, then try to close the circle.
	if _, err := w.in.AddBridge(context.Background(), legs[0], l.B, true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.PlanBridge(l.A, legs[0]); !errors.Is(err, ErrBridgeSameNetwork) && !errors.Is(err, ErrBridgeCycle) {
		t.Fatalf("closing a circle: %v", err)
	}
	if ok, _ := w.in.bridgeConnected(l.A.Conversation, oc); !ok {
		t.Fatal("the room and the other room are connected through carol's chat")
	}
	if err := w.in.RemoveBridge(l.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.in.RemoveBridge(l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestBridgePausesOfflineAndCatchesUpOnceInOrderAfterRestart(t *testing.T) {
	w := newBrWorld(t)
	l := w.link(t)
	w.online(t, false, "xm")
	for i := 1; i <= 5; i++ {
		w.incoming(t, "mx", brRoom, brDave, fmt.Sprintf("$m%d", i), fmt.Sprintf("message %d", i))
	}
	waitFor(t, "the link to pause", func() bool {
		l, _ := w.in.Bridge(l.ID)
		return strings.HasPrefix(l.State, "paused") && l.Pending == 5
	})
	// The core stops while the link is paused, and starts again.
	w.in.Close()
	w.open(t)
	w.online(t, true)
	waitFor(t, "all five relayed", func() bool { l, _ := w.in.Bridge(l.ID); return l.Pending == 0 && len(w.xm.sends()) == 5 })
	for i, b := range bodies(w.xm) {
		if want := fmt.Sprintf("message %d", i+1); !strings.HasSuffix(b, want) {
			t.Fatalf("relay %d is %q, want %q (in order, once)", i, b, want)
		}
	}
}

func (c *brConn) Download(_ context.Context, att protocols.Attachment, dir string) (string, error) {
	path := filepath.Join(dir, att.Name)
	return path, os.WriteFile(path, []byte("photo bytes"), 0o600)
}

func TestBridgeRepliesAndFilesFollow(t *testing.T) {
	w := newBrWorld(t)
	w.link(t)
	w.incoming(t, "mx", brRoom, brDave, "$q", "who brings wine?")
	q := waitSent(t, w.xm, "the question", func(s string) bool { return strings.HasSuffix(s, "who brings wine?") })
	waitFor(t, "the question's network ID", func() bool {
		var n int
		_ = w.in.db.QueryRow(`SELECT count(*) FROM messages WHERE network_id = ?`, "net-"+string(q.ClientID)).Scan(&n)
		return n == 1
	})
	// carol answers the relayed copy: the answer goes into the room as a
	// reply to dave's original.
	m := protocols.Message{NetworkID: "x-a", Chat: protocols.Chat{ID: protocols.ChatID(brCarol.ID)}, Sender: brCarol, Body: "me!",
		ReplyTo: protocols.MessageID("net-" + string(q.ClientID)), Sent: time.Now(), Encryption: protocols.EncTransport}
	if err := w.in.Ingest("xm", protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
	a := waitSent(t, w.mx, "the answer", func(s string) bool { return strings.HasSuffix(s, ": me!") })
	if a.ReplyTo != "$q" {
		t.Fatalf("the relayed answer replies to %q, want dave's $q", a.ReplyTo)
	}
	// A photo crosses as a file, with its caption attributed.
	m = protocols.Message{NetworkID: "$p", Chat: brRoom, Sender: brDave, Body: "the cake", Sent: time.Now(), Encryption: protocols.EncE2EE,
		Attachments: []protocols.Attachment{{Name: "cake.jpg", MIME: "image/jpeg", Size: 11}}}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
	f := waitSent(t, w.xm, "the photo", func(s string) bool { return strings.HasSuffix(s, ": the cake") })
	if f.File == nil || f.File.Name != "cake.jpg" {
		t.Fatalf("the photo went as %+v, want the file cake.jpg", f.File)
	}
}

func TestBridgePausesRatherThanRelayWeaker(t *testing.T) {
	w := newBrWorld(t)
	l := w.link(t)
	w.xm.set(protocols.EncNone) // the XMPP leg lost even TLS
	w.incoming(t, "mx", brRoom, brDave, "$1", "secret plans")
	waitFor(t, "the link to pause", func() bool {
		l, _ := w.in.Bridge(l.ID)
		return strings.Contains(l.State, "weaker than the TLS only it was linked with") && l.Pending == 1
	})
	for _, b := range bodies(w.xm) {
		if strings.Contains(b, "secret plans") {
			t.Fatalf("relayed weaker: %q", b)
		}
	}
	w.xm.set(protocols.EncTransport)
	w.online(t, false, "xm")
	w.online(t, true, "xm")
	waitSent(t, w.xm, "the relay once TLS is back", func(s string) bool { return strings.HasSuffix(s, "secret plans") })
}

func TestBridgeRefusesARequest(t *testing.T) {
	w := newBrWorld(t)
	stranger := protocols.Address{Network: protocols.XMPP, ID: "mallory@evil.example", Server: "evil.example"}
	w.incoming(t, "xm", protocols.Chat{ID: protocols.ChatID(stranger.ID)}, stranger, "x-m", "link me")
	b, err := w.in.ResolveBridgeLeg("xmpp:" + stranger.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := w.in.ResolveBridgeLeg("matrix:" + string(brRoom.ID))
	if _, err := w.in.AddBridge(context.Background(), a, b, true); !errors.Is(err, ErrRequestPending) {
		t.Fatalf("linking a message request: %v, want ErrRequestPending", err)
	}
}
