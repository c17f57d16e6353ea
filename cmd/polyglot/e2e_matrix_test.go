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
	d := testserver.StartDendrite(t)
	d.CreateUser("alice", "alice-pw-3d9")
	bob := d.CreateUser("bob", "bob-pw-71c")
	nio := testserver.StartNioPeer(t, d, bob, "bob-pw-71c")

	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	os.WriteFile(pw, []byte("alice-pw-3d9\n"), 0o600)
	if _, stderr, code := p.run("", "account", "add", "matrix", "@alice:localhost",
		"--server", d.URL(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: %d %s", code, stderr)
	}

	out, stderr, code := p.run("", "send", "--to", bob, "hello bob, encrypted from a script")
	if code != 0 || !strings.Contains(out, "Matrix") || !strings.Contains(out, "E2EE") {
		t.Fatalf("send: exit %d: %s%s", code, out, stderr)
	}
	inv, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" })
	if err != nil {
		t.Fatalf("nio got no invite: %v", err)
	}
	room := inv["room"]
	nio.MustDo(map[string]any{"op": "join", "room": room})
	got, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "message" && ev["body"] == "hello bob, encrypted from a script"
	})
	if err != nil {
		t.Fatalf("nio did not get the message: %v\n%v", err, nio.Events())
	}
	if got["encrypted"] != true {
		t.Fatalf("the message reached the peer unencrypted: %v", got)
	}

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
		t.Fatalf("nio did not get the TUI's message encrypted: %v", err)
	}
	p.assertNoSecret("alice-pw-3d9")
}
