package main

import (
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestOMEMOWithProfanity: Polyglot (the real binary in tmux) and profanity
// 0.13.1 (Debian's, OMEMO built in, a client nobody here wrote) on one
// Prosody. profanity starts OMEMO with Polyglot's user; both ways the
// messages travel encrypted (profanity marks them, Polyglot's route line
// and message marks say E2EE); Prosody's archive and offline store hold
// only ciphertext of them; each side's fingerprint of the other is what
// the other shows for itself; comparing in the person view makes the
// route "E2EE verified".
func TestOMEMOWithProfanity(t *testing.T) {
	srv := testserver.StartProsody(t)
	// profanity publishes its bundle for contacts only on Prosody 0.12.
	srv.MakeContacts("alice", "alice-pw", "bob", "bob-pw")
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	s := tmuxtest.Start(t, 150, 45, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(30*time.Second, "alice@localhost online")

	bob := testserver.StartProfanity(t, srv, "bob", "bob-pw")
	bob.StartOMEMO("alice@localhost")
	bob.Send("hello from profanity, encrypted")
	if l := bob.WaitForText("hello from profanity, encrypted", testserver.ProfanityTimeout); !l.Encrypted {
		t.Fatalf("profanity sent it unencrypted: %+v", l)
	}

	s.WaitFor(30*time.Second, "hello from profanity, encrypted")
	openConversation(t, s, "bob@localhost")
	s.WaitFor(30*time.Second, "hello from profanity, encrypted", "via XMPP · E2EE")
	s.Type("hello from polyglot, encrypted")
	s.Keys("Enter")
	bob.Open("alice@localhost")
	if l := bob.WaitForText("hello from polyglot, encrypted", testserver.ProfanityTimeout); !l.Encrypted {
		t.Fatalf("profanity got Polyglot's message unencrypted: %+v", l)
	}

	// The server holds ciphertext only.
	omemoItems := 0
	for _, user := range []string{"alice", "bob"} {
		for _, it := range srv.StoredItems(user) {
			for _, secret := range []string{"hello from profanity", "hello from polyglot"} {
				if strings.Contains(it.XML, secret) {
					t.Fatalf("Prosody's %s store (%s) holds %q in the clear:\n%s", user, it.Store, secret, it.XML)
				}
			}
			if strings.Contains(it.XML, testserver.OMEMONamespace) {
				omemoItems++
			}
		}
	}
	if omemoItems < 2 {
		t.Fatalf("Prosody stored %d OMEMO items; both messages should be there, encrypted", omemoItems)
	}

	// Fingerprints, both ways: what Polyglot shows for bob's device is
	// profanity's own; what profanity knows for alice is what Polyglot
	// shows as this device's.
	pressEscape(s, 1)
	s.Keys("p")
	bobFP := grouped(bob.OwnFingerprint())
	screen, _ := s.WaitFor(20*time.Second, "OMEMO devices of bob@localhost", bob.DeviceID, bobFP, "this device (what they compare on their side)")
	mine := bob.ContactFingerprints("alice@localhost")
	if len(mine) != 1 || !strings.Contains(screen, grouped(mine[0])) {
		t.Fatalf("profanity's fingerprint of alice %v is not what Polyglot shows for this device:\n%s", mine, screen)
	}

	// Compared: the route becomes verified.
	s.Keys("V")
	s.WaitFor(10*time.Second, "Does the fingerprint above match")
	s.Keys("y")
	s.WaitFor(10*time.Second, "✓ all compared: E2EE verified")
	pressEscape(s, 1)
	openConversation(t, s, "bob@localhost")
	s.WaitFor(20*time.Second, "via XMPP · E2EE✓ E2EE verified")
}

// grouped is a fingerprint as the person view shows it: hex in groups of eight.
func grouped(fp string) string {
	fp = strings.ReplaceAll(fp, " ", "")
	var parts []string
	for len(fp) > 8 {
		parts = append(parts, fp[:8])
		fp = fp[8:]
	}
	return strings.Join(append(parts, fp), " ")
}
