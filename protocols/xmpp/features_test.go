package xmpp

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

var bobAddr = protocols.Address{Network: protocols.XMPP, ID: "bob@localhost"}

// TestMessageFeaturesBothWays: receipts and markers, typing, corrections,
// retractions, reactions and replies between Polyglot and slixmpp.
func TestMessageFeaturesBothWays(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	bob := p.StartPeer("bob@localhost", "pw")
	const w = 10 * time.Second

	// Delivery receipt (slixmpp answers XEP-0184 by itself) and read marker.
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "m1", To: bobAddr, Body: "one"}); err != nil {
		t.Fatal(err)
	}
	bob.Message(w, "one")
	rc := waitEvent(t, alice, w, func(e protocols.ReceiptEvent) bool { return e.Kind == protocols.ReceiptDelivered })
	if !reflect.DeepEqual(rc.IDs, []protocols.MessageID{"m1"}) || rc.Chat != "bob@localhost" {
		t.Fatalf("delivery receipt %+v", rc)
	}
	bob.Send(map[string]any{"op": "mark", "to": "alice@localhost", "id": "m1", "kind": "displayed"})
	rd := waitEvent(t, alice, w, func(e protocols.ReceiptEvent) bool { return e.Kind == protocols.ReceiptRead })
	if !reflect.DeepEqual(rd.IDs, []protocols.MessageID{"m1"}) {
		t.Fatalf("read marker %+v", rd)
	}

	// Typing from slixmpp.
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "chat_state": "composing"})
	if ty := waitEvent(t, alice, w, func(e protocols.TypingEvent) bool { return true }); !ty.Typing || ty.Chat != "bob@localhost" {
		t.Fatalf("typing %+v", ty)
	}

	// A message that asks for a receipt gets none until the core marks it
	// read (DeliveryReceipts is nil: consent belongs to the core).
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "orig", "id": "b1", "receipt": true, "markable": true})
	in := waitEvent(t, alice, w, func(e protocols.MessageEvent) bool { return e.Message.Body == "orig" }).Message
	if ev := bob.Next(time.Second, func(e testserver.PeerEvent) bool { return e.Ev == "message" && (e.Receipt != "" || e.Displayed != "") }); ev.Ev != "" {
		t.Fatalf("receipt went back without consent: %+v", ev)
	}
	if err := alice.MarkRead(ctx10(t), in.Chat.ID, in.NetworkID); err != nil {
		t.Fatal(err)
	}
	mk := bob.Must(w, "displayed marker", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Displayed != "" })
	if mk.Displayed != "b1" || mk.Receipt != "b1" {
		t.Fatalf("MarkRead sent displayed=%q receipt=%q, want b1 (the sender's id, not the stanza-id %s)", mk.Displayed, mk.Receipt, in.NetworkID)
	}

	// Correction, reaction, reply and retraction from slixmpp.
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "fixed", "id": "b2", "replace": "b1"})
	ed := waitEvent(t, alice, w, func(e protocols.EditEvent) bool { return true })
	if ed.TargetID != "b1" || ed.Body != "fixed" {
		t.Fatalf("edit %+v", ed)
	}
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "reactions": map[string]any{"id": "m1", "keys": []string{"👍"}}})
	re := waitEvent(t, alice, w, func(e protocols.ReactionEvent) bool { return true })
	if re.TargetID != "m1" || re.Key != "👍" || re.Remove {
		t.Fatalf("reaction %+v", re)
	}
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "reactions": map[string]any{"id": "m1", "keys": []string{}}})
	if re := waitEvent(t, alice, w, func(e protocols.ReactionEvent) bool { return true }); !re.Remove || re.Key != "👍" {
		t.Fatalf("reaction removal %+v", re)
	}
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "yes, that", "reply": map[string]any{"to": "alice@localhost", "id": "m1"}})
	if rp := waitEvent(t, alice, w, func(e protocols.MessageEvent) bool { return e.Message.Body == "yes, that" }); rp.Message.ReplyTo != "m1" {
		t.Fatalf("reply %+v", rp.Message)
	}
	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "retract": "b1"})
	if del := waitEvent(t, alice, w, func(e protocols.DeleteEvent) bool { return true }); del.TargetID != "b1" || del.Chat != "bob@localhost" {
		t.Fatalf("retraction %+v", del)
	}
	for _, ev := range drain(alice) {
		if me, ok := ev.(protocols.MessageEvent); ok && me.Message.Body != "" {
			t.Fatalf("retraction fallback shown as a message: %+v", me.Message)
		}
	}

	// And the other way: what slixmpp sees from Polyglot.
	if err := alice.SetTyping(ctx10(t), "bob@localhost", true); err != nil {
		t.Fatal(err)
	}
	bob.Must(w, "composing", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.ChatState == "composing" })
	if _, err := alice.Edit(ctx10(t), "bob@localhost", "m1", "m1-fix", "one, corrected"); err != nil {
		t.Fatal(err)
	}
	if e := bob.Message(w, "one, corrected"); e.Replace != "m1" {
		t.Fatalf("peer saw correction %+v", e)
	}
	if err := alice.React(ctx10(t), "bob@localhost", in.NetworkID, "❤️", false); err != nil {
		t.Fatal(err)
	}
	if e := bob.Must(w, "reaction", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Reactions != nil }); e.ReactionsID != "b1" || !reflect.DeepEqual(e.Reactions, []string{"❤️"}) {
		t.Fatalf("peer saw reactions %+v", e)
	}
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "m3", To: bobAddr, Body: "re: orig", ReplyTo: in.NetworkID}); err != nil {
		t.Fatal(err)
	}
	if e := bob.Message(w, "re: orig"); e.ReplyID != "b1" {
		t.Fatalf("peer saw reply %+v", e)
	}
	if err := alice.Retract(ctx10(t), "bob@localhost", "m3"); err != nil {
		t.Fatal(err)
	}
	if e := bob.Must(w, "retraction", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Retract != "" }); e.Retract != "m3" {
		t.Fatalf("peer saw retraction %+v", e)
	}
}

