package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/tmuxtest"
	"polyglot/protocols"
)

// firstFrameProfile: an XMPP account whose server is down, its password in
// the secrets file under storedUnder, and a stored conversation
// (the store needs no key): Bob, an XMPP contact.
func firstFrameProfile(t *testing.T, storedUnder string) *profile {
	p := historyProfile(t)
	writeConfig(t, p, offlineAccount)
	storeSecret(t, p, storedUnder, "xmpp:me@localhost", "pw")
	in, err := inbox.Open(filepath.Join(p.data, "polyglot", profileDB), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bob := protocols.Address{Network: protocols.XMPP, Account: "xmpp:me@localhost", ID: "bob@localhost", Server: "localhost"}
	evs := []protocols.Event{protocols.ContactEvent{Contact: bob, Name: "Bob", Subscription: "both"}}
	for i := 1; i <= 3; i++ {
		evs = append(evs, protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("m%d", i)),
			Chat: protocols.Chat{ID: "bob@localhost", Peer: bob}, Sender: bob, Body: fmt.Sprintf("stored n=%04d", i),
			Sent: histT0.Add(time.Duration(i) * time.Second)}})
	}
	if err := in.IngestBatch("xmpp:me@localhost", evs); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFirstFrameDoesNotWaitForTheKeystore: with the passphrase in a file,
// the stored conversation is drawn while the keystore is still unlocking.
// The passphrase file is a pipe (as `POLYGLOT_PASSPHRASE_FILE=<(pass …)`
// gives), so the unlock provably has not finished until the test writes
// to it; then the account goes on to connect.
func TestFirstFrameDoesNotWaitForTheKeystore(t *testing.T) {
	p := firstFrameProfile(t, "correct horse battery staple")
	os.Remove(p.passFile)
	if err := syscall.Mkfifo(p.passFile, 0o600); err != nil {
		t.Fatal(err)
	}
	s := tmuxtest.Start(t, 120, 30, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
	screen, _ := s.WaitFor(15*time.Second, "Bob", "stored n=0003", "me@localhost unlocking")

	// Sends typed before the unlock queue in the outbox, as offline.
	openConversation(t, s, "Bob")
	s.WaitFor(5*time.Second, "stored n=0003")
	s.Type("typed while locked")
	s.Keys("Enter")
	s.WaitFor(5*time.Second, "typed while locked", "◷ queued", "XMPP offline — queued")
	if screen = s.Screen(); !strings.Contains(screen, "unlocking") {
		t.Fatalf("the keystore finished unlocking without its passphrase:\n%s", screen)
	}

	writeDone := make(chan error, 1)
	go func() { writeDone <- os.WriteFile(p.passFile, []byte("correct horse battery staple\n"), 0o600) }()
	s.WaitGone(15*time.Second, "unlocking")
	s.WaitFor(15*time.Second, "me@localhost retrying")
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	pressEscape(s, 2) // leave the composer, then the conversation
	s.Keys("q")
	s.WaitFor(15*time.Second, "polyglot exited: 0")
	assertStatesLoggedOnce(t, p)
}

// assertStatesLoggedOnce: each transition is one "account state" line
// (the supervisor and its connector both report it).
func assertStatesLoggedOnce(t *testing.T, p *profile) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.state, "polyglot", "polyglot.log"))
	if err != nil {
		t.Fatal(err)
	}
	last, n := map[string]string{}, 0
	for _, line := range strings.Split(string(b), "\n") {
		var e struct{ Message, Account, State string }
		if json.Unmarshal([]byte(line), &e) != nil || e.Message != "account state" {
			continue
		}
		n++
		if last[e.Account] == e.State {
			t.Errorf("%s %q logged twice in a row:\n%s", e.Account, e.State, b)
			return
		}
		last[e.Account] = e.State
	}
	if n < 2 {
		t.Fatalf("%d account state lines: the check proves nothing", n)
	}
}

// TestWrongPassphraseInFileShowsInTheTUI: a passphrase file that does not
// unlock the secrets is said on the status line and the accounts screen,
// the stored inbox stays readable, nothing is written to the secrets
// file, and quitting exits 2 as the README's table says.
func TestWrongPassphraseInFileShowsInTheTUI(t *testing.T) {
	p := firstFrameProfile(t, "another passphrase")
	secrets := filepath.Join(p.data, "polyglot", "secrets.age")
	before, err := os.ReadFile(secrets)
	if err != nil {
		t.Fatal(err)
	}
	s := tmuxtest.Start(t, 160, 30, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
	s.WaitFor(15*time.Second, "Bob", "stored n=0003", "keystore locked: wrong passphrase", "me@localhost locked")
	s.Keys("A")
	s.WaitFor(5*time.Second, "› accounts", "locked", "wrong passphrase", "accounts stay offline")
	pressEscape(s, 1)
	s.Keys("q")
	s.WaitFor(15*time.Second, "polyglot exited: 2")
	if after, _ := os.ReadFile(secrets); string(after) != string(before) {
		t.Fatal("a failed unlock changed the secrets file")
	}
	if log := p.logTail(200); !strings.Contains(log, "keystore did not unlock") {
		t.Fatalf("the log does not say why the accounts stayed offline:\n%s", log)
	}
}
