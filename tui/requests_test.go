package tui

import (
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

func sampleRequests() []inbox.Request {
	return []inbox.Request{
		{Conversation: 40, From: protocols.Address{Network: protocols.XMPP, ID: "mallory@evil.example", Server: "evil.example"},
			Name: "Mallory", Kind: protocols.RequestMessage, Encryption: protocols.EncTransport, Preview: "hi, click this", Count: 2,
			At: testNow.Add(-2 * time.Hour)},
		{Conversation: 41, From: protocols.Address{Network: protocols.Matrix, ID: "@bob:matrix.example", Server: "matrix.example"},
			Name: "Bob", Kind: protocols.RequestInvite, Encryption: protocols.EncE2EE, Preview: "it's Bob from the conference", Count: 1,
			At: testNow.Add(-5 * time.Minute)},
	}
}

func TestRequestsShowEverythingNeededToDecide(t *testing.T) {
	f := world(1)
	f.reqs = sampleRequests()
	h := newHarness(t, f, 90, 30)
	h.keys("r")
	h.mustShow("Requests (2)", "XM", "Mallory", "mallory@evil.example", "server: evil.example", "TLS only",
		"hi, click this", "2 messages", "@bob:matrix.example", "E2EE, keys not verified", "1 message")
}

func TestRequestsChoicesHaveEqualProminence(t *testing.T) {
	f := world(1)
	f.reqs = sampleRequests()
	h := newHarness(t, f, 90, 30)
	b := h.m.reqs.buttons()
	parts := h.m.reqs.buttonList()
	if len(parts) != 3 {
		t.Fatalf("want three choices, got %q", b)
	}
	for _, p := range parts {
		if styledWidth(p) != styledWidth(parts[0]) {
			t.Fatalf("choices differ in width: %q", parts)
		}
	}
	// Same style: with a colour profile the escape prefixes are identical.
	st := h.m.env.st
	if st.button.Render("x") != st.button.Render("x") || !strings.Contains(b, "[a] Accept") ||
		!strings.Contains(b, "[b] Block ") || !strings.Contains(b, "[i] Ignore") {
		t.Fatalf("choices: %q", b)
	}
}

func TestRequestsDecisions(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want inbox.Decision
	}{{"a", inbox.Accept}, {"b", inbox.Block}, {"i", inbox.Ignore}} {
		t.Run(decisionName(tc.want), func(t *testing.T) {
			f := world(1)
			f.reqs = sampleRequests()
			h := newHarness(t, f, 90, 30)
			h.keys("r", "j", tc.key)
			if got := f.decided[41]; got != tc.want {
				t.Fatalf("%s on Bob decided %v", tc.key, got)
			}
			if _, other := f.decided[40]; other {
				t.Fatal("the unselected request was decided too")
			}
			// The list re-reads: Bob is gone, the count drops.
			h.mustShow("Requests (1)", "Mallory")
			h.mustNotShow("@bob:matrix.example")
		})
	}
}

func TestRequestsOpenWithoutDeciding(t *testing.T) {
	f := world(1)
	f.reqs = sampleRequests()
	f.convs = append(f.convs, inbox.Conversation{ID: 40, Kind: inbox.Direct, Title: "Mallory", Request: true})
	h := newHarness(t, f, 90, 30)
	h.keys("r", "enter")
	if h.m.screen != screenConversation || h.m.conv.id != 40 {
		t.Fatal("enter should open the request's conversation")
	}
	h.mustShow("message request")
	if len(f.decided) != 0 {
		t.Fatal("opening must not decide")
	}
}
