package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/internal/testserver"
)

// TestAccountSecretsInRealKeyring is issue 4 from the command line: with a
// Secret Service on the session bus and no passphrase file, `account add`
// keeps the password in the OS keyring (secret-tool finds it; no
// secrets.age, no plaintext anywhere under the XDG dirs), `doctor` names
// the keyring backend, and `account remove` deletes every item the account
// had there.
func TestAccountSecretsInRealKeyring(t *testing.T) {
	srv := testserver.StartProsody(t)
	const alicePass = "keyring-Alice-pw!"
	srv.Register("alice", alicePass)
	ss := testserver.StartSecretService(t)

	p := newProfile(t)
	// No passphrase: if polyglot fell back to the file it would have to ask,
	// and with no terminal that fails the run.
	p.passFile = ""
	p.extraEnv = append(p.extraEnv, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
	pwFile := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pwFile, []byte(alicePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pwFile)
	if code != 0 {
		t.Fatalf("account add: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "secrets are in the keyring keystore") {
		t.Fatalf("account add does not say the keyring holds the secrets: %q", out)
	}
	const id = "xmpp:alice@localhost"
	got, ok := ss.Lookup("service", "polyglot", "username", "account/"+id+"/password")
	if !ok {
		t.Fatalf("no password item in the keyring; polyglot items:\n%s", ss.Search("service", "polyglot"))
	}
	if got != base64.StdEncoding.EncodeToString([]byte(alicePass)) {
		t.Fatalf("keyring holds %q, want the base64 of the password", got)
	}
	if files, _ := filepath.Glob(filepath.Join(p.data, "polyglot", "*.age")); len(files) != 0 {
		t.Fatalf("secrets file written although the keyring answered: %v", files)
	}
	p.assertNoSecret(alicePass)

	out, stderr, code = p.run("", "doctor")
	if code != 0 || !strings.Contains(out, "keystore unlocked (keyring)") || !strings.Contains(out, id+": online") {
		t.Fatalf("doctor: exit %d\n%s%s", code, out, stderr)
	}
	logb, _ := os.ReadFile(filepath.Join(p.state, "polyglot", "polyglot.log"))
	if !strings.Contains(string(logb), "using the OS keyring") {
		t.Errorf("the log does not say the keyring is used:\n%s", logb)
	}

	before := ss.Search("service", "polyglot")
	if !strings.Contains(before, "attribute.username = account/"+id+"/password") {
		t.Fatalf("secret-tool search does not list the password item:\n%s", before)
	}

	out, stderr, code = p.run("", "account", "remove", id)
	if code != 0 {
		t.Fatalf("account remove: exit %d\n%s%s", code, out, stderr)
	}
	if left := ss.Search("service", "polyglot"); strings.Contains(left, "account/"+id+"/") {
		t.Fatalf("account remove left items in the keyring:\n%s", left)
	}
	if _, ok := ss.Lookup("service", "polyglot", "username", "account/"+id+"/password"); ok {
		t.Fatal("password still in the keyring after account remove")
	}
}
