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
	res, err := a.c.Send(context.Background(), protocols.OutgoingMessage{ClientID: clientID,
		To: protocols.Address{Network: protocols.Matrix, ID: js.UserID}, Body: body, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if res.Encryption != protocols.EncE2EE {
		t.Fatalf("send result %+v", res)
	}
	if _, err := js.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == res.Chat }); err != nil {
		t.Fatalf("js-sdk got no invite: %v", err)
	}
	js.MustDo(map[string]any{"op": "join", "room": res.Chat})
	got, err := js.WaitEvent(30*time.Second, bodyIs(body))
	if err != nil {
		t.Fatalf("js-sdk did not decrypt Polyglot's message: %v\n%v\n%s", err, js.Events(), js.Stderr())
	}
	if got["encrypted"] != true || got["event_id"] != res.NetworkID || got["sender"] != a.c.Session().UserID {
		t.Fatalf("js-sdk saw %v (sent %+v)", got, res)
	}
	return res.Chat
}

// TestEncryptedDMWithJSSDK: Polyglot and matrix-js-sdk (Rust crypto) talk
// through a real Dendrite, encrypted both ways, and the server keeps only
// ciphertext.
func TestEncryptedDMWithJSSDK(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	js := testserver.StartJSPeer(t, d, bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}

	room := jsDM(t, a, js, "j-1", "hello js-sdk secret-5d1e")

	sent := js.MustDo(map[string]any{"op": "send", "room": room, "body": "hi alice secret-c07b"})
	m := a.waitMessage(30*time.Second, "hi alice secret-c07b")
	if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing || m.Sender.ID != bob ||
		m.Chat.ID != room || m.Chat.Group || m.NetworkID != sent["event_id"] {
		t.Fatalf("Polyglot received %+v (js-sdk sent %v)", m, sent)
	}

	// A second round each way: the sessions keep working after first use.
	if _, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "j-2", To: bobAddr, Chat: room, Body: "second secret-5d1e", MinEncryption: protocols.EncE2EE}); err != nil {
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

// checkSameSAS fails unless Polyglot and js-sdk show the same 7 emoji (by
// name and character) and the same 3 decimals.
func checkSameSAS(t *testing.T, pg protocols.VerificationEvent, js map[string]any) {
	t.Helper()
	emoji, names := jsSASNames(js)
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
	if fmt.Sprint(pg.Decimals) != fmt.Sprint(jsDecimals(js)) {
		t.Fatalf("SAS decimals differ: Polyglot %v js-sdk %v", pg.Decimals, jsDecimals(js))
	}
}
