package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// emojiLine is one row of the SAS comparison: "   3.  🐶  Dog".
var emojiLine = regexp.MustCompile(`(?m)^\s+[1-7]\.\s+\S+\s+(\S[^\n]*?)\s*$`)

func sasNames(screen string) []string {
	var out []string
	for _, m := range emojiLine.FindAllStringSubmatch(screen, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestVerifyByEmojiInTwoTerminals: two people, each running Polyglot in
// their own terminal against a real Dendrite, verify each other by SAS.
// Alice presses V in the conversation; Carol sees the request in her status
// bar, opens it and accepts; both terminals list the same seven emoji; both
// confirm; both then show the other as verified, and Alice's next message
// goes out "E2EE verified".
func TestVerifyByEmojiInTwoTerminals(t *testing.T) {
	d := testserver.StartDendrite(t)
	d.CreateUser("alice", "alice-pw-5e1")
	d.CreateUser("carol", "carol-pw-0b7")
	alice, carol := newProfile(t), newProfile(t)
	alice.extraEnv = []string{"POLYGLOT_LOG_LEVEL=debug"}
	carol.extraEnv = alice.extraEnv
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*profile{alice, carol} {
				b, err := os.ReadFile(filepath.Join(p.state, "polyglot", "polyglot.log"))
				t.Logf("log: %d bytes, %v", len(b), err)
				lines := strings.Split(string(b), "\n")
				for _, l := range lines[max(0, len(lines)-60):] {
					t.Log(l)
				}
			}
		}
	})
	addMatrixAccount(t, alice, d, "@alice:localhost", "alice-pw-5e1")
	addMatrixAccount(t, carol, d, "@carol:localhost", "carol-pw-0b7")
	if out, stderr, code := alice.run("", "send", "--timeout", "60s", "--to", "@carol:localhost", "hi carol, shall we verify?"); code != 0 {
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

	sa := tmuxtest.Start(t, 110, 36, append(alice.env(), "LANG=C.UTF-8"), binPath)
	sa.WaitFor(30*time.Second, "@alice:localhost online")
	openConversation(t, sa, "carol")
	sa.WaitFor(10*time.Second, "hi carol, shall we verify?", "via Matrix")
	if strings.Contains(sa.Screen(), "E2EE verified") {
		t.Fatalf("verified before any verification:\n%s", sa.Screen())
	}
	pressEscape(sa, 1) // leave the composer: V is a key, not a letter
	sa.Keys("V")
	sa.WaitFor(20*time.Second, "Verify keys with carol", "Waiting for carol to accept")

	sc.WaitFor(30*time.Second, "asks to verify keys — press V")
	sc.Keys("V")
	sc.WaitFor(10*time.Second, "wants to verify keys with you", "[a] accept")
	sc.Keys("a")

	screenA, _ := sa.WaitFor(30*time.Second, "Compare these emoji", "[y] they match")
	screenC, _ := sc.WaitFor(30*time.Second, "Compare these emoji", "[y] they match")
	ea, ec := sasNames(screenA), sasNames(screenC)
	if len(ea) != 7 || strings.Join(ea, ",") != strings.Join(ec, ",") {
		t.Fatalf("the two terminals must list the same seven emoji:\nalice %q\ncarol %q\n%s\n%s", ea, ec, screenA, screenC)
	}
	sa.Keys("y")
	sa.WaitFor(10*time.Second, "You confirmed. Waiting for carol")
	sc.Keys("y")
	sa.WaitFor(30*time.Second, "carol is verified")
	sc.WaitFor(30*time.Second, "alice is verified")

	// Back in the conversation the route is now verified, and so is the
	// next message.
	pressEscape(sa, 1)
	sa.WaitFor(10*time.Second, "via Matrix · E2EE✓ E2EE verified")
	sa.Keys("i")
	sa.Type("now verified")
	sa.Keys("Enter")
	openConversation(t, sc, "alice")
	screen, _ := sc.WaitFor(30*time.Second, "now verified")
	// The message's header line (above its body) carries its class.
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "now verified" && (i == 0 || !strings.Contains(lines[i-1], "E2EE✓")) {
			t.Fatalf("carol sees alice's message without the verified mark:\n%s", screen)
		}
	}
	// Even at debug level the logs hold no password.
	alice.assertNoSecret("alice-pw-5e1")
	carol.assertNoSecret("carol-pw-0b7")
}
