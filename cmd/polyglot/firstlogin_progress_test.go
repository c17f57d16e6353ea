package main

import (
	"fmt"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/testserver"
)

// TestFirstLoginHistoryProgressReachesTheInbox: the whole path of the
// status bar's history note in the real client — Prosody's archive (seeded
// by slixmpp before Polyglot's first login), the XMPP connector's
// background fill, the accounts supervisor, the inbox — reports the fill
// while it runs, with figures that only grow and never pass what is there,
// and drops it once the fill ended with every message stored.
func TestFirstLoginHistoryProgressReachesTheInbox(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	sends := map[string]int{"bob": 300, "carol": 100}
	for who, n := range sends {
		srv.Register(who, who+"-pw")
		peer := srv.StartPeer(who+"@localhost", who+"-pw")
		for i := 1; i <= n; i++ {
			if !peer.SendConfirmed(map[string]any{"to": "alice@localhost", "body": fmt.Sprintf("n=%s-%03d", who, i)}) {
				t.Fatalf("%s %d not confirmed", who, i)
			}
		}
	}
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")

	rt := startFaultClient(t, p)
	changes, stop := rt.inbox.Subscribe()
	defer stop()
	const acc = "xmpp:alice@localhost"
	var seen []inbox.HistoryProgress
	storedAll := func() bool {
		for who, n := range sends {
			// storedBodies reads the bodies that start "n=".
			if got, _ := storedBodies(t, rt.inbox, who+"@localhost"); len(got) != n {
				return false
			}
		}
		return true
	}
	deadline := time.After(90 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Kind != inbox.ChangeAccounts {
				continue
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the fill never ended with everything stored; progress seen: %+v", seen)
		}
		if fill, running := rt.inbox.HistoryProgress()[acc]; running {
			if n := len(seen); n == 0 || seen[n-1] != fill {
				seen = append(seen, fill)
			}
			continue
		}
		if len(seen) > 0 && storedAll() {
			break
		}
	}
	for i, f := range seen {
		if f.Limit != 2000 || f.Messages > 400 || f.Chats > 2 || f.Messages <= 0 {
			t.Errorf("report %+v is not an honest figure for 400 messages in 2 chats (limit 2000)", f)
		}
		if i > 0 && (f.Messages < seen[i-1].Messages || f.Chats < seen[i-1].Chats) {
			t.Errorf("figures went backwards: %+v after %+v", f, seen[i-1])
		}
	}
	t.Logf("progress seen by the inbox: %+v", seen)
}
