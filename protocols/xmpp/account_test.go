package xmpp

import (
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestSilentLinkNoticedByPing: the server stops answering but the socket
// stays open (no FIN, no RST — a dead NAT or Wi-Fi). Only XEP-0199 pings can
// tell; the account must go offline within PingInterval+PingTimeout. The
// defaults keep that under the 60 s the issue allows.
func TestSilentLinkNoticedByPing(t *testing.T) {
	if d := defaultPingInterval + defaultPingTimeout; d >= 60*time.Second {
		t.Fatalf("default ping interval+timeout %s: a dead link would go unnoticed for a minute", d)
	}
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	alice := newClient(t, p, "alice", "pw", func(c *Config) { c.PingInterval, c.PingTimeout = time.Second, time.Second })
	p.Freeze()
	t.Cleanup(p.Thaw)
	start := time.Now()
	off := waitEvent(t, alice, 10*time.Second, func(e protocols.ConnectionEvent) bool { return e.State == protocols.ConnOffline })
	took := time.Since(start)
	if off.Err == nil || !strings.Contains(off.Detail, "ping") {
		t.Fatalf("offline event %+v, want the missed ping as reason", off)
	}
	if took > 4*time.Second {
		t.Fatalf("dead link noticed after %s with 1 s + 1 s pings", took)
	}
	t.Logf("silent link reported offline after %s", took)
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "x", To: bobAddr, Body: "lost?"}); err == nil {
		t.Fatal("Send on a dead link reported success")
	}
	p.Thaw()
	if err := alice.Connect(ctx10(t)); err != nil {
		t.Fatalf("Connect after the link came back: %v", err)
	}
}

// TestRosterAndBookmarksAtLogin: what the user set up in another client —
// a named roster entry and an autojoin room bookmark (XEP-0402) — is there
// when Polyglot logs in: a ContactEvent with the name, and the room joined
// so its messages arrive as a group conversation.
func TestRosterAndBookmarksAtLogin(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	room := "book@" + p.MUCDomain()
	other := p.StartPeer("alice@localhost/desktop", "pw")
	other.Do(map[string]any{"op": "raw", "xml": `<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob Builder'/></query></iq>`})
	other.Do(map[string]any{"op": "raw", "xml": `<iq type='set' id='b1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>` +
		`<publish node='urn:xmpp:bookmarks:1'><item id='` + room + `'><conference xmlns='urn:xmpp:bookmarks:1' name='Book club' autojoin='true'><nick>Ally</nick></conference></item></publish>` +
		`<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
		`<field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub></iq>`})
	bob := p.StartPeer("bob@localhost", "pw")
	bob.Do(map[string]any{"op": "join", "room": room, "nick": "Bob"})
	bob.Must(10*time.Second, "joined", func(e testserver.PeerEvent) bool { return e.Ev == "joined" })
	time.Sleep(300 * time.Millisecond) // the raw IQs above have no reply the driver waits for

	alice := newClient(t, p, "alice", "pw", nil)
	ce := waitEvent(t, alice, 10*time.Second, func(e protocols.ContactEvent) bool { return e.Contact.ID == "bob@localhost" })
	if ce.Name != "Bob Builder" || ce.Removed || ce.Contact.Network != protocols.XMPP || ce.Contact.Account != "acct-alice" {
		t.Fatalf("roster entry %+v", ce)
	}
	// Connect returned after autojoin, so the room is joined: bob's next
	// message arrives live, and ours goes out under the bookmark's nick.
	bob.Send(map[string]any{"op": "send", "to": room, "type": "groupchat", "body": "welcome to the club"})
	me := waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "welcome to the club" })
	if !me.Message.Chat.Group || me.Message.Chat.ID != protocols.ChatID(room) || me.Historical {
		t.Fatalf("room message %+v", me)
	}
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "g1", To: protocols.Address{Network: protocols.XMPP, ID: room}, Group: true, Body: "hi, Ally here"}); err != nil {
		t.Fatal(err)
	}
	if got := bob.Message(10*time.Second, "hi, Ally here"); got.From != room+"/Ally" {
		t.Fatalf("bob saw %+v, want it from the bookmark's nick", got)
	}
}

// TestDeliveryReceiptsHook: when the core says the sender is accepted,
// delivery receipts (0184 and the 0333 received marker) go back on arrival;
// for anyone else nothing goes back until MarkRead.
func TestDeliveryReceiptsHook(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	p.Register("mallory", "pw")
	var (
		mu    sync.Mutex
		asked []string
	)
	alice := newClient(t, p, "alice", "pw", func(c *Config) {
		c.DeliveryReceipts = func(from protocols.Address) bool {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, from.ID)
			return from.ID == "bob@localhost"
		}
	})
	bob := p.StartPeer("bob@localhost", "pw")
	mal := p.StartPeer("mallory@localhost", "pw")

	bob.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "got it?", "id": "b1", "receipt": true, "markable": true})
	waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "got it?" })
	rc := bob.Must(10*time.Second, "receipt", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Receipt != "" })
	if rc.Receipt != "b1" || rc.Displayed != "" {
		t.Fatalf("accepted sender got %+v, want a delivery receipt for b1 and no read marker", rc)
	}

	mal.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "hello stranger", "id": "m1", "receipt": true, "markable": true})
	waitEvent(t, alice, 10*time.Second, func(e protocols.MessageEvent) bool { return e.Message.Body == "hello stranger" })
	if ev := mal.Next(time.Second, func(e testserver.PeerEvent) bool { return e.Ev == "message" && (e.Receipt != "" || e.Displayed != "") }); ev.Ev != "" {
		t.Fatalf("a stranger got a receipt: %+v", ev)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, ",") != "bob@localhost,mallory@localhost" {
		t.Fatalf("hook asked about %q", asked)
	}
}
