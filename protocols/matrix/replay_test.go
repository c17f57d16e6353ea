package matrix_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestReplayedCiphertextIsNotANewMessage: a sender whose send timed out
// retries with the same transaction ID; if the server lost its record of
// that transaction (Dendrite keeps it in memory, so a restart does), the
// retry becomes a second event carrying the first one's ciphertext. Megolm
// refuses the repeated message index, rightly; Polyglot must then show the
// message once, with no "unable to decrypt" row for the copy.
func TestReplayedCiphertextIsNotANewMessage(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	nio := testserver.StartNioPeer(t, d, bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	room := string(openDM(t, a, nio, bob, "r-1", "hello bob").Chat)

	first := nio.MustDo(map[string]any{"op": "send", "room": room, "body": "said once secret-2b7c"})["event_id"].(string)
	a.waitMessage(30*time.Second, "said once secret-2b7c")

	// The copy, as the server would make it from the retried request.
	token, _ := d.Login(t, bob, "password-bob")
	var orig struct {
		Content json.RawMessage `json:"content"`
	}
	if err := d.Call(http.MethodGet, fmt.Sprintf("/_matrix/client/v3/rooms/%s/event/%s", url.PathEscape(room), url.PathEscape(first)), token, nil, &orig); err != nil {
		t.Fatal(err)
	}
	var copied struct {
		EventID string `json:"event_id"`
	}
	path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.encrypted/replay-%d", url.PathEscape(room), time.Now().UnixNano())
	if err := d.Call(http.MethodPut, path, token, orig.Content, &copied); err != nil {
		t.Fatal(err)
	}
	// What comes after the copy shows it was handled.
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "after the copy"})
	a.waitMessage(30*time.Second, "after the copy")
	for _, ev := range a.events() {
		if m, ok := ev.(protocols.MessageEvent); ok && string(m.Message.NetworkID) == copied.EventID {
			t.Fatalf("the copy %s was emitted: %+v", copied.EventID, m.Message)
		}
	}
	n := a.count(func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && m.Message.Body == "said once secret-2b7c"
	})
	if n != 1 {
		t.Fatalf("the message was emitted %d times", n)
	}
}
