package matrix_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// jsDM has Polyglot (alice) open an encrypted DM with the js-sdk peer and
// the peer join it; it returns the room once the peer decrypted the first
// message.
func jsDM(t *testing.T, a *client, js *testserver.JSPeer, clientID, body string) string {
	t.Helper()
	res := openDM(t, a, js, js.UserID, clientID, body)
	// Rust crypto ignores a verification request from a device whose keys
	// it has not downloaded yet; its /keys/query may still be in flight
	// after the first decrypt, so wait for it like a settled client.
	js.MustDo(map[string]any{"op": "devices", "user": a.c.Session().UserID})
	return string(res.Chat)
}

// TestEncryptedDMWithJSSDK: Polyglot and matrix-js-sdk (Rust crypto) talk
// through a real Dendrite, encrypted both ways, and the server keeps only
// ciphertext.
func TestEncryptedDMWithJSSDK(t *testing.T) {
	d, a, js := startJSWorld(t)
	bob := js.UserID
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}

	room := jsDM(t, a, js, "j-1", "hello js-sdk secret-5d1e")

	sent := js.MustDo(map[string]any{"op": "send", "room": room, "body": "hi alice secret-c07b"})
	m := a.waitMessage(30*time.Second, "hi alice secret-c07b")
	if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing || m.Sender.ID != bob ||
		m.Chat.ID != protocols.ChatID(room) || m.Chat.Group || string(m.NetworkID) != sent["event_id"] {
		t.Fatalf("Polyglot received %+v (js-sdk sent %v)", m, sent)
	}

	// A second round each way: the sessions keep working after first use.
	if _, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "j-2", To: bobAddr, Chat: protocols.ChatID(room), Body: "second secret-5d1e", MinEncryption: protocols.EncE2EE}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.WaitEvent(20*time.Second, bodyIs("second secret-5d1e")); err != nil {
		t.Fatal(err)
	}
	js.MustDo(map[string]any{"op": "send", "room": room, "body": "second secret-c07b"})
	a.waitMessage(20*time.Second, "second secret-c07b")
	if n := len(js.Events()); n == 0 {
		t.Fatal("no events")
	}
	for _, ev := range js.Events() {
		if ev["ev"] == "undecryptable" {
			t.Fatalf("js-sdk could not decrypt %v", ev)
		}
	}

	assertOnlyCiphertext(t, d, room, "secret-5d1e", "secret-c07b")
}

// sasNames is the emoji names of one SAS, in order, for comparing Polyglot's
// descriptions with js-sdk's names.
func sasNames(v protocols.VerificationEvent) []string {
	out := make([]string, len(v.Emojis))
	for i, e := range v.Emojis {
		out[i] = e.Description
	}
	return out
}

func jsSASNames(ev map[string]any) (emoji, names []string) {
	list, _ := ev["emoji"].([]any)
	for _, pair := range list {
		p, _ := pair.([]any)
		if len(p) == 2 {
			e, _ := p[0].(string)
			n, _ := p[1].(string)
			emoji, names = append(emoji, e), append(names, n)
		}
	}
	return emoji, names
}

func jsDecimals(ev map[string]any) []int {
	var out []int
	list, _ := ev["decimals"].([]any)
	for _, n := range list {
		f, _ := n.(float64)
		out = append(out, int(f))
	}
	return out
}

// acceptJSRequest waits for js-sdk's verification request txn to reach
// Polyglot, from the js-sdk user and device, and accepts it.
func acceptJSRequest(t *testing.T, a *client, js *testserver.JSPeer, txn string) {
	t.Helper()
	in := a.wait(20*time.Second, "verification request", verifyEv(txn, protocols.VerifyRequested)).(protocols.VerificationEvent)
	if in.Peer.ID != js.UserID || in.DeviceID != js.DeviceID {
		t.Fatalf("incoming request %+v, want from %s/%s", in, js.UserID, js.DeviceID)
	}
	if err := a.c.AcceptVerification(context.Background(), txn); err != nil {
		t.Fatal(err)
	}
}

