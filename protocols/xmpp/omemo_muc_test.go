package xmpp

import (
	"encoding/xml"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

type mucOwnerQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc#owner query"`
	Form    mamForm  `xml:"jabber:x:data x"`
}

// privateRoom has owner (already in the room, so its owner) make room
// members-only and non-anonymous with the muc#owner form, as a user does
// in Conversations, and gives members their affiliation.
func privateRoom(t *testing.T, owner *Connector, room string, members ...string) {
	t.Helper()
	q := mucOwnerQuery{Form: mamForm{Type: "submit", Fields: []mamField{
		{Var: "FORM_TYPE", Value: "http://jabber.org/protocol/muc#roomconfig"},
		{Var: "muc#roomconfig_membersonly", Value: "1"},
		{Var: "muc#roomconfig_whois", Value: "anyone"},
		{Var: "muc#roomconfig_persistentroom", Value: "1"},
	}}}
	if err := owner.omemoIQ(ctx10(t), "set", room, q, nil); err != nil {
		t.Fatalf("configuring %s: %v", room, err)
	}
	for _, m := range members {
		a := mucAdminQuery{Items: []mucAdminItem{{Affiliation: "member", JID: m}}}
		if err := owner.omemoIQ(ctx10(t), "set", room, a, nil); err != nil {
			t.Fatalf("making %s a member: %v", m, err)
		}
	}
}

func roomSend(t *testing.T, c *Connector, room, id, body string, min protocols.Encryption) (protocols.SendResult, error) {
	t.Helper()
	return c.Send(ctx10(t), protocols.OutgoingMessage{ClientID: protocols.ClientID(id), Chat: protocols.ChatID(room), Group: true, Body: body, MinEncryption: min})
}

// waitRoomE2EE waits until c counts room as end-to-end encrypted (its
// members' device lists are fetched in the background after the join).
func waitRoomE2EE(t *testing.T, c *Connector, in *inbox, room string) {
	t.Helper()
	waitFor(t, c.me.String()+" sees "+room+" as E2EE", func() bool {
		in.poll()
		return c.PeerEncryption(xmppAddr(room)) == protocols.EncE2EE
	})
}

// poll takes what events are waiting without blocking.
func (in *inbox) poll() {
	for _, ev := range drain(in.c) {
		switch e := ev.(type) {
		case protocols.MessageEvent:
			in.msgs = append(in.msgs, e.Message)
		case protocols.KeyChangeEvent:
			in.keys = append(in.keys, e)
		}
	}
}

// TestOMEMORoom: alice, bob and carol, three Polyglot accounts with OMEMO,
// in a members-only, non-anonymous room: each message goes encrypted to
// every member, each reads every message (their own once, from the room's
// echo) as E2EE, and the room's archive on the server holds only the
// fallback, never the text.
func TestOMEMORoom(t *testing.T) {
	p := testserver.StartProsody(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		p.Register(u, u+"pw")
	}
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	carol := omemoClient(t, p, "carol", "carolpw", t.TempDir(), "c1")
	ain, bin, cin := newInbox(t, alice), newInbox(t, bob), newInbox(t, carol)
	room := "secret@" + p.MUCDomain()

	if _, err := alice.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	privateRoom(t, alice, room, "bob@localhost", "carol@localhost")
	// alice's second device is in the room too (same nick, as Prosody
	// allows one account's resources).
	alice2 := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a2")
	a2in := newInbox(t, alice2)
	for _, c := range []*Connector{bob, carol, alice2} {
		if _, err := c.Join(ctx10(t), room); err != nil {
			t.Fatal(err)
		}
	}
	waitRoomE2EE(t, alice, ain, room)
	waitRoomE2EE(t, bob, bin, room)
	waitRoomE2EE(t, carol, cin, room)

	texts := map[*Connector]string{alice: "room sekrit from alice", bob: "room sekrit from bob ✓", carol: "room sekrit from carol"}
	for i, c := range []*Connector{alice, bob, carol} {
		res, err := roomSend(t, c, room, "m"+string(rune('1'+i)), texts[c], protocols.EncE2EE)
		if err != nil {
			t.Fatalf("%s sends: %v", c.me, err)
		}
		if res.Encryption != protocols.EncE2EE {
			t.Fatalf("%s's SendResult.Encryption = %v", c.me, res.Encryption)
		}
	}
	names := map[*inbox]string{ain: "alice", bin: "bob", cin: "carol", a2in: "alice's second device"}
	for in, who := range names {
		for c, text := range texts {
			m := in.body(text)
			mine := c.me.Equal(in.c.me)
			if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing != mine || m.Chat.ID != protocols.ChatID(room) || !m.Chat.Group {
				t.Fatalf("%s got %+v", who, m)
			}
		}
	}
	// A correction in the room travels encrypted too.
	if _, err := bob.Edit(ctx10(t), protocols.ChatID(room), "m2", "m2e", "room sekrit corrected"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, carol, 60e9, func(e protocols.EditEvent) bool { return e.Body == "room sekrit corrected" })

	for in, who := range names {
		in.poll()
		for _, text := range texts {
			if n := count(in.msgs, text); n != 1 {
				t.Errorf("%s read %q %d times: %s", who, text, n, dump(in.msgs))
			}
		}
		if n := undecryptable(in.msgs); len(n) > 0 {
			t.Errorf("%s: undecryptable notices %v", who, n)
		}
	}
	// dave joins later: the room's history was not encrypted for his new
	// device, and each message of it says so, naming member and device.
	p.Register("dave", "davepw")
	privateRoom(t, alice, room, "dave@localhost")
	dave := omemoClient(t, p, "dave", "davepw", t.TempDir(), "d1")
	din := newInbox(t, dave)
	if _, err := dave.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	din.until("the room's history, undecryptable for dave", func(ms []protocols.Message) bool { return len(undecryptable(ms)) >= 3 })
	for _, m := range din.msgs {
		nick := strings.TrimPrefix(m.Sender.ID, room+"/")
		if !m.Undecryptable || m.Body != "" || !strings.Contains(m.Notice, "of "+nick+"@localhost from device ") || !strings.Contains(m.Notice, "not encrypted for this device") {
			t.Errorf("dave got %+v", m)
		}
	}

	// The room's archive on the server: the fallback, never the text.
	data := filepath.Join(p.Dir(), "data")
	if hits := grepDir(t, data, "OMEMO encrypted message"); len(hits) == 0 {
		t.Fatalf("no archived OMEMO room message under %s: the check below would prove nothing", data)
	}
	for _, s := range append([]string{"room sekrit corrected"}, texts[alice], texts[bob], texts[carol]) {
		if hits := grepDir(t, data, s); len(hits) > 0 {
			t.Errorf("plaintext %q on the server's disk: %v", s, hits)
		}
	}
}

