package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// sshKey makes an Ed25519 key pair without a passphrase.
func sshKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	return path
}

// sshArgs is the OpenSSH client's command line for the test server.
func sshArgs(port int, key string, extra ...string) []string {
	args := []string{"ssh", "-p", strconv.Itoa(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes"}
	if key != "" {
		args = append(args, "-i", key)
	}
	return append(append(args, extra...), "polyglot@127.0.0.1")
}

// TestTUIOverSSH: `polyglot serve --ssh` against the system OpenSSH
// client: an authorized key gets the inbox and can send; an unknown key,
// a password and `ssh -T` are refused with the reason; repeated bad
// logins are slowed; a resize reaches the TUI; two sessions render with
// their own colour profiles.
func TestTUIOverSSH(t *testing.T) {
	testserver.NeedBinary(t, "ssh")
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")

	keys := t.TempDir()
	good, bad := sshKey(t, keys, "good"), sshKey(t, keys, "bad")
	pub, err := os.ReadFile(good + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(keys, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	port := testserver.FreePort(t)
	serve := exec.Command(binPath, "serve", "--ssh", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "--authorized-keys", authorized)
	serve.Env = p.env()
	var out bytes.Buffer
	serve.Stdout, serve.Stderr = &out, &out
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	if err := testserver.WaitTCP(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 60*time.Second); err != nil {
		t.Fatalf("serve --ssh did not listen: %v\n%s", err, out.String())
	}
	hostKey, err := os.Stat(filepath.Join(p.data, "polyglot", "ssh_host_ed25519_key"))
	if err != nil || hostKey.Mode().Perm() != 0o600 {
		t.Fatalf("host key: %v %v", err, hostKey)
	}

	// Alice writes first (through the core), so bob's answer is no request.
	if o, stderr, code := p.run("", "send", "--to", "bob@localhost", "hi bob"); code != 0 {
		t.Fatalf("send through the core: %d %s%s", code, o, stderr)
	}
	bob.Message(20*time.Second, "hi bob")
	if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": "hello over ssh"}) {
		t.Fatal("bob's message not confirmed")
	}

	// An authorized key: the inbox, then a message that reaches bob.
	env := append(p.env(), "LANG=C.UTF-8")
	s := tmuxtest.Start(t, 120, 40, env, sshArgs(port, good, "-o", "SetEnv=COLORTERM=truecolor")...)
	s.WaitFor(30*time.Second, "xmpp:alice@localhost online", "hello over ssh")
	if !strings.Contains(out.String(), "host key SHA256:") {
		t.Fatalf("serve did not print the host key's fingerprint:\n%s", out.String())
	}
	s.Keys("Enter") // the conversation with bob
	s.WaitFor(10*time.Second, "Write a message")
	s.Type("typed over ssh")
	s.Keys("Enter")
	bob.Message(20*time.Second, "typed over ssh")

	// A resize reaches the TUI: the frame follows the new width.
	widest := func(screen string) int {
		n := 0
		for _, l := range strings.Split(screen, "\n") {
			n = max(n, len([]rune(strings.TrimRight(l, " "))))
		}
		return n
	}
	if w := widest(s.Screen()); w < 100 {
		t.Fatalf("at 120 columns the widest line has %d", w)
	}
	s.Tmux("resize-window", "-x", "70", "-y", "30")
	deadline := time.Now().Add(10 * time.Second)
	for widest(s.Screen()) > 70 || !strings.Contains(s.Screen(), "typed over ssh") {
		if time.Now().After(deadline) {
			t.Fatalf("after resizing to 70 columns:\n%s", s.Screen())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A second session with NO_COLOR: no colour there, colour in the first.
	s2 := tmuxtest.Start(t, 100, 30, env, sshArgs(port, good, "-o", "SetEnv=NO_COLOR=1")...)
	s2.WaitFor(30*time.Second, "xmpp:alice@localhost online")
	colour := regexp.MustCompile(`\x1b\[[0-9;:]*(38|48);[25][;:]`)
	if colour.MatchString(s2.ScreenWithEscapes()) {
		t.Fatalf("the NO_COLOR session is drawn in colour")
	}
	if !colour.MatchString(s.ScreenWithEscapes()) {
		t.Fatalf("the truecolor session has no colour")
	}

	// Refusals, each with its reason.
	run := func(args ...string) (string, error) {
		c := exec.Command(args[0], args[1:]...)
		c.Env = p.env()
		b, err := c.CombinedOutput()
		return string(b), err
	}
	if o, err := run(sshArgs(port, bad, "-o", "BatchMode=yes", "-T")...); err == nil || !strings.Contains(o, "Permission denied (publickey)") {
		t.Fatalf("an unknown key: %v %s", err, o)
	}
	if o, err := run(sshArgs(port, "", "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive")...); err == nil || !strings.Contains(o, "Permission denied (publickey)") {
		t.Fatalf("a password login: %v %s", err, o)
	}
	if o, err := run(sshArgs(port, good, "-o", "BatchMode=yes", "-T")...); err == nil || !strings.Contains(o, "needs a terminal") {
		t.Fatalf("ssh -T: %v %s", err, o)
	}
	// Bad logins from one address are slowed.
	for i := range 8 {
		if o, err := run(sshArgs(port, bad, "-o", "BatchMode=yes", "-T")...); err == nil {
			t.Fatalf("bad login %d let in: %s", i, o)
		}
	}
	if !strings.Contains(p.logTail(300), "slowing down failed ssh logins") {
		t.Fatal("8 bad logins from one address were not slowed")
	}
}