// sameSASBothSides waits until both sides show the emoji of txn and fails
// unless they are the same 7 (by name and character) with the same 3
// decimals.
func sameSASBothSides(t *testing.T, a *client, js *testserver.JSPeer, txn string) {
	t.Helper()
	pg := a.wait(30*time.Second, "SAS emoji", verifyEv(txn, protocols.VerifyShowSAS)).(protocols.VerificationEvent)
	jsSAS, err := js.WaitEvent(30*time.Second, jsEv("sas", txn))
	if err != nil {
		t.Fatalf("js-sdk showed no emoji: %v\n%v", err, js.Events())
	}
	emoji, names := jsSASNames(jsSAS)
	want := sasNames(pg)
	if len(want) != 7 || strings.Join(want, ",") != strings.Join(names, ",") {
		t.Fatalf("SAS emoji names differ:\nPolyglot %v\njs-sdk   %v", want, names)
	}
	for i, e := range pg.Emojis {
		// js-sdk may add a variation selector (U+FE0F) the spec table has.
		if strings.TrimSuffix(e.Emoji, "\ufe0f") != strings.TrimSuffix(emoji[i], "\ufe0f") {
			t.Fatalf("SAS emoji %d differ: Polyglot %q js-sdk %q", i, e.Emoji, emoji[i])
		}
	}
	if fmt.Sprint(pg.Decimals) != fmt.Sprint(jsDecimals(jsSAS)) {
		t.Fatalf("SAS decimals differ: Polyglot %v js-sdk %v", pg.Decimals, jsDecimals(jsSAS))
	}
}

func verifyEv(txn string, stage protocols.VerifyStage) func(protocols.Event) bool {
	return func(ev protocols.Event) bool {
		v, ok := ev.(protocols.VerificationEvent)
		return ok && v.Txn == txn && v.Stage == stage
	}
}

func jsEv(kind, txn string) func(map[string]any) bool {
	return func(ev map[string]any) bool { return ev["ev"] == kind && ev["txn"] == txn }
}

// TestSASVerificationPolyglotStartsWithJSSDK: Polyglot asks to verify the
// js-sdk user; js-sdk accepts; both show the same emoji; the js-sdk user
// confirms first (its MAC reaches Polyglot before Polyglot's user decided),
// then Polyglot's user. Both finish, and the peer is E2EE-verified on both
// sides (cross-signing), which new messages then carry.
func TestSASVerificationPolyglotStartsWithJSSDK(t *testing.T) {
	_, a, js := startJSWorld(t)
	alice, bob := a.c.Session().UserID, js.UserID
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}
	room := jsDM(t, a, js, "v-1", "let's verify")
	if a.c.PeerEncryption(bobAddr) != protocols.EncE2EE {
		t.Fatalf("bob is %v before any verification", a.c.PeerEncryption(bobAddr))
	}

	txn, err := a.c.StartVerification(ctx, bobAddr)
	if err != nil {
		t.Fatal(err)
	}
	req, err := js.WaitEvent(20*time.Second, jsEv("verify_request", txn))
	if err != nil {
		t.Fatalf("js-sdk saw no request %s: %v\n%v", txn, err, js.Events())
	}
	if req["user"] != alice || req["initiated_by_me"] != false {
		t.Fatalf("js-sdk request %v", req)
	}
	js.MustDo(map[string]any{"op": "accept", "txn": txn})
	sameSASBothSides(t, a, js, txn)

	js.MustDo(map[string]any{"op": "confirm", "txn": txn})
	// Polyglot's user compares at their own pace.
	time.Sleep(time.Second)
	if err := a.c.ConfirmVerification(ctx, txn); err != nil {
		t.Fatal(err)
	}
	verifiedBothWays(t, a, js, txn)

	r, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "v-2", To: bobAddr, Chat: protocols.ChatID(room), Body: "now verified", MinEncryption: protocols.EncE2EEVerified})
	if err != nil {
		t.Fatal(err)
	}
	if r.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("send class %v", r.Encryption)
	}
	if _, err := js.WaitEvent(20*time.Second, bodyIs("now verified")); err != nil {
		t.Fatal(err)
	}
	js.MustDo(map[string]any{"op": "send", "room": room, "body": "verified reply"})
	if got := a.waitMessage(20*time.Second, "verified reply"); got.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("received class %v", got.Encryption)
	}
}