// TestOMEMOPublicRoomTransportOnly: an open room whose occupants cannot see
// each other's addresses cannot carry OMEMO: it stays TLS-only, a message
// that must be end-to-end encrypted is refused and never reaches the room,
// and a plain one goes out with transport encryption.
func TestOMEMOPublicRoomTransportOnly(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	room := "lobby@" + p.MUCDomain()
	for _, c := range []*Connector{alice, bob} {
		if _, err := c.Join(ctx10(t), room); err != nil {
			t.Fatal(err)
		}
	}
	ain, bin := newInbox(t, alice), newInbox(t, bob)
	waitFor(t, "alice learns what the room is", func() bool {
		ain.poll()
		r := alice.roomOf(room)
		alice.mu.Lock()
		defer alice.mu.Unlock()
		return r.infoKnown
	})
	if got := alice.PeerEncryption(xmppAddr(room)); got != protocols.EncTransport {
		t.Fatalf("PeerEncryption(public room) = %v, want transport", got)
	}
	_, err := roomSend(t, alice, room, "p1", "must be secret", protocols.EncE2EE)
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) || !strings.Contains(err.Error(), "members-only") {
		t.Fatalf("E2EE send to a public room: %v, want ErrEncryptionUnavailable saying why", err)
	}
	res, err := roomSend(t, alice, room, "p2", "plain is fine here", protocols.EncTransport)
	if err != nil || res.Encryption != protocols.EncTransport {
		t.Fatalf("plain send: %+v %v", res, err)
	}
	m := bin.body("plain is fine here")
	if m.Encryption != protocols.EncTransport {
		t.Fatalf("bob got %+v", m)
	}
	bin.poll()
	if find(bin.msgs, "must be secret") != nil {
		t.Fatal("the refused message reached the room")
	}
}

