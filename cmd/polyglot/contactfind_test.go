package main

import (
	"path/filepath"
	"strings"
	"testing"

	"polyglot/internal/testserver"
)

// TestContactFindCLI runs `polyglot contact find` through the binary with
// an XMPP account on the real Prosody: an existing account is found (exit
// 0, one line per account), one nobody registered is not (exit 3), a
// phone number cannot be asked on XMPP (exit 3, said why), a word that is
// neither address nor number is refused (exit 2), and the same lookup
// forwarded into a running core answers the same. The number is never
// written to the log.
func TestContactFindCLI(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")

	out, stderr, code := p.run("", "contact", "find", "bob@localhost")
	if code != exitOK || !strings.Contains(out, "XMPP") || !strings.Contains(out, "found bob@localhost (by address)") {
		t.Fatalf("find bob: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = p.run("", "contact", "find", "nobody@localhost")
	if code != exitCannot || !strings.Contains(out, "not found") || !strings.Contains(stderr, "no network of yours knows nobody@localhost") {
		t.Fatalf("find nobody: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = p.run("", "contact", "find", "+49 170 1234567")
	if code != exitCannot || !strings.Contains(out, "can't ask") || !strings.Contains(out, "XMPP address") {
		t.Fatalf("find a phone number: exit %d\n%s%s", code, out, stderr)
	}
	for _, bad := range [][]string{{"contact", "find"}, {"contact", "find", "bob"}, {"contact", "find", "0170 1234567"}, {"contact", "find", "a@b", "c@d"}} {
		if out, stderr, code := p.run("", bad...); code != exitUsage {
			t.Fatalf("polyglot %s: exit %d, want %d\n%s%s", strings.Join(bad, " "), code, exitUsage, out, stderr)
		}
	}

	// Inside a running core: the core's connected account asks.
	startServe(t, p)
	away := *p
	away.extraEnv = append(append([]string(nil), p.extraEnv...), "POLYGLOT_PASSPHRASE_FILE="+filepath.Join(p.root, "no-such-file"))
	out, stderr, code = away.run("", "contact", "find", "bob@localhost")
	if code != exitOK || !strings.Contains(out, "found bob@localhost") {
		t.Fatalf("find through the core: exit %d\n%s%s", code, out, stderr)
	}
	if _, _, code := away.run("", "contact", "find", "nobody@localhost"); code != exitCannot {
		t.Fatalf("not found through the core: exit %d", code)
	}
	if log := p.logTail(2000); strings.Contains(log, "1701234567") || strings.Contains(log, "nobody@localhost") {
		t.Fatal("the log holds what was looked up")
	}
}
