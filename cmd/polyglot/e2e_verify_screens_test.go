package main

import (
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestVerificationFinishedOnAnotherScreen: a verification belongs to the
// core, not to the screen that started it. Alice's core runs headless
// (`polyglot serve`) with two screens attached; she starts verifying Carol
// in screen A, Carol accepts in her own terminal, and Alice compares the
// emoji and confirms in screen B. Both of Alice's screens then show Carol
// verified.
func TestVerificationFinishedOnAnotherScreen(t *testing.T) {
	d := testserver.StartDendrite(t)
	d.CreateUser("alice", "alice-pw-c41")
	d.CreateUser("carol", "carol-pw-9d2")
	alice, carol := newProfile(t), newProfile(t)
	addMatrixAccount(t, alice, d, "@alice:localhost", "alice-pw-c41")
	addMatrixAccount(t, carol, d, "@carol:localhost", "carol-pw-9d2")
	if out, stderr, code := alice.run("", "send", "--timeout", "60s", "--to", "@carol:localhost", "hi carol, verify across screens?"); code != 0 {
		t.Fatalf("send: exit %d: %s%s", code, out, stderr)
	}

	sc := tmuxtest.Start(t, 110, 36, append(carol.env(), "LANG=C.UTF-8"), binPath)
	sc.WaitFor(30*time.Second, "@carol:localhost online")
	sc.WaitFor(30*time.Second, "Requests (1)")
	sc.Keys("r")
	sc.WaitFor(10*time.Second, "[a] Accept")
	sc.Keys("a")
	sc.WaitGone(10*time.Second, "[a] Accept")
	pressEscape(sc, 1)

	startServe(t, alice)
	env := append(alice.env(), "LANG=C.UTF-8")
	a := tmuxtest.Start(t, 110, 36, env, binPath, "attach")
	b := tmuxtest.Start(t, 110, 36, env, binPath, "attach")
	for _, s := range []*tmuxtest.Session{a, b} {
		s.WaitFor(30*time.Second, "@alice:localhost online")
	}
	openConversation(t, a, "carol")
	a.WaitFor(10*time.Second, "hi carol, verify across screens?", "via Matrix")
	pressEscape(a, 1) // leave the composer: V is a key, not a letter
	a.Keys("V")
	a.WaitFor(20*time.Second, "Verify keys with carol", "Waiting for carol to accept")

	sc.WaitFor(30*time.Second, "asks to verify keys — press V")
	sc.Keys("V")
	sc.WaitFor(10*time.Second, "wants to verify keys with you", "[a] accept")
	sc.Keys("a")

	// Screen B never saw the start: the core tells it what waits for Alice.
	b.WaitFor(30*time.Second, "compare emoji with carol — press V")
	b.Keys("V")
	screenB, _ := b.WaitFor(30*time.Second, "Compare these emoji", "[y] they match")
	screenC, _ := sc.WaitFor(30*time.Second, "Compare these emoji", "[y] they match")
	eb, ec := sasNames(screenB), sasNames(screenC)
	if len(eb) != 7 || strings.Join(eb, ",") != strings.Join(ec, ",") {
		t.Fatalf("screen B and Carol must list the same seven emoji:\nB %q\ncarol %q\n%s\n%s", eb, ec, screenB, screenC)
	}
	b.Keys("y")
	b.WaitFor(10*time.Second, "You confirmed. Waiting for carol")
	sc.Keys("y")
	sc.WaitFor(30*time.Second, "alice is verified")
	b.WaitFor(30*time.Second, "carol is verified")
	a.WaitFor(30*time.Second, "carol is verified") // the screen that started it sees the end
	pressEscape(a, 1)
	a.WaitFor(10*time.Second, "via Matrix · E2EE✓ E2EE verified")
	alice.assertNoSecret("alice-pw-c41")
}
