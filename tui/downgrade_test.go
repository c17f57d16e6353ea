package tui

import (
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

// downgradeWorld refuses a send that is not allowed or queued, as the core
// does when only XMPP (TLS) is online.
func downgradeWorld() *fakeCore {
	f := chatWorld(3)
	mx := inbox.Route{Account: "mx", Network: protocols.Matrix, To: protocols.Address{Network: protocols.Matrix, ID: "@ada:example.org"}, Encryption: protocols.EncE2EE}
	xm := inbox.Route{Account: "xm", Network: protocols.XMPP, To: protocols.Address{Network: protocols.XMPP, ID: "ada@jabber.example"}, Encryption: protocols.EncTransport, Online: true}
	f.routes[1] = []inbox.Route{mx, xm}
	f.sendErr = func(r inbox.SendRequest) error {
		if r.AllowDowngrade || r.Queue || f.allow[1] {
			return nil
		}
		return &inbox.DowngradeError{Best: mx, Offered: xm, Plan: inbox.RoutePlan{Route: xm, Best: mx, NeedsOK: true, CanQueue: true}}
	}
	return f
}

func promptUp(t *testing.T) (*fakeCore, *harness) {
	f := downgradeWorld()
	h := newHarness(t, f, 100, 30)
	h.keys("enter")
	h.typeText("secret plans")
	h.keys("enter")
	h.mustShow("Matrix (E2EE) is offline. Send via XMPP — TLS only, servers can read it?",
		"[y] send this one", "[a] always allow for this person", "[w] wait for Matrix (queue)", "[n] cancel")
	if len(f.sent) != 0 {
		t.Fatal("nothing may be sent before the user answers")
	}
	return f, h
}

func TestDowngradeSendThisOne(t *testing.T) {
	f, h := promptUp(t)
	h.keys("y")
	if len(f.sent) != 1 || !f.sent[0].AllowDowngrade || f.sent[0].Route == nil || f.sent[0].Route.Network != protocols.XMPP {
		t.Fatalf("y sent %+v", f.sent)
	}
	if f.allow[1] {
		t.Fatal("y must not set the per-person rule")
	}
	h.mustNotShow("[y] send this one")
	if h.m.conv.composer.value() != "" {
		t.Fatal("sent draft should clear")
	}
}

func TestDowngradeAlwaysAllow(t *testing.T) {
	f, h := promptUp(t)
	h.keys("a")
	if !f.allow[1] || len(f.sent) != 1 {
		t.Fatalf("a: rule %v, sent %d", f.allow[1], len(f.sent))
	}
}

func TestDowngradeWaitQueues(t *testing.T) {
	f, h := promptUp(t)
	h.keys("w")
	if len(f.sent) != 1 || !f.sent[0].Queue || f.sent[0].AllowDowngrade {
		t.Fatalf("w sent %+v, want queued without downgrade", f.sent)
	}
	h.mustShow("queued")
}

func TestDowngradeCancelKeepsDraft(t *testing.T) {
	f, h := promptUp(t)
	h.keys("x") // not a choice: the prompt stays
	h.mustShow("[y] send this one")
	h.keys("n")
	if len(f.sent) != 0 {
		t.Fatal("n must not send")
	}
	if got := h.m.conv.composer.value(); got != "secret plans" {
		t.Fatalf("draft after cancel: %q", got)
	}
	h.mustShow("draft is still in the composer")
}