// TestCarbonsFromSecondResource: what alice sends from another client shows
// as Outgoing in Polyglot.
func TestCarbonsFromSecondResource(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	other := p.StartPeer("alice@localhost/phone", "pw", "--carbons")
	bob := p.StartPeer("bob@localhost", "pw")
	other.Send(map[string]any{"op": "send", "to": "bob@localhost", "body": "from my phone", "id": "ph-1"})
	bob.Message(10*time.Second, "from my phone")
	me := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "from my phone" })
	if !me.Message.Outgoing || me.Message.Chat.ID != "bob@localhost" || me.Message.ClientID != "ph-1" || me.Message.Sender.ID != "alice@localhost" {
		t.Fatalf("sent carbon %+v", me.Message)
	}
}

// TestSubscriptionRequest: a presence subscription becomes a request; it is
// answered only when the user accepts.
func TestSubscriptionRequest(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("carol", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	carol := p.StartPeer("carol@localhost", "pw")
	carol.Send(map[string]any{"op": "subscribe", "to": "alice@localhost"})
	rq := waitEvent(t, alice, 10*time.Second, func(e protocols.RequestEvent) bool { return true })
	if rq.Kind != protocols.RequestSubscription || rq.From.ID != "carol@localhost" {
		t.Fatalf("request %+v", rq)
	}
	if ev := carol.Next(time.Second, func(e testserver.PeerEvent) bool { return e.Ev == "presence" && e.Type == "subscribed" }); ev.Ev != "" {
		t.Fatal("subscription approved before the user decided")
	}
	if err := alice.AnswerRequest(ctx10(t), rq.From, rq.Chat.ID, true); err != nil {
		t.Fatal(err)
	}
	carol.Must(10*time.Second, "subscribed", func(e testserver.PeerEvent) bool { return e.Ev == "presence" && e.Type == "subscribed" })
	ce := waitEvent(t, alice, 10*time.Second, func(e protocols.ContactEvent) bool {
		return e.Contact.ID == "carol@localhost" && e.Subscription == "both"
	})
	if ce.Removed {
		t.Fatalf("contact %+v", ce)
	}
	waitEvent(t, alice, 10*time.Second, func(e protocols.PresenceEvent) bool {
		return e.From.ID == "carol@localhost" && e.State == protocols.PresenceOnline
	})
}

// TestDeclineAndInvite: a declined subscription tells the asker no and
// never shares presence; a room invitation is a request, and accepting it
// joins the room.
func TestDeclineAndInvite(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("dave", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	dave := p.StartPeer("dave@localhost", "pw")

	dave.Send(map[string]any{"op": "subscribe", "to": "alice@localhost"})
	rq := waitEvent(t, alice, 10*time.Second, func(e protocols.RequestEvent) bool { return e.Kind == protocols.RequestSubscription })
	if err := alice.AnswerRequest(ctx10(t), rq.From, rq.Chat.ID, false); err != nil {
		t.Fatal(err)
	}
	dave.Must(10*time.Second, "unsubscribed", func(e testserver.PeerEvent) bool { return e.Ev == "presence" && e.Type == "unsubscribed" })
	if ev := dave.Next(time.Second, func(e testserver.PeerEvent) bool {
		return e.Ev == "presence" && strings.HasPrefix(e.From, "alice@localhost") && (e.Type == "subscribed" || e.Type == "available" || e.Type == "")
	}); ev.Ev != "" {
		t.Fatalf("declined asker still got %+v", ev)
	}

	room := "club@" + p.MUCDomain()
	dave.Do(map[string]any{"op": "join", "room": room, "nick": "Dave"})
	dave.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })
	dave.Do(map[string]any{"op": "raw", "xml": `<message to='alice@localhost'><x xmlns='jabber:x:conference' jid='` + room + `' reason='come along'/></message>`})
	inv := waitEvent(t, alice, 10*time.Second, func(e protocols.RequestEvent) bool { return e.Kind == protocols.RequestInvite })
	if inv.From.ID != "dave@localhost" || inv.Chat.ID != protocols.ChatID(room) || !inv.Chat.Group {
		t.Fatalf("invitation %+v", inv)
	}
	if err := alice.AnswerRequest(ctx10(t), inv.From, inv.Chat.ID, true); err != nil {
		t.Fatal(err)
	}
	dave.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "glad you came"})
	if me := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "glad you came" }); me.Message.Chat.ID != protocols.ChatID(room) {
		t.Fatalf("room message %+v", me.Message)
	}
}