// TestSASVerificationJSSDKStartsWithPolyglot: the reverse. js-sdk asks to
// verify Polyglot's device; Polyglot reports the request, accepts, shows the
// same emoji; Polyglot's user confirms first this time.
func TestSASVerificationJSSDKStartsWithPolyglot(t *testing.T) {
	_, a, js := startJSWorld(t)
	alice := a.c.Session().UserID
	ctx := context.Background()
	jsDM(t, a, js, "v-1", "please verify me")

	out := js.MustDo(map[string]any{"op": "verify_user", "user": alice})
	txn, _ := out["txn"].(string)
	if txn == "" || out["device"] != a.c.Session().DeviceID {
		t.Fatalf("verify_user answered %v (Polyglot device %s)", out, a.c.Session().DeviceID)
	}
	acceptJSRequest(t, a, js, txn)
	sameSASBothSides(t, a, js, txn)

	if err := a.c.ConfirmVerification(ctx, txn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	js.MustDo(map[string]any{"op": "confirm", "txn": txn})
	verifiedBothWays(t, a, js, txn)
}

// TestSASVerificationInRoomFromJSSDK: what Element's "Verify user" does —
// js-sdk sends the request into the encrypted DM (in-room verification, its
// follow-up events unencrypted, relating to the request); Polyglot answers
// in the room, both show the same emoji and finish verified.
func TestSASVerificationInRoomFromJSSDK(t *testing.T) {
	_, a, js := startJSWorld(t)
	alice := a.c.Session().UserID
	ctx := context.Background()
	room := jsDM(t, a, js, "v-1", "verify me in our chat")

	txn, _ := js.MustDo(map[string]any{"op": "verify_dm", "user": alice, "room": room})["txn"].(string)
	if !strings.HasPrefix(txn, "$") {
		t.Fatalf("in-room request has no event ID: %q", txn)
	}
	acceptJSRequest(t, a, js, txn)
	sameSASBothSides(t, a, js, txn)
	js.MustDo(map[string]any{"op": "confirm", "txn": txn})
	time.Sleep(time.Second) // the peer's MAC arrives before Polyglot's user decided
	if err := a.c.ConfirmVerification(ctx, txn); err != nil {
		t.Fatal(err)
	}
	verifiedBothWays(t, a, js, txn)
	for _, ev := range a.events() {
		if m, ok := ev.(protocols.MessageEvent); ok && m.Message.Body != "verify me in our chat" {
			t.Fatalf("verification events surfaced as a message: %+v", m.Message)
		}
	}
}

// TestSASMismatchWithJSSDK: emoji that differ end the verification on both
// sides, whoever says so, and nobody becomes verified.
func TestSASMismatchWithJSSDK(t *testing.T) {
	_, a, js := startJSWorld(t)
	alice, bob := a.c.Session().UserID, js.UserID
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}
	jsDM(t, a, js, "x-1", "hello")

	// Polyglot asks; the js-sdk user says the emoji differ.
	txn, err := a.c.StartVerification(ctx, bobAddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.WaitEvent(20*time.Second, jsEv("verify_request", txn)); err != nil {
		t.Fatal(err)
	}
	js.MustDo(map[string]any{"op": "accept", "txn": txn})
	sameSASBothSides(t, a, js, txn)
	js.MustDo(map[string]any{"op": "mismatch", "txn": txn})
	c := a.wait(20*time.Second, "cancel", verifyEv(txn, protocols.VerifyCancelled)).(protocols.VerificationEvent)
	if !strings.Contains(c.Reason, "m.mismatched_sas") {
		t.Fatalf("cancel reason %q", c.Reason)
	}
	if _, err := js.WaitEvent(20*time.Second, jsEv("verify_cancel", txn)); err != nil {
		t.Fatal(err)
	}

	// js-sdk asks; Polyglot's user says the emoji differ.
	txn2, _ := js.MustDo(map[string]any{"op": "verify_user", "user": alice})["txn"].(string)
	a.wait(20*time.Second, "request", verifyEv(txn2, protocols.VerifyRequested))
	if err := a.c.AcceptVerification(ctx, txn2); err != nil {
		t.Fatal(err)
	}
	a.wait(30*time.Second, "SAS emoji", verifyEv(txn2, protocols.VerifyShowSAS))
	if err := a.c.CancelVerification(ctx, txn2, "emoji do not match"); err != nil {
		t.Fatal(err)
	}
	jc, err := js.WaitEvent(20*time.Second, jsEv("verify_cancel", txn2))
	if err != nil {
		t.Fatalf("js-sdk saw no cancel: %v\n%v", err, js.Events())
	}
	if jc["code"] != "m.user" || jc["by"] != alice {
		t.Fatalf("js-sdk cancel %v", jc)
	}

	if a.c.PeerEncryption(bobAddr) == protocols.EncE2EEVerified {
		t.Fatal("a failed verification made bob verified")
	}
	if js.MustDo(map[string]any{"op": "trust", "user": alice})["verified"] == true {
		t.Fatal("a failed verification made alice verified for js-sdk")
	}
}

// waitJSTrust waits until the js-sdk peer holds user as cross-signing
// verified.
// startJSWorld is a Dendrite with alice on Polyglot (connected) and bob on
// matrix-js-sdk.
func startJSWorld(t *testing.T) (*testserver.Dendrite, *client, *testserver.JSPeer) {
	t.Helper()
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	js := testserver.StartJSPeer(t, d, bob, "password-bob")
	return d, connect(t, d, cfgFor(t, alice, "password-alice")), js
}

// verifiedBothWays waits until txn is done on both sides and each side
// trusts the other (Polyglot ranks bob E2EE verified, js-sdk alice).
func verifiedBothWays(t *testing.T, a *client, js *testserver.JSPeer, txn string) {
	t.Helper()
	a.wait(30*time.Second, "verification done", verifyEv(txn, protocols.VerifyDone))
	if _, err := js.WaitEvent(30*time.Second, jsEv("verify_done", txn)); err != nil {
		t.Fatalf("js-sdk did not finish: %v\n%v", err, js.Events())
	}
	bob := protocols.Address{Network: protocols.Matrix, ID: js.UserID}
	waitFor(t, 20*time.Second, "alice sees bob verified", func() bool { return a.c.PeerEncryption(bob) == protocols.EncE2EEVerified })
	waitJSTrust(t, js, a.c.Session().UserID)
}

func waitJSTrust(t *testing.T, js *testserver.JSPeer, user string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if js.MustDo(map[string]any{"op": "trust", "user": user})["verified"] == true {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("js-sdk never saw %s as verified\n%v", user, js.Events())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMeasureEncryptedLatencyJSSDK sends 200 encrypted messages each way
// between Polyglot and matrix-js-sdk on the same Dendrite and logs the
// median send→receive time of each (run with -v to see them), beside
// TestMeasureEncryptedLatency's numbers for nio.
func TestMeasureEncryptedLatencyJSSDK(t *testing.T) {
	measurement(t)
	_, a, js := startJSWorld(t)
	bob := js.UserID
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}
	room := jsDM(t, a, js, "m-0", "warm-up")

	pgToJS := measure(t, func(i int) {
		body := fmt.Sprintf("pg→js %d", i)
		if _, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: protocols.ClientID(fmt.Sprintf("m-%d", i+1)), To: bobAddr, Chat: protocols.ChatID(room), Body: body, MinEncryption: protocols.EncE2EE}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.WaitEvent(20*time.Second, bodyIs(body)); err != nil {
			t.Fatal(err)
		}
	})
	jsToPG := measure(t, func(i int) {
		body := fmt.Sprintf("js→pg %d", i)
		js.MustDo(map[string]any{"op": "send", "room": room, "body": body})
		a.waitMessage(20*time.Second, body)
	})
	t.Logf("encrypted send→receive, median of %d: Polyglot→js-sdk %v, js-sdk→Polyglot %v",
		latencyMessages, pgToJS, jsToPG)
	if pgToJS > 2*time.Second || jsToPG > 2*time.Second {
		t.Fatalf("median latency too high: %v / %v", pgToJS, jsToPG)
	}
}
