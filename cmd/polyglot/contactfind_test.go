package main

import (
	"os"
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

// TestContactFindCLIMatrix: through the binary, with a Matrix account on
// the real Dendrite and the identity-server stub: the first lookup stops
// at the terms (exit 3, the policy named, nothing about the person sent),
// --accept-terms finds the user by email address (exit 0), the acceptance
// is remembered for a phone lookup, and neither the address nor the number
// reaches the identity server or the log.
func TestContactFindCLIMatrix(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "alice-pw-cf1")
	bob := d.CreateUser("bob", "bob-pw-cf1")
	const email, phone = "bob.secret@example.org", "491701234567"
	stub := testserver.StartIdentityStub(t, d, map[string]string{email + " email": bob, phone + " msisdn": bob})
	p := newProfile(t)
	addMatrixAccount(t, p, d, alice, "alice-pw-cf1")
	cfg, err := os.ReadFile(p.configFile())
	if err != nil {
		t.Fatal(err)
	}
	// The account is the file's last block: the key lands in it.
	writeConfig(t, p, string(cfg)+"\nidentity_server = \""+stub.URL()+"\"\n")

	out, stderr, code := p.run("", "contact", "find", "--timeout", "60s", email)
	if code != exitCannot || !strings.Contains(out, "asks you to accept its terms first") || !strings.Contains(out, testserver.IdentityPolicyURL) || !strings.Contains(out, "--accept-terms") {
		t.Fatalf("before the terms: exit %d\n%s%s", code, out, stderr)
	}
	for _, r := range stub.Requests() {
		if strings.Contains(r, "/lookup") || strings.Contains(r, "/hash_details") {
			t.Fatalf("asked before the terms were accepted:\n%s", r)
		}
	}
	out, stderr, code = p.run("", "contact", "find", "--timeout", "60s", "--accept-terms", email)
	if code != exitOK || !strings.Contains(out, "found "+bob+" (by email address)") {
		t.Fatalf("after accepting: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = p.run("", "contact", "find", "--timeout", "60s", "+"+phone)
	if code != exitOK || !strings.Contains(out, "found "+bob+" (by phone number)") {
		t.Fatalf("phone, terms remembered: exit %d\n%s%s", code, out, stderr)
	}
	seen := strings.Join(stub.Requests(), "\n") + p.logTail(5000)
	for _, secret := range []string{email, "bob.secret", phone, "1701234567"} {
		if strings.Contains(strings.ToLower(seen), secret) {
			t.Fatalf("%q reached the identity server or the log", secret)
		}
	}
	if !strings.Contains(seen, stub.LookupHash(email, "email")) {
		t.Fatal("no lookup carried the address's hash: the test proves nothing")
	}
}
