package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestFirstLoginOfAnExistingXMPPAccount starts where a user starts: an
// account with history from before Polyglot existed. The first run shows
// the newest messages without any action (history_messages of them), each
// scroll back (LoadOlder) brings the next older page until the archive is
// exhausted — no gap, no repeat — and a restart fetches nothing twice.
func TestFirstLoginOfAnExistingXMPPAccount(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	const total, depth = 230, 80
	for i := 1; i <= total; i++ {
		if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": fmt.Sprintf("n=%04d", i)}) {
			t.Fatalf("message %d not confirmed", i)
		}
	}
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	cfg := filepath.Join(p.config, "polyglot", "config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, []byte(fmt.Sprintf("history_messages = %d\n", depth))...), 0o600); err != nil {
		t.Fatal(err)
	}

	rt := startFaultClient(t, p)
	want := func(from, to int) string {
		var w []string
		for i := from; i <= to; i++ {
			w = append(w, fmt.Sprintf("n=%04d", i))
		}
		return strings.Join(w, " ")
	}
	stored := func() string {
		bodies, _ := storedBodies(t, rt.inbox, "bob@localhost")
		return strings.Join(bodies, " ")
	}
	deadline := time.Now().Add(60 * time.Second)
	for stored() != want(total-depth+1, total) {
		if time.Now().After(deadline) {
			t.Fatalf("first login stored %q, want the newest %d messages", stored(), depth)
		}
		time.Sleep(50 * time.Millisecond)
	}
	conv, err := rt.inbox.FindConversation("bob@localhost")
	if err != nil {
		t.Fatal(err)
	}
	// Scrolling back asks the server: wait until the account is online
	// (offline, LoadOlder has nothing to ask and says so with 0).
	for online := false; !online; time.Sleep(20 * time.Millisecond) {
		for _, st := range rt.inbox.AccountStates() {
			online = online || st.State == protocols.ConnOnline
		}
		if time.Now().After(deadline) {
			t.Fatal("the account never came online")
		}
	}
	for pages := 0; ; pages++ {
		n, err := rt.inbox.LoadOlder(context.Background(), conv, 50)
		if err != nil {
			t.Fatalf("LoadOlder: %v", err)
		}
		if n == 0 {
			break
		}
		if pages > 10 {
			t.Fatal("LoadOlder never reached the start of the archive")
		}
	}
	if got := stored(); got != want(1, total) {
		t.Fatalf("after scrolling back to the start the store holds %q", got)
	}
	rt.stop()

	// A restart: once the next message is in, the store holds every
	// message once.
	rt = startFaultClient(t, p)
	if !bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": fmt.Sprintf("n=%04d", total+1)}) {
		t.Fatal("message after the restart not confirmed")
	}
	deadline = time.Now().Add(60 * time.Second)
	for stored() != want(1, total+1) {
		if time.Now().After(deadline) {
			t.Fatalf("after a restart the store holds %q", stored())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFirstLoginOfAnExistingMatrixAccount: a DM with 120 messages from
// before Polyglot's first login (made through matrix-nio as alice's other
// client). The initial sync brings the newest, LoadOlder (scrolling) the
// rest back to the first — in order, none twice — and a restart fetches
// nothing twice. The room is unencrypted: history sent before this device
// existed cannot be decrypted without a key backup.
func TestFirstLoginOfAnExistingMatrixAccount(t *testing.T) {
	d := testserver.StartDendrite(t)
	aliceID := d.CreateUser("alice", "alice-pw-5e1")
	bobID := d.CreateUser("bob", "bob-pw-0a7")
	aliceOther := testserver.StartNioPeer(t, d, aliceID, "alice-pw-5e1")
	bob := testserver.StartNioPeer(t, d, bobID, "bob-pw-0a7")
	room := bob.MustDo(map[string]any{"op": "create_dm", "invite": aliceID, "encrypted": false})["room"].(string)
	if _, err := aliceOther.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" }); err != nil {
		t.Fatal(err)
	}
	aliceOther.MustDo(map[string]any{"op": "join", "room": room})
	const total = 120
	for i := 1; i <= total; i++ {
		bob.MustDo(map[string]any{"op": "send", "room": room, "body": fmt.Sprintf("n=%04d", i)})
	}
	aliceOther.Stop()

	p := newProfile(t)
	addMatrixAccount(t, p, d, aliceID, "alice-pw-5e1")
	rt := startFaultClient(t, p)
	want := func(from, to int) string {
		var w []string
		for i := from; i <= to; i++ {
			w = append(w, fmt.Sprintf("n=%04d", i))
		}
		return strings.Join(w, " ")
	}
	stored := func() []string {
		bodies, _ := storedBodies(t, rt.inbox, room) // alice's other client never marked it direct
		return bodies
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := stored()
		if len(got) > 0 && got[len(got)-1] == fmt.Sprintf("n=%04d", total) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first sync stored %v, want the newest messages up to n=%04d", got, total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	conv, err := rt.inbox.FindConversation(room)
	if err != nil {
		t.Fatal(err)
	}
	for pages := 0; ; pages++ {
		n, err := rt.inbox.LoadOlder(context.Background(), conv, 50)
		if err != nil {
			t.Fatalf("LoadOlder: %v", err)
		}
		if n == 0 {
			break
		}
		if pages > 10 {
			t.Fatal("LoadOlder never reached the start of the room")
		}
	}
	if got := strings.Join(stored(), " "); got != want(1, total) {
		t.Fatalf("after scrolling back to the start the store holds %q", got)
	}
	rt.stop()

	rt = startFaultClient(t, p)
	bob.MustDo(map[string]any{"op": "send", "room": room, "body": fmt.Sprintf("n=%04d", total+1)})
	deadline = time.Now().Add(60 * time.Second)
	for strings.Join(stored(), " ") != want(1, total+1) {
		if time.Now().After(deadline) {
			t.Fatalf("after a restart the store holds %q", stored())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
