package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/internal/testserver"
)

// TestAccountAddRemoveKeepsHandWrittenConfig: `account add` against a real
// Prosody and `account remove` edit config.toml in place, so the user's
// comments and layout survive both.
func TestAccountAddRemoveKeepsHandWrittenConfig(t *testing.T) {
	srv := testserver.StartProsody(t)
	const pass = "Carol-pw-42"
	srv.Register("carol", pass)
	p := newProfile(t)
	pwFile := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	handWritten := "# My Polyglot config. Hand-written, please keep this note.\n\n" +
		"[notifications]\n" +
		"bell    = true    # I want to hear it\n" +
		"desktop = 'osc9'  # WezTerm at home\n"
	if err := os.MkdirAll(filepath.Dir(p.configFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.configFile(), []byte(handWritten), 0o600); err != nil {
		t.Fatal(err)
	}

	_, stderr, code := p.run("", "account", "add", "xmpp", "carol@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pwFile)
	if code != 0 {
		t.Fatalf("account add: exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(p.configFile())
	if !strings.HasPrefix(string(got), handWritten) {
		t.Fatalf("account add did not keep the hand-written text:\n%s", got)
	}
	added := string(got)[len(handWritten):]
	if !strings.HasPrefix(added, "\n[[account]]\n") || !strings.Contains(added, `address = "carol@localhost"`) {
		t.Fatalf("the new account is not a block at the end:\n%s", got)
	}
	out, stderr, code := p.run("", "account", "list")
	if code != 0 || !strings.Contains(out, "carol@localhost") {
		t.Fatalf("account list: exit %d\n%s%s", code, out, stderr)
	}

	_, stderr, code = p.run("", "account", "remove", "carol@localhost")
	if code != 0 {
		t.Fatalf("account remove: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(p.configFile()); string(got) != handWritten {
		t.Fatalf("after add and remove config.toml is not the hand-written file:\n%s", got)
	}
	if _, err := os.Stat(p.configFile() + ".bak"); err == nil {
		t.Fatal("a backup was written: the edit fell back to a full rewrite")
	}
}
