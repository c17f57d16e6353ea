package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
	"polyglot/protocols"
)

// TestOMEMORoomInTheTerminal: the built binary joins a members-only,
// non-anonymous room (bob, a Polyglot connector with OMEMO, made it so as
// its owner): the room's route says E2EE, what the user types reaches bob
// decrypted, bob's encrypted answer shows in the terminal, and the room's
// archive on the server holds neither text.
func TestOMEMORoomInTheTerminal(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	room := "hideout@" + srv.MUCDomain()

	bob := omemoPeer(t, srv, "bob", "bob-pw")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make(chan protocols.Message, 100)
	go func() {
		for ev := range bob.Events() {
			if cp, ok := ev.(protocols.CheckpointEvent); ok {
				cp.Commit()
			}
			if me, ok := ev.(protocols.MessageEvent); ok {
				got <- me.Message
			}
		}
	}()
	if _, err := bob.Join(ctx, room); err != nil {
		t.Fatal(err)
	}
	// bob owns the room; another resource of his configures it (the room
	// knows owners by bare JID).
	owner := srv.StartPeer("bob@localhost", "bob-pw")
	defer owner.Close()
	for _, iq := range []string{
		`<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
			`<field var='muc#roomconfig_membersonly'><value>1</value></field>` +
			`<field var='muc#roomconfig_whois'><value>anyone</value></field></x></query>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member' jid='alice@localhost'/></query>`,
	} {
		if typ, x := owner.IQ("set", room, iq); typ != "result" {
			t.Fatalf("configuring the room: %s %s", typ, x)
		}
	}

	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	s := tmuxtest.Start(t, 150, 45, append(p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(30*time.Second, "alice@localhost online")
	s.Keys("n")
	s.Type(room)
	s.WaitFor(10*time.Second, "XMPP: join "+room)
	s.Keys("Enter")
	s.WaitFor(30*time.Second, "→ hideout via")
	s.WaitFor(30*time.Second, "via XMPP · E2EE")

	s.Type("hello room, from the terminal")
	s.Keys("Enter")
	wait := time.After(60 * time.Second)
	for found := false; !found; {
		select {
		case m := <-got:
			if m.Body == "hello room, from the terminal" {
				if m.Encryption != protocols.EncE2EE || m.Undecryptable {
					t.Fatalf("bob got %+v", m)
				}
				found = true
			}
		case <-wait:
			t.Fatalf("bob never read alice's room message:\n%s", s.Screen())
		}
	}
	res, err := bob.Send(ctx, protocols.OutgoingMessage{ClientID: "bob-1", Chat: protocols.ChatID(room), Group: true,
		Body: "hello terminal, from bob", MinEncryption: protocols.EncE2EE})
	if err != nil || res.Encryption != protocols.EncE2EE {
		t.Fatalf("bob sends: %+v %v", res, err)
	}
	s.WaitFor(30*time.Second, "hello terminal, from bob")
	if screen := s.Screen(); strings.Contains(screen, "could not decrypt") {
		t.Fatalf("an undecryptable notice in the room:\n%s", screen)
	}

	data := filepath.Join(srv.Dir(), "data")
	for _, secret := range []string{"hello room, from the terminal", "hello terminal, from bob"} {
		if hits := grepFiles(t, data, secret); len(hits) > 0 {
			t.Errorf("plaintext %q on the server's disk: %v", secret, hits)
		}
	}
	if hits := grepFiles(t, data, "OMEMO encrypted message"); len(hits) == 0 {
		t.Fatal("no OMEMO message in the server's storage: the check above proves nothing")
	}
}

// grepFiles lists the files under dir that contain s.
func grepFiles(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(s)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}
