package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
)

// TestXMPPAccountAddListSend is the script-facing contract against a real
// Prosody: `account add xmpp … --server --ca-file --password-file` verifies
// the login and keeps no plaintext secret; `account list` shows it; `send`
// reaches a slixmpp peer; the exit codes say why a send could not happen.
func TestXMPPAccountAddListSend(t *testing.T) {
	srv := testserver.StartProsody(t)
	const alicePass = "s3cret-Alice-pw!"
	srv.Register("alice", alicePass)
	srv.Register("bob", "bob-pass")
	p := newProfile(t)
	pwFile := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pwFile, []byte(alicePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("wrong password saves nothing", func(t *testing.T) {
		bad := filepath.Join(p.root, "bad")
		os.WriteFile(bad, []byte("nope\n"), 0o600)
		_, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
			"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", bad)
		if code != exitAuth {
			t.Fatalf("exit %d, want %d; stderr: %s", code, exitAuth, stderr)
		}
		if _, err := os.Stat(p.configFile()); err == nil {
			t.Fatal("a failed login wrote config.toml")
		}
	})

	_, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pwFile)
	if code != 0 {
		t.Fatalf("account add: exit %d: %s", code, stderr)
	}
	out, stderr, code := p.run("", "account", "list")
	if code != 0 || !strings.Contains(out, "alice@localhost") || !strings.Contains(out, "xmpp") {
		t.Fatalf("account list: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code = p.run("", "account", "list", "--online")
	if code != 0 || !strings.Contains(out, "online") {
		t.Fatalf("account list --online: exit %d\n%s", code, out)
	}

	bob := srv.StartPeer("bob@localhost", "bob-pass")
	defer bob.Close()
	out, stderr, code = p.run("", "send", "--to", "bob@localhost", "hello from a script")
	if code != 0 {
		t.Fatalf("send: exit %d: %s%s", code, out, stderr)
	}
	if !strings.Contains(out, "XMPP") || !strings.Contains(out, "TLS") {
		t.Errorf("send should say the network and encryption it used, got %q", out)
	}
	bob.Message(10*time.Second, "hello from a script")

	t.Run("doctor", func(t *testing.T) {
		out, _, code := p.run("", "doctor")
		if code != 0 || !strings.Contains(out, "xmpp:alice@localhost: online") || !strings.Contains(out, "keystore unlocked") {
			t.Fatalf("doctor: exit %d\n%s", code, out)
		}
	})
	t.Run("unknown contact", func(t *testing.T) {
		_, stderr, code := p.run("", "send", "--to", "Nobody Known", "hi")
		if code != exitCannot || !strings.Contains(stderr, "unknown contact") {
			t.Fatalf("exit %d (want %d): %s", code, exitCannot, stderr)
		}
	})
	t.Run("no route", func(t *testing.T) {
		_, stderr, code := p.run("", "send", "--to", "@bob:localhost", "hi")
		if code != exitCannot || !strings.Contains(stderr, "no route") {
			t.Fatalf("exit %d (want %d): %s", code, exitCannot, stderr)
		}
	})
	t.Run("wrong passphrase changes nothing", func(t *testing.T) {
		// The secrets file and the key file it is encrypted to.
		secrets, _ := filepath.Glob(filepath.Join(p.data, "polyglot", "*.age"))
		if len(secrets) != 2 {
			t.Fatalf("want the secrets file and its key file, got %v", secrets)
		}
		var before []string
		for _, f := range secrets {
			b, _ := os.ReadFile(f)
			before = append(before, string(b))
		}
		wrong := filepath.Join(p.root, "wrongpass")
		os.WriteFile(wrong, []byte("not it\n"), 0o600)
		q := *p
		q.passFile = wrong
		_, stderr, code := q.run("", "send", "--to", "bob@localhost", "must not go")
		if code != exitUsage || !strings.Contains(stderr, "wrong passphrase") {
			t.Fatalf("exit %d (want %d): %s", code, exitUsage, stderr)
		}
		for i, f := range secrets {
			if after, _ := os.ReadFile(f); string(after) != before[i] {
				t.Fatalf("a wrong passphrase changed %s", f)
			}
		}
	})
	t.Run("all accounts offline is reported as queued, then goes out once", func(t *testing.T) {
		srv.Stop()
		downs := func() int { return strings.Count(p.logTail(1<<20), `"connection down"`) }
		before := downs()
		_, stderr, code := p.run("", "send", "--timeout", "5s", "--to", "bob@localhost", "while the server was down")
		if code != exitQueued || !strings.Contains(stderr, "queued") {
			t.Fatalf("exit %d (want %d): %s", code, exitQueued, stderr)
		}
		// A failed connect gets its quick retry before the message is queued.
		if n := downs() - before; n != 2 {
			t.Fatalf("send tried to connect %d times before queueing, want 2 (one retry)", n)
		}
		srv.Start()
		bob2 := srv.StartPeer("bob@localhost", "bob-pass")
		defer bob2.Close()
		// The next run resends the queued message with the same ID.
		out, stderr, code := p.run("", "send", "--to", "bob@localhost", "after it came back")
		if code != 0 {
			t.Fatalf("send after restart: exit %d: %s%s", code, out, stderr)
		}
		bob2.Message(10*time.Second, "after it came back")
		bob2.Message(10*time.Second, "while the server was down")
	})

	p.assertNoSecret(alicePass)
}

// TestMalformedConfigIsReportedAndKept: the error names line and column and
// the file is left byte for byte as it was.
func TestMalformedConfigIsReportedAndKept(t *testing.T) {
	p := newProfile(t)
	src := "theme = \"dark\"\n\n[[account]]\nnetwork = \"xmpp\"\naddress = alice@example.org\n"
	if err := os.MkdirAll(filepath.Dir(p.configFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.configFile(), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"account", "list"}, {"send", "--to", "x@y", "hi"}, {"account", "add", "xmpp", "bob@example.org", "--password-file", p.passFile}} {
		_, stderr, code := p.run("", args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if !strings.Contains(stderr, "config.toml:5:") {
			t.Errorf("%v: error should name line 5 and a column: %s", args, stderr)
		}
	}
	got, _ := os.ReadFile(p.configFile())
	if string(got) != src {
		t.Fatalf("config.toml was changed:\n%s", got)
	}
}
