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

// TestMatrixFromTheCommandLineAndTerminal: the script form of `account add
// matrix` against a real Dendrite, `polyglot send` reaching matrix-nio
// end-to-end encrypted, then the TUI showing the DM live with the peer's
// encrypted reply.
func TestMatrixFromTheCommandLineAndTerminal(t *testing.T) {
	x := startNioDM(t, "hello bob, encrypted from a script")
	p, nio, room := x.p, x.nio, x.room

	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(30*time.Second, "@alice:localhost online")
	s.WaitFor(10*time.Second, "bob")
	openConversation(t, s, "bob")
	s.WaitFor(10*time.Second, "hello bob, encrypted from a script", "E2EE")
	nio.MustDo(map[string]any{"op": "send", "room": room, "body": "reply from nio, live"})
	s.WaitFor(20*time.Second, "reply from nio, live")
	s.Type("and back from the terminal")
	s.Keys("Enter")
	if _, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "message" && ev["body"] == "and back from the terminal" && ev["encrypted"] == true
	}); err != nil {
		t.Fatalf("nio did not get the TUI's message encrypted: %v\nscreen:\n%s\nnio's events: %v", err, s.Screen(), nio.Events())
	}
	p.assertNoSecret("alice-pw-3d9")
}

// TestMatrixAccountRemoveLogsOutTheDevice: `account remove` ends the
// Matrix session on the real Dendrite, so the device (and its keys) leaves
// the user's device list; with the server down the account is still
// removed here and the warning says what stays on the server.
func TestMatrixAccountRemoveLogsOutTheDevice(t *testing.T) {
	d := testserver.StartDendrite(t)
	d.CreateUser("dana", "dana-pw-8c2")
	p := newProfile(t)
	add := func() { addMatrixAccount(t, p, d, "@dana:localhost", "dana-pw-8c2") }
	add()
	if devs := d.Devices(t, "@dana:localhost", "dana-pw-8c2"); len(devs) != 1 {
		t.Fatalf("after account add the server lists %v, want Polyglot's one device", devs)
	}
	out, stderr, code := p.run("", "account", "remove", "@dana:localhost")
	if code != 0 || !strings.Contains(out, "removed") || stderr != "" {
		t.Fatalf("account remove: exit %d: %s%s", code, out, stderr)
	}
	if devs := d.Devices(t, "@dana:localhost", "dana-pw-8c2"); len(devs) != 0 {
		t.Fatalf("after account remove the server still lists %v", devs)
	}

	add()
	d.Stop()
	out, stderr, code = p.run("", "account", "remove", "@dana:localhost")
	// A server that is down refuses the connection: the logout gives up
	// on that answer at once, it does not sit out its timeout.
	if strings.Contains(stderr, "deadline exceeded") || !strings.Contains(stderr, "refused") {
		t.Errorf("remove with the server down did not give up on the refused connection: %s", stderr)
	}
	if code != 0 || !strings.Contains(out, "removed") || !strings.Contains(stderr, "server still lists this device") {
		t.Fatalf("account remove with the server down: exit %d: %s%s", code, out, stderr)
	}
	if out, _, _ := p.run("", "account", "list"); strings.Contains(out, "dana") {
		t.Fatalf("account still listed: %s", out)
	}
}

// TestMatrixTokenLogin: `account add matrix --token-file` logs in with an
// access token made for Polyglot (no password anywhere): the account uses
// that token's device (no new one appears on the server), sends end-to-end
// encrypted to matrix-nio, and the token is in no file in plaintext.
func TestMatrixTokenLogin(t *testing.T) {
	d := testserver.StartDendrite(t)
	d.CreateUser("erin", "erin-pw-41d")
	bob := d.CreateUser("bob", "bob-pw-0e9")
	nio := testserver.StartNioPeer(t, d, bob, "bob-pw-0e9")
	token, device := d.Login(t, "@erin:localhost", "erin-pw-41d")

	p := newProfile(t)
	tf := filepath.Join(p.root, "token")
	os.WriteFile(tf, []byte(token+"\n"), 0o600)
	if _, stderr, code := p.run("", "account", "add", "matrix", "@erin:localhost", "--server", d.URL(), "--token-file", tf, "--password-file", tf); code != exitUsage {
		t.Fatalf("token and password together: exit %d %s", code, stderr)
	}
	if _, stderr, code := p.run("", "account", "add", "matrix", "@erin:localhost", "--server", d.URL(), "--token-file", tf); code != 0 {
		t.Fatalf("account add --token-file: %d %s", code, stderr)
	}
	os.Remove(tf)
	if devs := d.Devices(t, "@erin:localhost", "erin-pw-41d"); len(devs) != 1 || devs[0] != device {
		t.Fatalf("the server lists %v; want only the token's device %s", devs, device)
	}
	out, stderr, code := p.run("", "send", "--timeout", "60s", "--to", bob, "from a token login")
	if code != 0 || !strings.Contains(out, "E2EE") {
		t.Fatalf("send: exit %d: %s%s", code, out, stderr)
	}
	inv, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" })
	if err != nil {
		t.Fatalf("nio got no invite: %v", err)
	}
	nio.MustDo(map[string]any{"op": "join", "room": inv["room"]})
	got, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "message" && ev["body"] == "from a token login"
	})
	if err != nil || got["encrypted"] != true {
		t.Fatalf("nio: %v %v", got, err)
	}
	p.assertNoSecret(token)

	bad := filepath.Join(p.root, "bad")
	os.WriteFile(bad, []byte("not-a-token"), 0o600)
	q := newProfile(t)
	if _, stderr, code := q.run("", "account", "add", "matrix", "@erin:localhost", "--server", d.URL(), "--token-file", bad); code != exitAuth {
		t.Fatalf("a bad token: exit %d %s (want %d)", code, stderr, exitAuth)
	}
}
