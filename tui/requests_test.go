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
		keys []string
		want inbox.Decision
	}{{[]string{"a"}, inbox.Accept}, {[]string{"b", "y"}, inbox.Block}, {[]string{"i"}, inbox.Ignore}} {
		t.Run(decisionName(tc.want), func(t *testing.T) {
			f := world(1)
			f.reqs = sampleRequests()
			h := newHarness(t, f, 90, 30)
			h.keys("r", "j")
			h.keys(tc.keys...)
			if got := f.decided[41]; got != tc.want {
				t.Fatalf("%s on Bob decided %v", tc.keys, got)
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

// Block asks first; a blocked sender is listed under Requests, where u
// unblocks (their request comes back) and p shows the person.
func TestBlockAsksAndCanBeUndone(t *testing.T) {
	f := world(1)
	f.reqs = sampleRequests()
	f.reqs[1].Person = 7
	h := newHarness(t, f, 90, 30)
	h.keys("r", "j", "b")
	h.mustShow("Block Bob? They can't reach you on any network.", "[y] block  [n] cancel")
	h.keys("n")
	if len(f.decided) != 0 {
		t.Fatal("n after b blocked")
	}
	h.mustShow("not blocked", "[a] Accept")

	bob := f.reqs[1]
	bob.Consent = inbox.ConsentBlocked
	f.mu.Lock()
	f.reqs, f.blocked = f.reqs[:1], []inbox.Request{bob}
	f.mu.Unlock()
	h.run(h.m.reqs.refresh())
	h.mustShow("Blocked (1) — u unblocks", "Bob", "[u] Unblock", "Mallory")
	h.keys("j", "a")
	if len(f.decided) != 0 {
		t.Fatal("a on a blocked sender decided")
	}
	h.mustShow("blocked — u unblocks")
	h.keys("u")
	if len(f.unblocked) != 1 || f.unblocked[0] != 7 {
		t.Fatalf("unblocked %v, want person 7", f.unblocked)
	}
	h.mustShow("unblocked Bob: their conversation is back", "@bob:matrix.example")
	h.mustNotShow("Blocked (1)")
	f.people[7] = inbox.Person{ID: 7, Name: "Bob"}
	h.keys("p")
	if h.m.screen != screenPerson || h.m.person.id != 7 {
		t.Fatalf("p on Bob's request opened screen %v", h.m.screen)
	}
}

// A request's conversation names the keys that decide it, and they work
// there: it opens in the history, a accepts, b asks then blocks and leaves.
func TestRequestConversationBannerKeysWork(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want inbox.Decision
	}{{[]string{"a"}, inbox.Accept}, {[]string{"i"}, inbox.Ignore}, {[]string{"b", "y"}, inbox.Block}} {
		t.Run(decisionName(tc.want), func(t *testing.T) {
			f := world(1)
			f.reqs = sampleRequests()
			f.convs = append(f.convs, inbox.Conversation{ID: 40, Kind: inbox.Direct, Title: "Mallory", Request: true})
			h := newHarness(t, f, 120, 30)
			h.keys("r", "enter")
			h.mustShow("message request: [a] accept  [b] block  [i] ignore")
			if h.m.conv.focus != focusHistory {
				t.Fatal("a request's conversation opened in the composer, where a/b/i would be typed")
			}
			h.keys(tc.keys[0])
			if tc.want == inbox.Block {
				h.mustShow("block Mallory? They can't reach you on any network. y/n")
				if len(f.decided) != 0 {
					t.Fatal("b blocked without asking")
				}
				h.keys(tc.keys[1:]...)
			}
			if got, ok := f.decided[40]; !ok || got != tc.want {
				t.Fatalf("%v decided %v (%v)", tc.keys, got, ok)
			}
			if tc.want == inbox.Block && h.m.screen != screenRequests {
				t.Fatalf("after blocking the screen is %v, want Requests", h.m.screen)
			}
		})
	}
}
