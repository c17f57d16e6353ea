package xmpp

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

func decodeMsg(t *testing.T, s string) *inMessage {
	t.Helper()
	var m inMessage
	if err := xml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return &m
}

// roundTrip marshals what we would send and reads it back with the same
// decoder that reads the XEP's example.
func roundTrip(t *testing.T, out outMessage) *inMessage {
	t.Helper()
	b, err := xml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	// on the wire the stream's default namespace is jabber:client
	s := strings.Replace(string(b), "<message", `<message xmlns="jabber:client"`, 1)
	return decodeMsg(t, s)
}

// Each case: the XEP's own example, what we must read from it, and the same
// payload built by our sending code must read back identically.
func TestPayloadsAgainstXEPExamples(t *testing.T) {
	i := func(n int) *int { return &n }
	cases := []struct {
		name  string
		xep   string
		check func(*inMessage) bool
		ours  outMessage
	}{
		{"XEP-0085 composing",
			`<message xmlns='jabber:client' from='bernardo@shakespeare.lit/pda' to='francisco@shakespeare.lit/elsinore' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
			func(m *inMessage) bool { return m.state() == StateComposing && m.body() == "" },
			outMessage{To: "francisco@shakespeare.lit/elsinore", Type: "chat", ChatState: NewChatState(StateComposing)}},
		{"XEP-0085 active with body",
			`<message xmlns='jabber:client' from='bernardo@shakespeare.lit/pda' to='francisco@shakespeare.lit' type='chat'><body>Who's there?</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
			func(m *inMessage) bool { return m.state() == StateActive && m.body() == "Who's there?" },
			outMessage{To: "francisco@shakespeare.lit", Type: "chat", Body: "Who's there?", ChatState: NewChatState(StateActive)}},
		{"XEP-0359 origin-id",
			`<message xmlns='jabber:client' to='room@muc.example.com' type='groupchat'><body>Typical body text</body><origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/></message>`,
			func(m *inMessage) bool {
				return m.OriginID != nil && m.OriginID.ID == "de305d54-75b4-431b-adb2-eb6b9e546013"
			},
			outMessage{To: "room@muc.example.com", Type: "groupchat", Body: "Typical body text", OriginID: &OriginID{ID: "de305d54-75b4-431b-adb2-eb6b9e546013"}}},
		{"XEP-0359 stanza-id",
			`<message xmlns='jabber:client' to='juliet@capulet.example/balcony' from='romeo@montague.example/orchard' type='chat'><body>Wherefore art thou?</body><stanza-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013' by='juliet@capulet.example'/></message>`,
			func(m *inMessage) bool {
				return m.stanzaID("juliet@capulet.example") == "de305d54-75b4-431b-adb2-eb6b9e546013" && m.stanzaID("romeo@montague.example") == ""
			},
			outMessage{}},
		{"XEP-0308 correction",
			`<message xmlns='jabber:client' to='juliet@capulet.net/balcony' id='good1'><body>But soft, what light through yonder window breaks?</body><replace id='bad1' xmlns='urn:xmpp:message-correct:0'/></message>`,
			func(m *inMessage) bool { return m.Replace != nil && m.Replace.ID == "bad1" && m.ID == "good1" },
			outMessage{To: "juliet@capulet.net/balcony", ID: "good1", Body: "But soft, what light through yonder window breaks?", Replace: &Replace{ID: "bad1"}}},
		{"XEP-0444 reactions",
			`<message xmlns='jabber:client' to='romeo@montague.lit' id='96d73204-a57a-11e9-88b8-4889e7820c76' type='chat'><reactions id='744f6e18-a57a-11e9-a656-4889e7820c76' xmlns='urn:xmpp:reactions:0'><reaction>👋</reaction><reaction>🐢</reaction></reactions><store xmlns='urn:xmpp:hints'/></message>`,
			func(m *inMessage) bool {
				return m.Reactions != nil && m.Reactions.ID == "744f6e18-a57a-11e9-a656-4889e7820c76" && reflect.DeepEqual(m.Reactions.Reactions, []string{"👋", "🐢"})
			},
			outMessage{To: "romeo@montague.lit", ID: "96d73204-a57a-11e9-88b8-4889e7820c76", Type: "chat", Reactions: &Reactions{ID: "744f6e18-a57a-11e9-a656-4889e7820c76", Reactions: []string{"👋", "🐢"}}, Store: &Store{}}},
		{"XEP-0424 retraction (current)",
			`<message xmlns='jabber:client' type='chat' to='lord@capulet.example' id='retract-message-1'><retract id='origin-id-1' xmlns='urn:xmpp:message-retract:1'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/><body>/me retracted a previous message, but it's unsupported by your client.</body><store xmlns='urn:xmpp:hints'/></message>`,
			func(m *inMessage) bool { return m.retractTarget() == "origin-id-1" && len(m.unknownPayloads()) == 0 },
			outMessage{To: "lord@capulet.example", Type: "chat", ID: "retract-message-1", Retract: &Retract{ID: "origin-id-1"}, Fallbacks: []Fallback{{For: nsRetract1}}, Body: "/me retracted a previous message, but it's unsupported by your client.", Store: &Store{}}},
		{"XEP-0424 retraction (0.x fastening, as slixmpp sends)",
			`<message xmlns='jabber:client' type='chat' to='lord@capulet.example' id='retract-message-1'><body>This person attempted to retract a previous message, but it's unsupported by your client.</body><apply-to id="origin-id-1" xmlns="urn:xmpp:fasten:0"><retract xmlns="urn:xmpp:message-retract:0" /></apply-to><fallback xmlns="urn:xmpp:fallback:0"/></message>`,
			func(m *inMessage) bool { return m.retractTarget() == "origin-id-1" },
			outMessage{To: "lord@capulet.example", Type: "chat", ID: "retract-message-1", ApplyTo: &ApplyTo{ID: "origin-id-1", Retract: &struct{}{}}}},
		{"XEP-0333 markable",
			`<message xmlns='jabber:client' from='northumberland@shakespeare.lit/westminster' id='message-1' to='westmoreland@shakespeare.lit'><body>My lord, dispatch; read o'er these articles.</body><markable xmlns='urn:xmpp:chat-markers:0'/></message>`,
			func(m *inMessage) bool { return m.Markable != nil },
			outMessage{To: "westmoreland@shakespeare.lit", ID: "message-1", Body: "My lord, dispatch; read o'er these articles.", Markers: []*Marker{NewMarker("markable", "")}}},
		{"XEP-0333 displayed",
			`<message xmlns='jabber:client' from='westmoreland@shakespeare.lit/evesham' id='message-2' to='northumberland@shakespeare.lit/westminster'><displayed xmlns='urn:xmpp:chat-markers:0' id='message-1'/></message>`,
			func(m *inMessage) bool { return m.MarkShown != nil && m.MarkShown.ID == "message-1" },
			outMessage{To: "northumberland@shakespeare.lit/westminster", ID: "message-2", Markers: []*Marker{NewMarker("displayed", "message-1")}}},
		{"XEP-0184 request and receipt",
			`<message xmlns='jabber:client' from='kingrichard@royalty.england.lit/throne' id='richard2-4.1.247' to='northumberland@shakespeare.lit/westminster'><body>My lord, dispatch; read o'er these articles.</body><request xmlns='urn:xmpp:receipts'/></message>`,
			func(m *inMessage) bool { return m.ReceiptRequest != nil },
			outMessage{To: "northumberland@shakespeare.lit/westminster", ID: "richard2-4.1.247", Body: "My lord, dispatch; read o'er these articles.", Request: &ReceiptRequest{}}},
		{"XEP-0184 received",
			`<message xmlns='jabber:client' from='northumberland@shakespeare.lit/westminster' id='bi29sg183b4v' to='kingrichard@royalty.england.lit/throne'><received xmlns='urn:xmpp:receipts' id='richard2-4.1.247'/></message>`,
			func(m *inMessage) bool { return m.Receipt != nil && m.Receipt.ID == "richard2-4.1.247" },
			outMessage{To: "kingrichard@royalty.england.lit/throne", ID: "bi29sg183b4v", Received: &ReceiptReceived{ID: "richard2-4.1.247"}}},
		{"XEP-0461 reply with fallback",
			"<message xmlns='jabber:client' to='anna@example.com' id='message-id2' type='chat'><body>&gt; Anna wrote:\n&gt; We should bake a cake\nGreat idea!</body><reply to='anna@example.com/tablet' id='message-id1' xmlns='urn:xmpp:reply:0' /><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start=\"0\" end=\"38\" /></fallback></message>",
			func(m *inMessage) bool {
				return m.Reply != nil && m.Reply.ID == "message-id1" && m.Reply.To == "anna@example.com/tablet" &&
					stripFallback(m.body(), m.Fallbacks, nsReply) == "Great idea!"
			},
			outMessage{To: "anna@example.com", ID: "message-id2", Type: "chat", Body: "> Anna wrote:\n> We should bake a cake\nGreat idea!", Reply: &Reply{To: "anna@example.com/tablet", ID: "message-id1"}, Fallbacks: []Fallback{{For: nsReply, Body: []FallbackBody{{Start: i(0), End: i(38)}}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.check(decodeMsg(t, tc.xep)) {
				t.Fatalf("example not understood: %s", tc.xep)
			}
			if tc.ours.To == "" {
				return // receive-only payload
			}
			if m := roundTrip(t, tc.ours); !tc.check(m) {
				b, _ := xml.Marshal(tc.ours)
				t.Fatalf("our encoding does not read back as the example does: %s", b)
			}
		})
	}
}

func TestUnknownPayloadsAreListed(t *testing.T) {
	m := decodeMsg(t, `<message xmlns='jabber:client' type='chat'><x xmlns='urn:example:evil'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>`)
	if got := m.unknownPayloads(); !reflect.DeepEqual(got, []string{"{urn:example:evil}x"}) {
		t.Fatalf("unknown = %v", got)
	}
}

func TestCapBodyCutsOnRuneBoundary(t *testing.T) {
	s := strings.Repeat("é", 10) // 20 bytes
	got, ok := capBody(s, 5)
	if ok || got != "éé" {
		t.Fatalf("capBody = %q %v", got, ok)
	}
	if got, ok := capBody("short", 64); !ok || got != "short" {
		t.Fatal("short body changed")
	}
}

func TestStripFallbackIgnoresBogusRanges(t *testing.T) {
	end := 999
	got := stripFallback("keep me", []Fallback{{For: nsReply, Body: []FallbackBody{{End: &end}}}}, nsReply)
	if got != "keep me" {
		t.Fatalf("bogus range cut the body: %q", got)
	}
}
