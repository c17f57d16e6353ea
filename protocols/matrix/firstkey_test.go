package matrix_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestFirstDMMessageKeyAfterTheMessage: the first message of a new encrypted
// DM opens on the contact's client even when their server hands them the
// message before its room key. Nothing orders to-device messages before
// room events: Dendrite publishes each to its own queue and a loaded machine
// delivered Polyglot's key (sent first) one /sync after the message, which
// nio, unlike Element, never went back to. A SyncProxy makes that order
// certain here; Polyglot's key must still reach nio's one device, and the
// message must open when it comes.
func TestFirstDMMessageKeyAfterTheMessage(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	proxy := testserver.StartSyncProxy(t, d.URL())
	nio := testserver.StartNioPeerVia(t, proxy.URL(), bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))

	proxy.Hold()
	body := "first words, key held back"
	res, err := a.c.Send(context.Background(), protocols.OutgoingMessage{ClientID: "k-1",
		To: protocols.Address{Network: protocols.Matrix, ID: bob}, Body: body, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if _, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == string(res.Chat) }); err != nil {
		t.Fatalf("no invite: %v", err)
	}
	waitFor(t, 30*time.Second, "Polyglot's room key held on its way to nio", func() bool {
		return slices.Contains(proxy.HeldTypes(), "m.room.encrypted")
	})
	nio.MustDo(map[string]any{"op": "join", "room": res.Chat})
	utd, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "undecryptable" && ev["event_id"] == string(res.NetworkID)
	})
	if err != nil {
		t.Fatalf("nio should see the message before its key: %v\n%v", err, nio.Events())
	}
	if n := nio.Count(bodyIs(body)); n != 0 {
		t.Fatal("the message opened while its key was held back")
	}

	// nio skips a /sync whose token did not move, so the key rides on the
	// next one with news: alice starting to type.
	proxy.ReleaseWithNews()
	if err := a.c.SetTyping(context.Background(), res.Chat, true); err != nil {
		t.Fatal(err)
	}
	key, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "room_key" && ev["room"] == string(res.Chat) && ev["session_id"] == utd["session_id"]
	})
	if err != nil || key["sender"] != alice {
		t.Fatalf("nio got no room key for the message's session from alice: %v %v\n%v", key, err, nio.Events())
	}
	got, err := nio.WaitEvent(30*time.Second, bodyIs(body))
	if err != nil {
		t.Fatalf("the message stayed undecryptable after its key came: %v\n%v\n%s", err, nio.Events(), nio.Stderr())
	}
	if got["encrypted"] != true || got["event_id"] != string(res.NetworkID) || got["sender"] != alice {
		t.Fatalf("nio saw %v (sent %+v)", got, res)
	}
}
