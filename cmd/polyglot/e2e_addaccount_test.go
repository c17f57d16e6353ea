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

// TestAddAccountFromTheTerminal: with one account added by the CLI, a
// second real Prosody account is added from the TUI's accounts screen. An
// untrusted certificate and a wrong password are refused on the form, each
// with its reason, and save nothing; the right one
// brings the account online without a restart (accounts screen and status
// bar), a stranger's message to it arrives live, `account list` shows it
// afterwards, and no file holds either password.
func TestAddAccountFromTheTerminal(t *testing.T) {
	srv := testserver.StartProsody(t)
	const alicePass, bobPass, wrongPass = "alice-Pw-1!", "bob-Right-Pw-2!", "bob-Wrong-Pw-3!"
	srv.Register("alice", alicePass)
	srv.Register("bob", bobPass)
	srv.Register("carol", "carol-pw")
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	os.WriteFile(pw, []byte(alicePass), 0o600)
	if _, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: %d %s", code, stderr)
	}
	os.Remove(pw)
	configBefore, err := os.ReadFile(p.configFile())
	if err != nil {
		t.Fatal(err)
	}

	// The shell says when polyglot has exited, so the files are read only
	// after it closed them (SQLite removes its -wal and -shm files then).
	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
	s.WaitFor(15*time.Second, "alice@localhost online")
	s.Keys("A")
	s.WaitFor(5*time.Second, "› accounts", "[a] add")
	s.Keys("a")
	s.WaitFor(5*time.Second, "Add an account", "[XMPP]", "Matrix   WhatsApp") // WhatsApp links from the form too
	s.Type("bob@localhost")
	s.Keys("Tab")
	s.Type(srv.Addr())
	s.Keys("Tab", "Tab") // no CA file yet: Prosody's certificate is self-signed
	s.Type(bobPass)
	s.Keys("Enter")
	s.WaitFor(30*time.Second, "cannot add xmpp:bob@localhost", "TLS problem", "not trusted")
	if got, _ := os.ReadFile(p.configFile()); string(got) != string(configBefore) {
		t.Fatalf("an untrusted server changed config.toml:\n%s", got)
	}

	// The cursor waits on the CA file row; then a wrong password.
	s.Type(srv.CAFile())
	s.Keys("Tab")
	s.Type(wrongPass)
	s.Keys("Enter")
	screen, _ := s.WaitFor(30*time.Second, "cannot add xmpp:bob@localhost", "rejected the user name or password")
	if strings.Contains(screen, wrongPass) {
		t.Fatalf("the password is on screen:\n%s", screen)
	}
	if !strings.Contains(screen, "bob@localhost") || !strings.Contains(screen, srv.Addr()) {
		t.Fatalf("a refused login must keep address and server on the form:\n%s", screen)
	}
	if got, _ := os.ReadFile(p.configFile()); string(got) != string(configBefore) {
		t.Fatalf("a refused login changed config.toml:\n%s", got)
	}

	// The cursor is back on the emptied password field.
	s.Type(bobPass)
	s.Keys("Enter")
	s.WaitFor(30*time.Second, "added xmpp:bob@localhost")
	rowOnline := regexp.MustCompile(`XM bob@localhost\s+online`)
	waitMatch(t, s, 30*time.Second, rowOnline)

	// The status bar has it too: no restart.
	pressEscape(s, 1)
	screen, _ = s.WaitFor(10*time.Second, "xmpp:alice@localhost online", "xmpp:bob@localhost online")
	if strings.Contains(screen, bobPass) {
		t.Fatalf("the password is on screen:\n%s", screen)
	}

	// The new account is wired to the inbox: a stranger's first message
	// to it lands in Requests live.
	carol := srv.StartPeer("carol@localhost", "carol-pw")
	defer carol.Close()
	carol.Send(map[string]any{"op": "subscribe", "to": "bob@localhost"})
	carol.Send(map[string]any{"op": "send", "to": "bob@localhost", "body": "hello bob, carol here"})
	s.WaitFor(20*time.Second, "Requests (1)")
	s.Keys("r")
	s.WaitFor(5*time.Second, "carol@localhost", "hello bob, carol here")

	pressEscape(s, 1)
	s.Keys("q")
	s.WaitFor(30*time.Second, "polyglot exited: 0")

	out, stderr, code := p.run("", "account", "list")
	if code != 0 || !strings.Contains(out, "bob@localhost") || !strings.Contains(out, "alice@localhost") {
		t.Fatalf("account list: exit %d\n%s%s", code, out, stderr)
	}
	cfg, _ := os.ReadFile(p.configFile())
	if !strings.Contains(string(cfg), srv.CAFile()) || !strings.Contains(string(cfg), srv.Addr()) {
		t.Fatalf("config.toml should keep the server and CA file typed in the form:\n%s", cfg)
	}
	p.assertNoSecret(bobPass)
	p.assertNoSecret(wrongPass)
	p.assertNoSecret(alicePass)
}

// waitMatch waits until the screen matches re.
func waitMatch(t *testing.T, s *tmuxtest.Session, timeout time.Duration, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var screen string
	for time.Now().Before(deadline) {
		if screen = s.Screen(); re.MatchString(screen) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after %v the screen does not match %s:\n%s", timeout, re, screen)
}
