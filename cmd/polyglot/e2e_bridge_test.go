package main

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
)

// bridgeWorld is where the client-side bridge tests start: alice's
// encrypted Matrix room "Family" with bob (matrix-nio) in it, made with
// her other client before Polyglot first logged in; her XMPP contact
// carol (slixmpp); and `polyglot serve` with both of alice's accounts and
// the room linked to the chat with carol.
type bridgeWorld struct {
	t      *testing.T
	d      *testserver.Dendrite
	x      *testserver.Prosody
	p      *profile
	core   *serveProc
	bob    *testserver.NioPeer
	bobID  string
	carol  *testserver.Peer
	room   string
	linkID string
}

const (
	carolJID  = "carol@localhost"
	carolPass = "carol-xp-br4"
)

func startBridgeWorld(t *testing.T) *bridgeWorld {
	t.Helper()
	w := &bridgeWorld{t: t}
	w.d = testserver.StartDendrite(t)
	aliceID := w.d.CreateUser("alice", "alice-pw-br1")
	w.bobID = w.d.CreateUser("bob", "bob-pw-br2")
	aliceOther := testserver.StartNioPeer(t, w.d, aliceID, "alice-pw-br1")
	w.room = aliceOther.MustDo(map[string]any{"op": "create_room", "name": "Family", "invite": []string{w.bobID}})["room"].(string)
	w.bob = testserver.StartNioPeer(t, w.d, w.bobID, "bob-pw-br2")
	if _, err := w.bob.WaitEvent(60*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == w.room }); err != nil {
		t.Fatal(err)
	}
	w.bob.MustDo(map[string]any{"op": "join", "room": w.room})
	aliceOther.Stop()

	w.x = testserver.StartProsody(t)
	w.x.MakeContacts("alice", "alice-xp-br3", "carol", carolPass)
	w.carol = w.x.StartPeer(carolJID, carolPass)
	t.Cleanup(w.carol.Close)

	w.p = newProfile(t)
	addMatrixAccount(t, w.p, w.d, aliceID, "alice-pw-br1")
	addXMPPAccount(t, w.p, w.x, "alice", "alice-xp-br3")
	w.core = startServe(t, w.p)

	// The room is known once the first sync stored it: link then. An
	// E2EE room with a TLS-only chat needs --allow-weaker.
	out, stderr, code := w.bridgeAddWhenKnown("matrix:"+w.room, "xmpp:"+carolJID)
	if code != 3 || !strings.Contains(stderr, "--allow-weaker") {
		t.Fatalf("bridge add without --allow-weaker: exit %d: %s%s", code, out, stderr)
	}
	out, stderr, code = w.p.run("", "bridge", "add", "matrix:"+w.room, "xmpp:"+carolJID, "--allow-weaker")
	if code != 0 {
		t.Fatalf("bridge add: exit %d: %s%s", code, out, stderr)
	}
	w.linkID, _, _ = strings.Cut(out, "\t")
	if !strings.Contains(out, "TLS only (weaker leg confirmed)") {
		t.Fatalf("bridge add printed %q: want the link's weakest class, marked as confirmed", out)
	}
	w.waitList("the link to go active", func(l string) bool { return strings.Contains(l, "\tactive") })
	return w
}

