package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// derivationsLogged counts the keystore's "passphrase key derivation"
// lines in the profile's polyglot.log (one per scrypt run, never with the
// passphrase).
func derivationsLogged(t *testing.T, p *profile) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.state, "polyglot", "polyglot.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), "keystore: passphrase key derivation")
}

// TestOneKeyDerivationPerRun: `account add` into a new secrets file, a
// second `account add` into the existing one, and a client start that
// connects both accounts each derive the passphrase key exactly once, at
// the default work factor (they used to derive once per secret written:
// three times for an add). The passphrase is never in the log.
func TestOneKeyDerivationPerRun(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw-k1")
	srv.Register("bob", "bob-pw-k2")
	p := newProfile(t)

	step := func(what string, run func()) {
		t.Helper()
		before := derivationsLogged(t, p)
		start := time.Now()
		run()
		if n := derivationsLogged(t, p) - before; n != 1 {
			t.Fatalf("%s derived the passphrase key %d times, want 1:\n%s", what, n, p.logTail(40))
		}
		t.Logf("%s: %v", what, time.Since(start).Round(10*time.Millisecond))
	}
	step("account add (new secrets file)", func() { addXMPPAccount(t, p, srv, "alice", "alice-pw-k1") })
	step("account add (existing secrets file)", func() { addXMPPAccount(t, p, srv, "bob", "bob-pw-k2") })
	step("client start", func() {
		s := tmuxtest.Start(t, 120, 30, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
		s.WaitFor(30*time.Second, "alice@localhost online", "bob@localhost online")
		s.Keys("q")
		s.WaitFor(15*time.Second, "polyglot exited: 0")
	})
	if log := p.logTail(400); strings.Contains(log, p.passphrase) {
		t.Fatal("the passphrase is in the log")
	}
	p.assertNoSecret("alice-pw-k1")
}
