package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"polyglot/config"
	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
	"polyglot/protocols"
	"polyglot/protocols/xmpp"
	"polyglot/protocols/xmpp/omemo"
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

// TestOMEMORequestWaitsForConsent: a stranger (bob, a Polyglot connector
// with OMEMO) writes to alice encrypted. The real binary shows his first
// message decrypted in Requests — never the fallback text — and, until
// alice accepts, asks nothing about him: no device list fetched (none in
// alice's OMEMO store), no receipt sent. Accepted, alice's reply goes
// end to end encrypted and bob reads it.
func TestOMEMORequestWaitsForConsent(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	s := tmuxtest.Start(t, 140, 40, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(30*time.Second, "alice@localhost online")

	bob := omemoPeer(t, srv, "bob", "bob-pw")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var receipts []protocols.ReceiptEvent
	got := make(chan protocols.Message, 100)
	go func() {
		for ev := range bob.Events() {
			switch e := ev.(type) {
			case protocols.CheckpointEvent:
				e.Commit()
			case protocols.MessageEvent:
				got <- e.Message
			case protocols.ReceiptEvent:
				mu.Lock()
				receipts = append(receipts, e)
				mu.Unlock()
			}
		}
	}()
	alice := protocols.Address{Network: protocols.XMPP, ID: "alice@localhost"}
	for i, body := range []string{"psst, an encrypted hello", "and a second one"} {
		res, err := bob.Send(ctx, protocols.OutgoingMessage{ClientID: protocols.ClientID(fmt.Sprintf("b%d", i)), To: alice, Body: body, MinEncryption: protocols.EncE2EE})
		if err != nil || res.Encryption != protocols.EncE2EE {
			t.Fatalf("bob's OMEMO message: %+v %v", res, err)
		}
		if i == 0 {
			s.WaitFor(30*time.Second, "Requests (1)")
			s.Keys("r")
		}
		s.WaitFor(30*time.Second, "bob@localhost", body)
	}
	if screen := s.Screen(); strings.Contains(screen, "OMEMO encrypted message") {
		t.Fatalf("the fallback text is on screen:\n%s", screen)
	}
	// The second message was shown after the first was stored: a receipt
	// for the first would have left alice's stream before it.
	mu.Lock()
	early := len(receipts)
	mu.Unlock()
	if early > 0 {
		t.Fatalf("alice sent %d receipts to a stranger she has not accepted", early)
	}
	if n := deviceListsKnown(t, p, "bob@localhost"); n != 0 {
		t.Fatalf("alice fetched the stranger's OMEMO device list before accepting (%d rows)", n)
	}

	s.Keys("a")
	s.WaitGone(10*time.Second, "[a] Accept")
	pressEscape(s, 1)
	openConversation(t, s, "bob@localhost")
	s.WaitFor(30*time.Second, "via XMPP · E2EE")
	s.Type("welcome, encrypted")
	s.Keys("Enter")
	for deadline := time.After(60 * time.Second); ; {
		select {
		case m := <-got:
			if m.Body == "welcome, encrypted" {
				if m.Encryption != protocols.EncE2EE {
					t.Fatalf("bob got alice's reply as %v", m.Encryption)
				}
				// Now she asked for his devices: the check above can see it.
				if n := deviceListsKnown(t, p, "bob@localhost"); n != 1 {
					t.Fatalf("after accepting and writing, bob's device list rows: %d", n)
				}
				return
			}
		case <-deadline:
			t.Fatal("bob never read alice's reply")
		}
	}
}

// deviceListsKnown counts the OMEMO device lists of who in the profile's
// XMPP account's store: a row means alice's client asked for (or was
// pushed) that list.
func deviceListsKnown(t *testing.T, p *profile, who string) int {
	t.Helper()
	dbPath := filepath.Join(config.Paths{Data: filepath.Join(p.data, "polyglot")}.AccountDir("xmpp:alice@localhost"), "omemo.db")
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("alice's OMEMO store: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM device_lists WHERE jid = ?`, who).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// omemoPeer is user's Polyglot connector with OMEMO, in this process,
// connected to srv: a second Polyglot the tests drive directly.
func omemoPeer(t *testing.T, srv *testserver.Prosody, user, pw string) *xmpp.Connector {
	t.Helper()
	c, err := xmpp.New(xmpp.Config{JID: user + "@localhost", Password: pw, Server: srv.Addr(), CAFile: srv.CAFile(),
		Resource: "b1", Account: user, DataDir: t.TempDir(), OMEMOKey: omemo.NewKey(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}
