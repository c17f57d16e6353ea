package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"polyglot/accounts"
	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
	"polyglot/keystore"
)

// countDerivations makes p's runs log at info level, where the keystore
// logs each derivation, whatever POLYGLOT_LOG_LEVEL the tests run with.
func countDerivations(p *profile) { p.extraEnv = append(p.extraEnv, "POLYGLOT_LOG_LEVEL=info") }

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
// second `account add` into the existing one (XMPP, then Matrix), and a
// client start that connects all three accounts each derive the passphrase key exactly once, at
// the default work factor (they used to derive once per secret written:
// three times for an add). The passphrase is never in the log.
func TestOneKeyDerivationPerRun(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw-k1")
	srv.Register("bob", "bob-pw-k2")
	d := testserver.StartDendrite(t)
	erin := d.CreateUser("erin", "erin-pw-k3")
	p := newProfile(t)
	countDerivations(p)

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
	// Matrix writes more secrets: password, access token, pickle key.
	step("account add matrix (existing secrets file)", func() { addMatrixAccount(t, p, d, erin, "erin-pw-k3") })
	step("client start", func() {
		s := tmuxtest.Start(t, 120, 30, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
		s.WaitFor(30*time.Second, "alice@localhost online", "bob@localhost online", "@erin:localhost online")
		s.Keys("q")
		s.WaitFor(15*time.Second, "polyglot exited: 0")
	})
	if log := p.logTail(400); strings.Contains(log, p.passphrase) {
		t.Fatal("the passphrase is in the log")
	}
	p.assertNoSecret("alice-pw-k1")
}

// TestSecretsFileOfAnOlderPolyglotKeepsWorking: a secrets file as polyglot
// wrote it before the key file (the whole file under the passphrase, work
// factor 18) is refused unchanged under a wrong passphrase, then unlocked by
// the right one — the account logs in with the password it holds — and
// moved to the key file layout (that one run derives twice: read the old
// file, wrap the new key); every run after derives once.
func TestSecretsFileOfAnOlderPolyglotKeepsWorking(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw-old")
	p := newProfile(t)
	countDerivations(p)
	writeConfig(t, p, fmt.Sprintf("keystore = \"file\"\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"alice@localhost\"\nserver = %q\nca_file = %q\n", srv.Addr(), srv.CAFile()))
	dir := filepath.Join(p.data, "polyglot")
	old := writeOldSecretsFile(t, dir, p.passphrase, map[string][]byte{
		keystore.AccountSecret("xmpp:alice@localhost", accounts.SecretPassword): []byte("alice-pw-old"),
	})

	wrong := *p
	wrong.passFile = filepath.Join(p.root, "wrong")
	os.WriteFile(wrong.passFile, []byte("not it\n"), 0o600)
	if _, stderr, code := wrong.run("", "account", "list", "--online"); code != exitUsage || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("wrong passphrase on the old file: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, keystore.FileName)); !bytes.Equal(got, old) {
		t.Fatal("a wrong passphrase changed the old secrets file")
	}

	for run, want := range []int{2, 1} {
		before := derivationsLogged(t, p)
		out, stderr, code := p.run("", "account", "list", "--online")
		if code != 0 || !strings.Contains(out, "online") {
			t.Fatalf("run %d: exit %d: %s%s", run+1, code, out, stderr)
		}
		if n := derivationsLogged(t, p) - before; n != want {
			t.Fatalf("run %d derived the passphrase key %d times, want %d", run+1, n, want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, keystore.FileName)); bytes.Contains(got, []byte("-> scrypt")) {
		t.Fatal("the old secrets file was not moved to the key file")
	}
	if !strings.Contains(p.logTail(200), "secrets file moved to a key") {
		t.Fatal("the move is not in the log")
	}
	p.assertNoSecret("alice-pw-old")
}

// writeOldSecretsFile writes secrets the way polyglot did before
// secrets.key.age: one age file under the passphrase (scrypt, work
// factor 18), holding {"version":1,"secrets":{name: base64}}.
func writeOldSecretsFile(t *testing.T, dir, pass string, secrets map[string][]byte) []byte {
	t.Helper()
	plain, err := json.Marshal(map[string]any{"version": 1, "secrets": secrets})
	if err != nil {
		t.Fatal(err)
	}
	rcp, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcp)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, keystore.FileName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
