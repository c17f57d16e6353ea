package tui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/demotest"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// demoRouteWorld is the demo world (its simulated Matrix, XMPP and
// WhatsApp accounts) feeding a real inbox store on a SQLite file, with the
// merges the demo user confirmed, as `polyglot demo` runs it. Its clock
// runs at a tenth of real time so the scripted Matrix outage (20 s in, so
// 200 s here) stays out of the test: the test takes networks down itself.
type demoRouteWorld struct {
	world *demo.World
	in    *inbox.Inbox
}

func newDemoRouteWorld(t *testing.T) *demoRouteWorld {
	t.Helper()
	in, err := inbox.Open(filepath.Join(t.TempDir(), "demo.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	world := demo.New(demo.Options{Seed: 1, Speed: 0.1})
	for _, ids := range world.People() {
		var keep inbox.PersonID
		for _, addr := range ids {
			if err := in.Ingest(string(addr.Account), protocols.ContactEvent{Contact: addr}); err != nil {
				t.Fatal(err)
			}
			p, err := in.PersonOf(addr)
			if err != nil {
				t.Fatal(err)
			}
			if keep == 0 {
				keep = p
			} else if p != keep {
				if err := in.Merge(keep, p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	demotest.Connect(t, in, world)
	return &demoRouteWorld{world: world, in: in}
}

// waitState waits until the inbox has network n's account in state st.
func (w *demoRouteWorld) waitState(t *testing.T, n protocols.Network, st protocols.ConnState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, s := range w.in.AccountStates() {
			if s.Network == n && s.State == st {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %v: %+v", n, st, w.in.AccountStates())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sentOn waits for the demo network to carry body and returns how.
func (w *demoRouteWorld) sentOn(t *testing.T, body string) demo.Outbound {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ob := range w.world.Outbound() {
			if ob.Kind == demo.OutMessage && ob.Body == body {
				return ob
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q never reached a network: %+v", body, w.world.Outbound())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWhatsAppMatrixRouteInTheDemoWorld (issue 13, must-show 5): Alice
// Martin is one person with a verified Matrix identity, a WhatsApp one
// (end-to-end, nothing to verify) and an XMPP one (TLS only). Her messages
// go the better-verified way, Matrix, while it is up; when Matrix drops
// the route plan falls back to WhatsApp — from verified to unverified
// E2EE, which the plan counts as a downgrade: the line says it needs the
// user's OK, enter asks, and y sends this one over WhatsApp; with the
// person's allow-downgrade rule it goes over WhatsApp without asking, the
// line naming the rule. When WhatsApp drops instead, Matrix carries it.
// In every step the route line names the network and class the message
// then went with, read back from the demo network and from the store.
func TestWhatsAppMatrixRouteInTheDemoWorld(t *testing.T) {
	w := newDemoRouteWorld(t)
	alice, err := w.in.FindConversation("matrix:@alice:matrix.example")
	if err != nil {
		t.Fatal(err)
	}
	conv, err := w.in.Conversation(alice)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 120, 40)
	h.send(openConversationMsg{ID: alice})

	steps := []struct {
		name     string
		down     []protocols.Network
		rule     bool
		net      protocols.Network
		enc      protocols.Encryption
		needsOK  bool
		byRule   bool
		fallback bool
	}{
		{name: "both up", net: protocols.Matrix, enc: protocols.EncE2EEVerified},
		{name: "Matrix down", down: []protocols.Network{protocols.Matrix}, net: protocols.WhatsApp, enc: protocols.EncE2EE, needsOK: true},
		{name: "Matrix down, rule on", down: []protocols.Network{protocols.Matrix}, rule: true, net: protocols.WhatsApp, enc: protocols.EncE2EE, byRule: true},
		{name: "WhatsApp down", down: []protocols.Network{protocols.WhatsApp}, net: protocols.Matrix, enc: protocols.EncE2EEVerified},
		{name: "both up again", net: protocols.Matrix, enc: protocols.EncE2EEVerified},
	}
	for i, st := range steps {
		down := map[protocols.Network]bool{}
		for _, n := range st.down {
			down[n] = true
		}
		for _, n := range []protocols.Network{protocols.Matrix, protocols.WhatsApp} {
			w.world.SetDown(n, down[n])
			want := protocols.ConnOnline
			if down[n] {
				want = protocols.ConnOffline
			}
			w.waitState(t, n, want)
		}
		if err := w.in.SetAllowDowngrade(conv.Person, st.rule); err != nil {
			t.Fatal(err)
		}
		h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}, {Kind: inbox.ChangePeople}, {Kind: inbox.ChangeMessages, Conversation: alice}}})

		body := "route step " + string(rune('a'+i))
		h.typeText(body)
		shown := readRoute(t, h)
		plan, err := w.in.PlanRoute(context.Background(), alice, inbox.RouteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s: "+format+"\nplan %+v\n%s", append(append([]any{st.name}, args...), plan.Route, h.view())...)
		}
		if shown.net != st.net || shown.enc != st.enc || shown.needsOK != st.needsOK || shown.byRule != st.byRule {
			fail("the route line says %q", shown.raw)
		}
		if plan.Route.Network != shown.net || plan.Route.Encryption != shown.enc || plan.NeedsOK != shown.needsOK {
			fail("the line %q is not the route plan", shown.raw)
		}
		if st.net == protocols.WhatsApp && (!plan.Fallback || !strings.Contains(strings.ToLower(shown.explain+shown.raw), "matrix")) {
			fail("a fallback that does not say what it falls back from: %q / %q", shown.explain, shown.raw)
		}

		h.keys("enter")
		if prompted := h.m.conv.prompt != nil; prompted != st.needsOK {
			fail("downgrade prompt shown: %v", prompted)
		}
		if st.needsOK {
			if q := h.m.conv.prompt.question(); !strings.Contains(q, "WhatsApp") {
				fail("the prompt does not name WhatsApp: %q", q)
			}
			h.keys("y")
		}
		ob := w.sentOn(t, body)
		if ob.Network != shown.net || ob.Encryption != shown.enc {
			fail("the line said %s %s; the message went %s %s", shown.net, shown.enc, ob.Network, ob.Encryption)
		}
		ms, err := w.in.Messages(alice, inbox.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		var stored *inbox.Message
		for i := range ms {
			if ms[i].Body == body {
				stored = &ms[i]
			}
		}
		if stored == nil || stored.Network != shown.net || stored.Encryption != shown.enc {
			fail("stored as %+v", stored)
		}
		t.Logf("%s: %q → %s %s", st.name, shown.raw, ob.Network, ob.Encryption)
	}
}