// TestOMEMORoomMemberWithoutOMEMO: one member of an otherwise OMEMO room
// has no OMEMO: the room is not E2EE, a message that must be is refused
// naming that member, and nothing reaches the room.
func TestOMEMORoomMemberWithoutOMEMO(t *testing.T) {
	p := testserver.StartProsody(t)
	for _, u := range []string{"alice", "bob", "dave"} {
		p.Register(u, u+"pw")
	}
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	dave := newClient(t, p, "dave", "davepw", nil) // no OMEMO
	ain, bin := newInbox(t, alice), newInbox(t, bob)
	room := "mixed@" + p.MUCDomain()
	if _, err := alice.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	privateRoom(t, alice, room, "bob@localhost", "dave@localhost")
	for _, c := range []*Connector{bob, dave} {
		if _, err := c.Join(ctx10(t), room); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "alice learns the room carries OMEMO", func() bool {
		ain.poll()
		r := alice.roomOf(room)
		alice.mu.Lock()
		defer alice.mu.Unlock()
		return r.omemo && r.members["dave@localhost"]
	})
	_, err := roomSend(t, alice, room, "x1", "not for dave's server", protocols.EncE2EE)
	if !errors.Is(err, protocols.ErrEncryptionUnavailable) || !strings.Contains(err.Error(), "dave@localhost") {
		t.Fatalf("E2EE send with a member without OMEMO: %v, want ErrEncryptionUnavailable naming dave", err)
	}
	if got := alice.PeerEncryption(xmppAddr(room)); got != protocols.EncTransport {
		t.Fatalf("PeerEncryption(room with dave) = %v, want transport", got)
	}
	// dave without OMEMO cannot send E2EE either.
	if _, err := roomSend(t, dave, room, "d1", "from dave", protocols.EncE2EE); !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("dave's E2EE send: %v", err)
	}
	// The user allows the downgrade: it goes with TLS, and it is the first
	// message bob sees.
	res, err := roomSend(t, alice, room, "x2", "plain, you agreed", protocols.EncTransport)
	if err != nil || res.Encryption != protocols.EncTransport {
		t.Fatalf("plain send: %+v %v", res, err)
	}
	bin.body("plain, you agreed")
	if find(bin.msgs, "not for dave's server") != nil || len(bin.msgs) != 1 {
		t.Fatalf("bob's messages: %s", dump(bin.msgs))
	}
}

// TestOMEMORoomRestartCatchUp: bob's Polyglot stops while alice and carol
// go on talking in the OMEMO room, then starts again from its data
// directory: what was said meanwhile comes from the room's archive (which
// names each sender's real JID), decrypted, once each, with no "could not
// decrypt" notice, also from carol, who left before he came back; and the
// room still works both ways.
func TestOMEMORoomRestartCatchUp(t *testing.T) {
	p := testserver.StartProsody(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		p.Register(u, u+"pw")
	}
	room := "crew@" + p.MUCDomain()
	bobDir := t.TempDir()
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", bobDir, "b1")
	carol := omemoClient(t, p, "carol", "carolpw", t.TempDir(), "c1")
	ain, bin, cin := newInbox(t, alice), newInbox(t, bob), newInbox(t, carol)
	if _, err := alice.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	privateRoom(t, alice, room, "bob@localhost", "carol@localhost")
	for _, c := range []*Connector{bob, carol} {
		if _, err := c.Join(ctx10(t), room); err != nil {
			t.Fatal(err)
		}
	}
	waitRoomE2EE(t, alice, ain, room)
	waitRoomE2EE(t, bob, bin, room)
	waitRoomE2EE(t, carol, cin, room)
	send := func(c *Connector, id, body string) {
		t.Helper()
		if res, err := roomSend(t, c, room, id, body, protocols.EncE2EE); err != nil || res.Encryption != protocols.EncE2EE {
			t.Fatalf("%s sends %q: %+v %v", c.me, body, res, err)
		}
	}
	send(alice, "r1", "before the restart")
	send(bob, "r2", "bob before the restart")
	bin.body("before the restart")
	bin.body("bob before the restart")
	cin.body("bob before the restart")

	bob.Close()
	bob.mu.Lock()
	pos := bob.roomPos[room]
	bob.mu.Unlock()
	if pos == "" {
		t.Fatal("bob kept no room position: the restart would not read the room's archive")
	}
	send(alice, "w1", "while bob is away 1")
	send(carol, "w2", "while bob is away 2")
	send(alice, "w3", "while bob is away 3")
	cin.body("while bob is away 3")
	// carol leaves too: her presence no longer names her when bob comes
	// back, only the archive does.
	carol.Close()

	bob2 := newClient(t, p, "bob", "bobpw", func(c *Config) {
		c.DataDir, c.OMEMOKey, c.Resource, c.Rooms = bobDir, omemoTestKey, "b1", []string{room}
	})
	bin2 := newInbox(t, bob2)
	away := []string{"while bob is away 1", "while bob is away 2", "while bob is away 3"}
	bin2.until("the messages sent while bob was away", func(ms []protocols.Message) bool {
		for _, b := range away {
			if find(ms, b) == nil {
				return false
			}
		}
		return true
	})
	waitRoomE2EE(t, bob2, bin2, room)
	send(bob2, "r3", "bob is back")
	ain.body("bob is back")
	send(alice, "r4", "welcome back bob")
	bin2.body("welcome back bob")
	bin2.body("bob is back")

	bin2.poll()
	for _, b := range append(away, "welcome back bob", "bob is back") {
		if n := count(bin2.msgs, b); n != 1 {
			t.Errorf("bob got %q %d times: %s", b, n, dump(bin2.msgs))
		}
	}
	for _, m := range bin2.msgs {
		if m.Encryption != protocols.EncE2EE {
			t.Errorf("bob (second run): %q with %v", m.Body, m.Encryption)
		}
	}
	for name, in := range map[string]*inbox{"alice": ain, "bob (first run)": bin, "bob (second run)": bin2, "carol": cin} {
		in.poll()
		if n := undecryptable(in.msgs); len(n) > 0 {
			t.Errorf("%s: undecryptable notices %v", name, n)
		}
	}
	// What bob read from the archive came from the right people.
	for b, who := range map[string]string{"while bob is away 1": "alice", "while bob is away 2": "carol"} {
		if m := find(bin2.msgs, b); m.Sender.ID != room+"/"+who || m.Outgoing {
			t.Errorf("%q from %+v", b, m.Sender)
		}
	}
}