// bridgeAddWhenKnown runs `bridge add` until the room is among alice's
// conversations (exit 3 "no room" before the first sync).
func (w *bridgeWorld) bridgeAddWhenKnown(a, b string) (string, string, int) {
	w.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, stderr, code := w.p.run("", "bridge", "add", a, b)
		if !strings.Contains(stderr, "no room") || time.Now().After(deadline) {
			return out, stderr, code
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitList polls `bridge list` until its line for the link matches.
func (w *bridgeWorld) waitList(what string, ok func(line string) bool) {
	w.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, stderr, code := w.p.run("", "bridge", "list")
		if code != 0 {
			w.t.Fatalf("bridge list: exit %d: %s", code, stderr)
		}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(l, w.linkID+"\t") && ok(l) {
				return
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: bridge list says\n%s", what, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// bobSays sends body into the room as bob and returns its event ID.
func (w *bridgeWorld) bobSays(body string) string {
	w.t.Helper()
	return w.bob.MustDo(map[string]any{"op": "send", "room": w.room, "body": body})["event_id"].(string)
}

// bobSees waits for a message from alice in the room that ends with text.
func (w *bridgeWorld) bobSees(text string) map[string]any {
	w.t.Helper()
	ev, err := w.bob.WaitEvent(90*time.Second, func(ev map[string]any) bool {
		body, _ := ev["body"].(string)
		return ev["ev"] == "message" && ev["room"] == w.room && ev["sender"] != w.bobID && strings.HasSuffix(body, text)
	})
	if err != nil {
		w.t.Fatalf("bob never saw %q: %v", text, err)
	}
	return ev
}

// bobsView lists the bodies of alice's messages in the room, in order.
func (w *bridgeWorld) bobsView() []string {
	var out []string
	for _, ev := range w.bob.Events() {
		if ev["ev"] == "message" && ev["room"] == w.room && ev["sender"] != w.bobID {
			b, _ := ev["body"].(string)
			out = append(out, b)
		}
	}
	return out
}

// carolSees waits until carol got a message that ends with text.
func (w *bridgeWorld) carolSees(text string) testserver.PeerEvent {
	w.t.Helper()
	var got testserver.PeerEvent
	waitLong(w.t, "carol to see "+text, func() bool {
		for _, e := range w.carol.Received() {
			if strings.HasSuffix(e.Body, text) {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

func (w *bridgeWorld) carolsView() []string {
	var out []string
	for _, e := range w.carol.Received() {
		if e.Carbon == "" { // her own messages from her other clients
			out = append(out, e.Body)
		}
	}
	return out
}

func (w *bridgeWorld) carolSays(body string) {
	w.t.Helper()
	w.carol.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": body})
}

// waitLong polls cond until it holds; the bound is far above what a
// loaded machine needs.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func indexOf(xs []string, match func(string) bool) int {
	for i, x := range xs {
		if match(x) {
			return i
		}
	}
	return -1
}

// TestBridgeMatrixRoomAndXMPPChat links alice's encrypted Matrix room with
// her XMPP chat with carol through `polyglot serve`, and checks from the
// peers' side: the notices come first, each sees the other's messages with
// the sender's name, network and class, the Matrix leg stays end-to-end
// encrypted, an edit, a reaction and a delete follow, bob's !stop keeps
// his messages in the room, and removing the link stops relaying at once.
func TestBridgeMatrixRoomAndXMPPChat(t *testing.T) {
	w := startBridgeWorld(t)

	bobNotice := w.bobSees("to allow it again.")
	if bobNotice["encrypted"] != true || !strings.Contains(bobNotice["body"].(string), "relayed to \"carol") {
		t.Fatalf("the room's notice: %v", bobNotice)
	}
	w.carolSees("to allow it again.")

	dinner := w.bobSays("dinner at 8?")
	relayed := w.carolSees("dinner at 8?")
	if !strings.HasSuffix(relayed.Body, " (Matrix · E2EE): dinner at 8?") || !strings.Contains(relayed.Body, "bob") {
		t.Fatalf("carol got %q: want bob's name, Matrix and E2EE in front", relayed.Body)
	}
	w.carolSays("yes, see you")
	got := w.bobSees("yes, see you")
	if got["body"] != "carol@localhost (XMPP · TLS only): yes, see you" || got["encrypted"] != true {
		t.Fatalf("bob got %v: want carol's message with her address, XMPP and TLS only in front, end-to-end encrypted", got)
	}
	if prof, _ := got["profile"].(map[string]any); prof == nil || prof["displayname"] != "carol@localhost (XMPP · TLS only)" || prof["has_fallback"] != true {
		t.Fatalf("the relay into the room carries no per-message profile: %v", got["profile"])
	}
	// The notices went before the first relayed message, on both sides.
	bv, cv := w.bobsView(), w.carolsView()
	if n, r := indexOf(bv, func(s string) bool { return strings.Contains(s, "[Polyglot bridge]") }), indexOf(bv, func(s string) bool { return strings.HasSuffix(s, "yes, see you") }); n < 0 || n > r {
		t.Fatalf("bob's view: the notice is not before the first relay: %q", bv)
	}
	if n, r := indexOf(cv, func(s string) bool { return strings.Contains(s, "[Polyglot bridge]") }), indexOf(cv, func(s string) bool { return strings.HasSuffix(s, "dinner at 8?") }); n < 0 || n > r {
		t.Fatalf("carol's view: the notice is not before the first relay: %q", cv)
	}
	w.assertServerHoldsNoPlaintext("yes, see you", "dinner at 8?")

	// An edit follows; carol's reaction reaches bob's original; a delete
	// follows.
	w.bob.MustDo(map[string]any{"op": "send", "room": w.room, "body": "dinner at 9?", "edit_of": dinner})
	fixed := w.carol.Must(90*time.Second, "the edit", func(e testserver.PeerEvent) bool {
		return e.Replace == relayed.ID && strings.HasSuffix(e.Body, "dinner at 9?")
	})
	if !strings.Contains(fixed.Body, "(Matrix · E2EE)") {
		t.Fatalf("the edit lost its attribution: %q", fixed.Body)
	}
	w.carol.Send(map[string]any{"op": "send", "to": "alice@localhost", "reactions": map[string]any{"id": relayed.ID, "keys": []string{"👍"}}})
	if _, err := w.bob.WaitEvent(90*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "reaction" && ev["target"] == dinner && ev["key"] == "👍"
	}); err != nil {
		t.Fatalf("carol's reaction did not reach bob's message: %v", err)
	}
	w.bob.MustDo(map[string]any{"op": "redact", "room": w.room, "target": dinner})
	w.carol.Must(90*time.Second, "the delete", func(e testserver.PeerEvent) bool { return e.Retract == relayed.ID })

	// bob says !stop: told so, and his messages stay in the room until he
	// says !start.
	w.bobSays("!stop")
	w.bobSees("Say !start to allow it again.")
	w.bobSays("the door code is 4711")
	w.bobSays("!start")
	w.bobSees("Say !stop to stop it.")
	w.bobSays("back in")
	w.carolSees("back in")
	for _, b := range w.carolsView() {
		if strings.Contains(b, "4711") || !strings.HasPrefix(b, "[Polyglot bridge]") && (strings.Contains(b, "!stop") || strings.Contains(b, "!start")) {
			t.Fatalf("carol got %q after bob said !stop", b)
		}
	}

	// Removing the link stops relaying at once: what bob says next is
	// stored by alice's Polyglot and goes nowhere.
	out, stderr, code := w.p.run("", "bridge", "remove", w.linkID)
	if code != 0 || !strings.Contains(out, "removed link "+w.linkID) {
		t.Fatalf("bridge remove: exit %d: %s%s", code, out, stderr)
	}
	if out, _, _ := w.p.run("", "bridge", "list"); strings.TrimSpace(out) != "" {
		t.Fatalf("bridge list after remove: %q", out)
	}
	if _, stderr, code := w.p.run("", "bridge", "remove", w.linkID); code != 3 || !strings.Contains(stderr, "no link") {
		t.Fatalf("removing it again: exit %d: %s", code, stderr)
	}
	w.bobSays("after the unlink")
	waitLong(t, "alice's Polyglot to store bob's last message", func() bool {
		out, _, _ := w.p.run("", "history", "matrix:"+w.room, "--limit", "5")
		return strings.Contains(out, "after the unlink")
	})
	for _, b := range w.carolsView() {
		if strings.Contains(b, "after the unlink") {
			t.Fatalf("relayed after the link was removed: %q", b)
		}
	}
}

// assertServerHoldsNoPlaintext reads Dendrite's room events: the relayed
// texts are not there in the clear, and the room's messages are
// m.room.encrypted.
func (w *bridgeWorld) assertServerHoldsNoPlaintext(texts ...string) {
	w.t.Helper()
	db, err := sql.Open("sqlite", "file:"+w.d.DBPath("roomserver")+"?mode=ro")
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	var encrypted, all int
	if err := db.QueryRow(`SELECT count(*), coalesce(sum(t.event_type = 'm.room.encrypted'), 0) FROM roomserver_events e
		JOIN roomserver_event_types t USING (event_type_nid)`).Scan(&all, &encrypted); err != nil {
		w.t.Fatal(err)
	}
	if encrypted == 0 {
		w.t.Fatalf("the server holds no encrypted event of the room (of %d events)", all)
	}
	for _, s := range texts {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM roomserver_event_json WHERE event_json LIKE ?`, "%"+s+"%").Scan(&n); err != nil {
			w.t.Fatal(err)
		}
		if n > 0 {
			w.t.Fatalf("the Matrix server holds %q in the clear", s)
		}
	}
}

// TestBridgeCatchesUpOnceInOrderAcrossRestartAndOutage: while messages flow
// both ways, the XMPP server goes down and comes back, and the core is
// killed and started again. Each message crosses exactly once, in order,
// as the peers see it.
func TestBridgeCatchesUpOnceInOrderAcrossRestartAndOutage(t *testing.T) {
	w := startBridgeWorld(t)
	w.carolSees("to allow it again.")
	w.bobSees("to allow it again.")

	w.bobSays("b1")
	w.carolSays("c1")
	w.carolSees(": b1")
	w.bobSees(": c1")

	// The XMPP server goes away: bob's messages wait in the link.
	w.x.Stop()
	w.carol.Close()
	w.bobSays("b2")
	w.bobSays("b3")
	w.waitList("the link to pause", func(l string) bool { return strings.Contains(l, "paused") && strings.Contains(l, "to relay") })
	w.x.Start()
	w.carol = w.x.StartPeer(carolJID, carolPass)
	t.Cleanup(w.carol.Close)
	w.carolSays("c2")

	// The core dies while messages flow, and starts again.
	w.bobSays("b4")
	if err := w.core.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.core.wait()
	w.bobSays("b5")
	w.carolSays("c3")
	w.core = startServe(t, w.p)
	w.bobSays("b6")
	w.carolSays("c4")

	w.carolSees(": b6")
	w.bobSees(": c4")
	w.waitList("the queue to drain", func(l string) bool { return strings.Contains(l, "\tactive") && !strings.Contains(l, "to relay") })
	check := func(who string, view []string, want []string) {
		t.Helper()
		var got []string
		for _, b := range view {
			if _, text, ok := strings.Cut(b, "): "); ok && !strings.Contains(b, "[Polyglot bridge]") {
				got = append(got, text)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s saw %q, want %q: each once, in order", who, got, want)
		}
	}
	// carol's peer restarted with the server: what reached her before is
	// in the first peer's log, the rest in this one's.
	check("carol (after the outage)", w.carolsView(), []string{"b2", "b3", "b4", "b5", "b6"})
	check("bob", w.bobsView(), []string{"c1", "c2", "c3", "c4"})
}

// TestBridgeTwoBridgesDoNotAmplify: carol runs a Polyglot of her own with
// the same pair linked the other way round (the room ↔ her chat with
// alice). Each message reaches the other side once per bridge and never
// comes back: nothing amplifies. Linking the pair again on alice's side
// (B↔A) is refused as a cycle.
func TestBridgeTwoBridgesDoNotAmplify(t *testing.T) {
	w := startBridgeWorld(t)
	w.bobSees("to allow it again.")

	// carol's Matrix account joins the room with her other client, before
	// her Polyglot first logs in.
	carolMX := w.d.CreateUser("carol", "carol-pw-br5")
	carolOther := testserver.StartNioPeer(t, w.d, carolMX, "carol-pw-br5")
	w.bob.MustDo(map[string]any{"op": "invite", "room": w.room, "user": carolMX})
	if _, err := carolOther.WaitEvent(60*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == w.room }); err != nil {
		t.Fatal(err)
	}
	carolOther.MustDo(map[string]any{"op": "join", "room": w.room})
	carolOther.Stop()
	q := newProfile(t)
	addMatrixAccount(t, q, w.d, carolMX, "carol-pw-br5")
	addXMPPAccount(t, q, w.x, "carol", carolPass)
	startServe(t, q)
	carolsBridge := &bridgeWorld{t: t, p: q}
	out, stderr, code := carolsBridge.bridgeAddWhenKnown("matrix:"+w.room, "xmpp:alice@localhost")
	if code == 3 && strings.Contains(stderr, "--allow-weaker") {
		out, stderr, code = q.run("", "bridge", "add", "matrix:"+w.room, "xmpp:alice@localhost", "--allow-weaker")
	}
	if code != 0 {
		t.Fatalf("carol's bridge add: exit %d: %s%s", code, out, stderr)
	}
	carolsBridge.linkID, _, _ = strings.Cut(out, "\t")
	carolsBridge.waitList("carol's link to go active", func(l string) bool { return strings.Contains(l, "\tactive") })

	// alice linking the pair again, the other way round, is a cycle.
	if _, stderr, code := w.p.run("", "bridge", "add", "xmpp:"+carolJID, "matrix:"+w.room, "--allow-weaker"); code != 3 || !strings.Contains(stderr, "cycle") {
		t.Fatalf("B↔A next to A↔B: exit %d: %s", code, stderr)
	}

	// alice's XMPP messages to carol are OMEMO now (carol's Polyglot has
	// a device): what carol received is read from her Polyglot.
	carolsView := func() []string {
		out, _, _ := q.run("", "history", "xmpp:alice@localhost", "--json")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var m struct {
				Body     string `json:"body"`
				Outgoing bool   `json:"outgoing"`
			}
			if json.Unmarshal([]byte(l), &m) == nil && !m.Outgoing {
				got = append(got, m.Body)
			}
		}
		return got
	}
	w.bobSays("loop?")
	w.carolSays("ping back")
	// A sentinel through both bridges: anything amplified would be ahead
	// of it in their queues.
	w.bobSays("sentinel")
	waitLong(t, "carol to get the sentinel from alice", func() bool { return count(carolsView(), ": sentinel") == 1 })
	waitLong(t, "both bridges to relay carol's message into the room", func() bool {
		return count(w.bobsView(), "ping back") == 2
	})
	w.waitList("alice's queue to drain", func(l string) bool { return !strings.Contains(l, "to relay") })
	carolsBridge.waitList("carol's queue to drain", func(l string) bool { return !strings.Contains(l, "to relay") })
	if n := count(w.bobsView(), "loop?"); n != 0 {
		t.Fatalf("bob's own message came back into the room %d times: %q", n, w.bobsView())
	}
	if n := count(w.bobsView(), "ping back"); n != 2 {
		t.Fatalf("carol's message is in the room %d times, want once per bridge: %q", n, w.bobsView())
	}
	if n := count(carolsView(), "loop?"); n != 1 {
		t.Fatalf("carol got bob's message %d times from alice, want once: %q", n, carolsView())
	}
	for _, b := range append(w.bobsView(), carolsView()...) {
		if strings.Count(b, "): ") > 1 {
			t.Fatalf("a relay was relayed again: %q", b)
		}
	}
}

// count is how many of xs end with text.
func count(xs []string, text string) int {
	n := 0
	for _, x := range xs {
		if strings.HasSuffix(x, text) {
			n++
		}
	}
	return n
}
