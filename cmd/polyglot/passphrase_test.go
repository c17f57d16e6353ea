package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/internal/testserver"
	"polyglot/keystore"
)

// TestChangePassphrase: `polyglot passphrase --new-passphrase-file F`
// re-encrypts the secrets file; a wrong current passphrase changes
// nothing; afterwards only the new passphrase unlocks the account's
// password, which still logs in to the real Prosody.
func TestChangePassphrase(t *testing.T) {
	srv := testserver.StartProsody(t)
	const alicePass = "pw-Alice-7f3e"
	srv.Register("alice", alicePass)
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pw, []byte(alicePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, stderr, code := p.run("", "passphrase"); code != exitUsage || !strings.Contains(stderr, "no secrets file yet") {
		t.Fatalf("passphrase before any account: exit %d: %s", code, stderr)
	}
	if _, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: exit %d: %s", code, stderr)
	}
	secrets := filepath.Join(p.data, "polyglot", keystore.FileName)
	before, err := os.ReadFile(secrets)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(p.data, "polyglot", keystore.KeyFileName)
	keyBefore, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	const newPass = "a new and longer passphrase 9d1"
	newFile := filepath.Join(p.root, "new-passphrase")
	if err := os.WriteFile(newFile, []byte(newPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	current := p.passphrase
	if err := os.WriteFile(p.passFile, []byte("not the passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := p.run("", "passphrase", "--new-passphrase-file", newFile)
	if code != exitUsage || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("wrong current passphrase: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(secrets); !bytes.Equal(before, after) {
		t.Fatal("a refused change rewrote the secrets file")
	}
	if after, _ := os.ReadFile(keyFile); !bytes.Equal(keyBefore, after) {
		t.Fatal("a refused change rewrote the key file")
	}

	if err := os.WriteFile(p.passFile, []byte(current+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := p.run("", "passphrase", "--new-passphrase-file", newFile)
	if code != 0 || !strings.Contains(out, "passphrase changed") {
		t.Fatalf("passphrase: exit %d: %s%s", code, out, stderr)
	}
	_, stderr, code = p.run("", "account", "list", "--online")
	if code != exitUsage || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("the old passphrase still unlocks: exit %d: %s", code, stderr)
	}

	if err := os.WriteFile(p.passFile, []byte(newPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = p.run("", "account", "list", "--online")
	if code != 0 || !strings.Contains(out, "online") {
		t.Fatalf("with the new passphrase the account does not log in: exit %d: %s%s", code, out, stderr)
	}
	p.assertNoSecret(alicePass)
	p.assertNoSecret(newPass)
}
