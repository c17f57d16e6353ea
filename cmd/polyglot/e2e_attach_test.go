package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestScreensAttachToTheCore: with `polyglot serve` running, `polyglot
// attach` and a plain `polyglot` in two terminals are two screens of the
// one core: a message sent in one shows in the other, a draft left in one
// is there in the other, closing a screen leaves the core online, and
// what arrives meanwhile is in the next screen.
func TestScreensAttachToTheCore(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	// The screens the core serves bind config.toml's [keys].
	conf, err := os.ReadFile(p.configFile())
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, p, string(conf)+"\n[keys]\nhelp = \"H\"\n")

	if _, stderr, code := p.run("", "attach"); code != exitNoCore || !strings.Contains(stderr, "no Polyglot core is running") {
		t.Fatalf("attach with no core: exit %d: %s", code, stderr)
	}
	startServe(t, p)
	// The core holds the keystore open: its passphrase is not changed
	// beside it (account add runs in it: TestAccountAddThroughTheCore).
	if _, stderr, code := p.run("", "passphrase", "--new-passphrase-file", p.passFile); code != exitBusy || !strings.Contains(stderr, "stop it first") {
		t.Fatalf("passphrase beside a running core: exit %d: %s", code, stderr)
	}
	if o, stderr, code := p.run("", "send", "--to", "bob@localhost", "hi bob"); code != 0 {
		t.Fatalf("send through the core: %d %s%s", code, o, stderr)
	}
	bob.Message(20*time.Second, "hi bob")
	if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": "hello from bob"}) {
		t.Fatal("bob's message not confirmed")
	}

	env := append(p.env(), "LANG=C.UTF-8")
	a := tmuxtest.Start(t, 110, 30, env, binPath, "attach")
	b := tmuxtest.Start(t, 100, 30, env, binPath) // a plain polyglot attaches by itself
	for _, s := range []*tmuxtest.Session{a, b} {
		s.WaitFor(30*time.Second, "xmpp:alice@localhost online", "hello from bob", "H help")
	}

	// Sent in one screen, shown in the other.
	a.Keys("Enter")
	a.WaitFor(10*time.Second, "Write a message")
	a.Type("from screen A")
	a.Keys("Enter")
	b.Keys("Enter")
	_, took := b.WaitFor(10*time.Second, "from screen A")
	t.Logf("screen B showed screen A's message %s after it looked", took.Round(time.Millisecond))
	bob.Message(20*time.Second, "from screen A")

	// A draft left in B is there when A opens the conversation again.
	b.WaitFor(10*time.Second, "Write a message")
	b.Type("draft in B")
	pressEscape(b, 2) // an escape needs a pause after it to be one
	b.WaitGone(10*time.Second, "draft in B")
	pressEscape(a, 2)
	a.WaitGone(10*time.Second, "Write a message")
	a.Keys("Enter")
	a.WaitFor(10*time.Second, "draft in B")

	// Closing both screens leaves the core online: what arrives meanwhile
	// is in the next screen.
	a.Tmux("kill-server")
	b.Tmux("kill-server")
	if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": "while nobody watched"}) {
		t.Fatal("bob's second message not confirmed")
	}
	c := tmuxtest.Start(t, 100, 30, env, binPath, "attach")
	c.WaitFor(30*time.Second, "while nobody watched")
}