// TestRoomSenderNotForgeable: whose key decrypts a room message comes from
// the occupant's presence for a live message; the <x><item jid/> inside a
// message counts only when the room hands it out (archive, join history),
// and then the last one (Prosody's, after anything the sender put there).
func TestRoomSenderNotForgeable(t *testing.T) {
	c, err := New(Config{JID: "me@localhost", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	r := &room{occupants: map[string]string{"mallory": "mallory@localhost"}}
	forged := &inMessage{MUCUser: &mucUserX{Items: []mucItem{{JID: "alice@localhost"}}}}
	archived := &inMessage{MUCUser: &mucUserX{Items: []mucItem{{JID: "alice@localhost"}, {JID: "mallory@localhost/res"}}}}
	for _, tc := range []struct {
		name   string
		nick   string
		m      *inMessage
		byRoom bool
		want   string
	}{
		{"live, forged item", "mallory", forged, false, "mallory@localhost"},
		{"live, no presence, forged item", "ghost", forged, false, ""},
		{"archive, forged then the room's", "mallory", archived, true, "mallory@localhost"},
		{"archive of someone who left", "ghost", archived, true, "mallory@localhost"},
		{"archive without an item", "mallory", &inMessage{}, true, "mallory@localhost"},
	} {
		j, ok := c.roomSender(r, tc.nick, tc.m, tc.byRoom)
		if got := j.String(); got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: %q %v, want %q", tc.name, got, ok, tc.want)
		}
	}
}

// TestOMEMORoomWithProfanity: profanity 0.13.1 (a client nobody here wrote)
// and Polyglot in one members-only, non-anonymous room: profanity reads
// Polyglot's encrypted room message as OMEMO, and Polyglot decrypts
// profanity's.
func TestOMEMORoomWithProfanity(t *testing.T) {
	p := testserver.StartProsody(t)
	// profanity publishes its bundle for contacts only on Prosody 0.12.
	p.MakeContacts("alice", "alicepw", "bob", "bobpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	ain := newInbox(t, alice)
	bob := testserver.StartProfanity(t, p, "bob", "bobpw")
	room := "hideout@" + p.MUCDomain()
	if _, err := alice.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	privateRoom(t, alice, room, "bob@localhost")

	bob.Send("/join " + room)
	bob.WaitScreen("the room window", func(s string) bool { return strings.Contains(s, "You have joined the room") })
	bob.Send("/omemo start")
	bob.WaitScreen("OMEMO in the room", func(s string) bool {
		title, _, _ := strings.Cut(s, "\n")
		return strings.Contains(title, "[OMEMO]")
	})
	waitRoomE2EE(t, alice, ain, room)

	if res, err := roomSend(t, alice, room, "pr1", "hello profanity, from the room", protocols.EncE2EE); err != nil || res.Encryption != protocols.EncE2EE {
		t.Fatalf("alice sends: %+v %v", res, err)
	}
	if l := bob.WaitForText("hello profanity, from the room", testserver.ProfanityTimeout); !l.Encrypted {
		t.Fatalf("profanity shows Polyglot's room message unencrypted: %+v", l)
	}
	bob.Send("hello polyglot, from profanity in the room")
	if l := bob.WaitForText("hello polyglot, from profanity in the room", testserver.ProfanityTimeout); !l.Encrypted {
		t.Fatalf("profanity sent its room message unencrypted: %+v", l)
	}
	m := ain.body("hello polyglot, from profanity in the room")
	if m.Encryption != protocols.EncE2EE || m.Undecryptable || m.Outgoing {
		t.Fatalf("alice got %+v", m)
	}
	if n := undecryptable(ain.msgs); len(n) > 0 {
		t.Errorf("undecryptable notices: %v", n)
	}
	data := filepath.Join(p.Dir(), "data")
	for _, s := range []string{"hello profanity, from the room", "hello polyglot, from profanity"} {
		if hits := grepDir(t, data, s); len(hits) > 0 {
			t.Errorf("plaintext %q on the server's disk: %v", s, hits)
		}
	}
}