// TestContactOnlineWhileAnyClientIs: carol runs two clients; one quitting
// leaves her online (the other is still open), the second quitting makes
// her offline.
func TestContactOnlineWhileAnyClientIs(t *testing.T) {
	p := testserver.StartProsody(t)
	p.MakeContacts("alice", "pw", "carol", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	phone := p.StartPeer("carol@localhost", "pw")
	waitEvent(t, alice, 20*time.Second, func(e protocols.PresenceEvent) bool {
		return e.From.ID == "carol@localhost" && e.State == protocols.PresenceOnline
	})
	laptop := p.StartPeer("carol@localhost", "pw")
	laptop.Do(map[string]any{"op": "raw", "xml": "<presence><status>on the laptop</status></presence>"})
	waitEvent(t, alice, 20*time.Second, func(e protocols.PresenceEvent) bool {
		return e.From.ID == "carol@localhost" && e.Status == "on the laptop"
	})
	phone.Close()
	// The next presence of carol alice hears is the phone leaving: she
	// must still be online through the laptop.
	if ev := waitEvent(t, alice, 20*time.Second, func(e protocols.PresenceEvent) bool { return e.From.ID == "carol@localhost" }); ev.State != protocols.PresenceOnline {
		t.Fatalf("carol's phone quit while her laptop is open: %v", ev.State)
	}
	laptop.Close()
	waitEvent(t, alice, 20*time.Second, func(e protocols.PresenceEvent) bool {
		return e.From.ID == "carol@localhost" && e.State == protocols.PresenceOffline
	})
}
