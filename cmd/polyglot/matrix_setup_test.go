package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
)

// addMatrixAccount runs the script form of `account add matrix` for user
// on d in profile p, the password coming from a file.
func addMatrixAccount(t *testing.T, p *profile, d *testserver.Dendrite, user, pass string) {
	t.Helper()
	pw := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pw, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := p.run("", "account", "add", "matrix", user, "--server", d.URL(), "--password-file", pw); code != 0 {
		t.Fatalf("account add %s: %d %s", user, code, stderr)
	}
}

// addXMPPAccount runs the script form of `account add xmpp` for
// user@localhost on srv in profile p, the password coming from a file.
func addXMPPAccount(t *testing.T, p *profile, srv *testserver.Prosody, user, pass string) {
	t.Helper()
	pw := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pw, []byte(pass), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := p.run("", "account", "add", "xmpp", user+"@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add %s: %d %s", user, code, stderr)
	}
}

// nioDM is where the Matrix end-to-end tests start: a Dendrite with alice
// (added to a fresh profile) and bob on matrix-nio, and an encrypted DM
// that `polyglot send` opened with a first message nio joined and read.
type nioDM struct {
	d    *testserver.Dendrite
	p    *profile
	nio  *testserver.NioPeer
	bob  string
	room string
	sent string // what `polyglot send` printed
}

func startNioDM(t *testing.T, first string) nioDM {
	t.Helper()
	var x nioDM
	x.d = testserver.StartDendrite(t)
	x.d.CreateUser("alice", "alice-pw-3d9")
	x.bob = x.d.CreateUser("bob", "bob-pw-71c")
	x.nio = testserver.StartNioPeer(t, x.d, x.bob, "bob-pw-71c")
	x.p = newProfile(t)
	addMatrixAccount(t, x.p, x.d, "@alice:localhost", "alice-pw-3d9")

	// A loaded CI machine may need more than send's 20 s default.
	out, stderr, code := x.p.run("", "send", "--timeout", "60s", "--to", x.bob, first)
	if code != 0 || !strings.Contains(out, "Matrix") || !strings.Contains(out, "E2EE") {
		t.Fatalf("send: exit %d: %s%s", code, out, stderr)
	}
	x.sent = out
	inv, err := x.nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" })
	if err != nil {
		t.Fatalf("nio got no invite: %v", err)
	}
	x.room, _ = inv["room"].(string)
	x.nio.MustDo(map[string]any{"op": "join", "room": x.room})
	got, err := x.nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "message" && ev["body"] == first
	})
	if err != nil {
		t.Fatalf("nio did not get the first message: %v\n%v", err, x.nio.Events())
	}
	if got["encrypted"] != true {
		t.Fatalf("the first message reached the peer unencrypted: %v", got)
	}
	return x
}

// logTail is the end of the profile's log file, for failure reports.
func (p *profile) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(p.state, "polyglot", "polyglot.log"))
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
