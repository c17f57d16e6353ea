package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// TestFirstLoginShowsExistingMatrixHistory is the Matrix twin of
// TestFirstLoginShowsExistingHistory: alice has used Matrix before Polyglot
// (her other client, matrix-nio, joined two DMs and a named group room and
// recorded the DMs in m.direct as Element does), and bob, carol and the
// group wrote to her — 120 messages from bob, more than one sync timeline
// page. The first run shows every conversation with its newest message
// without a key press; bob's opens on his newest message, scrolling up
// brings the older ones from the server down to his first, none skipped and
// none twice on screen; and after a restart and one more message the store
// holds every message exactly once. The rooms are unencrypted: history from
// before this device existed cannot be decrypted without a key backup.
func TestFirstLoginShowsExistingMatrixHistory(t *testing.T) {
	d := testserver.StartDendrite(t)
	aliceID := d.CreateUser("alice", "alice-pw-fl1")
	bobID := d.CreateUser("bob", "bob-pw-fl2")
	carolID := d.CreateUser("carol", "carol-pw-fl3")
	aliceOther := testserver.StartNioPeer(t, d, aliceID, "alice-pw-fl1")
	bob := testserver.StartNioPeer(t, d, bobID, "bob-pw-fl2")
	carol := testserver.StartNioPeer(t, d, carolID, "carol-pw-fl3")

	// alice's other client joins what it is invited to.
	join := func(room string) {
		t.Helper()
		if _, err := aliceOther.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == room }); err != nil {
			t.Fatal(err)
		}
		aliceOther.MustDo(map[string]any{"op": "join", "room": room})
	}
	bobDM := bob.MustDo(map[string]any{"op": "create_dm", "invite": aliceID, "encrypted": false})["room"].(string)
	join(bobDM)
	aliceOther.MustDo(map[string]any{"op": "mark_direct", "room": bobDM, "user": bobID})
	carolDM := carol.MustDo(map[string]any{"op": "create_dm", "invite": aliceID, "encrypted": false})["room"].(string)
	join(carolDM)
	aliceOther.MustDo(map[string]any{"op": "mark_direct", "room": carolDM, "user": carolID})
	club := bob.MustDo(map[string]any{"op": "create_dm", "invite": carolID, "encrypted": false})["room"].(string)
	bob.MustDo(map[string]any{"op": "set_name", "room": club, "name": "Book club"})
	if _, err := carol.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == club }); err != nil {
		t.Fatal(err)
	}
	carol.MustDo(map[string]any{"op": "join", "room": club})
	bob.MustDo(map[string]any{"op": "invite", "room": club, "user": aliceID})
	join(club)

	const fromBob, fromCarol = 120, 12
	for i := 1; i <= fromBob; i++ {
		bob.MustDo(map[string]any{"op": "send", "room": bobDM, "body": fmt.Sprintf("bob %03d", i)})
		if i <= fromCarol {
			carol.MustDo(map[string]any{"op": "send", "room": carolDM, "body": fmt.Sprintf("carol %03d", i)})
		}
	}
	carol.MustDo(map[string]any{"op": "send", "room": club, "body": "club: chapter 3 tonight"})
	aliceOther.MustDo(map[string]any{"op": "send", "room": bobDM, "body": "alice answers bob"})
	aliceOther.Stop()

	p := newProfile(t)
	addMatrixAccount(t, p, d, aliceID, "alice-pw-fl1")
	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
	// No key pressed: each conversation is there with its newest message.
	s.WaitFor(60*time.Second, "bob", "carol", "Book club", "alice answers bob", "carol 012", "chapter 3 tonight")
	screen := s.Screen()
	if strings.Contains(screen, "Requests (") {
		t.Fatalf("joined rooms' history landed in Requests:\n%s", screen)
	}
	// The DMs are their people's (m.direct), the group is its name.
	for _, row := range []string{"bob", "carol", "Book club"} {
		if listRowOf(screen, row) < 0 {
			t.Fatalf("no inbox row %q:\n%s", row, screen)
		}
	}

	openConversation(t, s, "bob")
	s.WaitFor(10*time.Second, "bob 120", "alice answers bob")
	seen := map[string]int{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		screen := s.Screen()
		counts := map[string]int{}
		for _, l := range strings.Split(screen, "\n") {
			if i := strings.Index(l, "bob 0"); i >= 0 {
				body := strings.TrimSpace(l[i:])
				counts[body]++
				seen[body]++
			} else if i := strings.Index(l, "bob 1"); i >= 0 {
				body := strings.TrimSpace(l[i:])
				counts[body]++
				seen[body]++
			}
		}
		for body, n := range counts {
			if n > 1 {
				t.Fatalf("%q shown %d times on one screen:\n%s", body, n, screen)
			}
		}
		if counts["bob 001"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrolling up never reached bob's first message:\n%s", screen)
		}
		s.Keys("PPage")
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i <= fromBob; i++ {
		if body := fmt.Sprintf("bob %03d", i); seen[body] == 0 {
			t.Errorf("scrolling from bob 120 to bob 001 skipped %q", body)
		}
	}
	pressEscape(s, 2)
	s.Keys("q")
	s.WaitFor(15*time.Second, "polyglot exited: 0")

	// A restart fetches nothing twice: one more message arrives, and the
	// store holds each of bob's messages once.
	s2 := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8"), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
	s2.WaitFor(30*time.Second, "@alice:localhost online")
	bob.MustDo(map[string]any{"op": "send", "room": bobDM, "body": fmt.Sprintf("bob %03d", fromBob+1)})
	s2.WaitFor(30*time.Second, fmt.Sprintf("bob %03d", fromBob+1))
	s2.Keys("q")
	s2.WaitFor(15*time.Second, "polyglot exited: 0")
	out, stderr, code := p.run("", "history", bobID, "--limit", "0")
	if code != 0 {
		t.Fatalf("history: %d %s", code, stderr)
	}
	for i := 1; i <= fromBob+1; i++ {
		body := fmt.Sprintf("bob %03d", i)
		if n := strings.Count(out, body+"\n"); n != 1 {
			t.Errorf("%q is stored %d times after a restart", body, n)
		}
	}
	if n := strings.Count(out, "alice answers bob"); n != 1 {
		t.Errorf("alice's answer is stored %d times", n)
	}
}
