package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/internal/testserver"
)

// TestAccountAddNameAndReach: `account add … --name N --reach R` keeps both
// in config.toml; an unknown --reach is refused (exit 2, naming the
// choices) before any password is read, and writes nothing.
func TestAccountAddNameAndReach(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("carol", "carol-pw-5b1")
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pw, []byte("carol-pw-5b1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"account", "add", "xmpp", "carol@localhost", "--server", srv.Addr(), "--ca-file", srv.CAFile()}

	_, stderr, code := p.run("", append(base, "--reach", "friends")...) // no --password-file: must not be needed
	if code != exitUsage || !strings.Contains(stderr, `"contacts"`) {
		t.Fatalf("--reach friends: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(p.configFile()); err == nil {
		t.Fatal("a refused account wrote config.toml")
	}

	if _, stderr, code := p.run("", append(base, "--password-file", pw, "--name", "Work chat", "--reach", "own-server")...); code != 0 {
		t.Fatalf("account add: exit %d: %s", code, stderr)
	}
	cfg, _ := os.ReadFile(p.configFile())
	for _, want := range []string{`display_name = "Work chat"`, `reachability = "own-server"`} {
		if !strings.Contains(string(cfg), want) {
			t.Fatalf("config.toml lacks %s:\n%s", want, cfg)
		}
	}
	if out, _, _ := p.run("", "account", "list"); !strings.Contains(out, "Work chat") {
		t.Fatalf("account list does not name the account:\n%s", out)
	}
}
