package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/testserver"
)

// sendProc is one `polyglot send` run in the background.
type sendProc struct {
	body           string
	out, stderr    string
	code           int
	took           time.Duration
	started, ended time.Time
}

// startSends runs one `polyglot send --to to BODY` per body, all at once,
// and returns a channel that yields each as it ends.
func startSends(t *testing.T, p *profile, to string, bodies []string) <-chan sendProc {
	t.Helper()
	ended := make(chan sendProc, len(bodies))
	for _, b := range bodies {
		cmd := exec.Command(binPath, "send", "--to", to, b)
		cmd.Env = p.env()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		go func(body string) {
			err := cmd.Wait()
			r := sendProc{body: body, out: out.String(), stderr: errb.String(), started: start, ended: time.Now()}
			r.took = r.ended.Sub(start)
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				r.code = ee.ExitCode()
			case err != nil:
				r.code = -1
				r.stderr += err.Error()
			}
			ended <- r
		}(b)
	}
	return ended
}

// peerInbox collects, by body, every message a slixmpp peer got.
type peerInbox struct {
	mu   sync.Mutex
	cond *sync.Cond
	got  map[string]int
}

func collectMessages(peer *testserver.Peer) *peerInbox {
	pi := &peerInbox{got: map[string]int{}}
	pi.cond = sync.NewCond(&pi.mu)
	go func() {
		for {
			ev := peer.Next(time.Hour, func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Body != "" })
			if ev.Ev == "" {
				return // the peer ended
			}
			pi.mu.Lock()
			pi.got[ev.Body]++
			pi.cond.Broadcast()
			pi.mu.Unlock()
		}
	}()
	return pi
}

func (pi *peerInbox) snapshot() map[string]int {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	out := make(map[string]int, len(pi.got))
	for b, n := range pi.got {
		out[b] = n
	}
	return out
}

// peerCounts is what a peer got so far: how many times each body.
type peerCounts interface{ snapshot() map[string]int }

// nioCounts counts the messages the matrix-nio peer decrypted, by body.
type nioCounts struct{ nio *testserver.NioPeer }

func (n nioCounts) snapshot() map[string]int {
	out := map[string]int{}
	for _, ev := range n.nio.Events() {
		if b, _ := ev["body"].(string); ev["ev"] == "message" && b != "" {
			out[b]++
		}
	}
	return out
}

// waitPeer polls what the peer got until ok holds, or the timeout.
func waitPeer(peer peerCounts, timeout time.Duration, ok func(got map[string]int) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if ok(peer.snapshot()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func withPrefix(got map[string]int, prefix string) []string {
	var out []string
	for b := range got {
		if strings.HasPrefix(b, prefix) {
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

// storedOutgoing reads the profile's store (no core running): the state
// of each outgoing message to addr, by body.
func storedOutgoing(t *testing.T, p *profile, addr string) map[string]inbox.MessageState {
	t.Helper()
	in, err := inbox.Open(filepath.Join(p.data, "polyglot", profileDB), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	conv, err := in.FindConversation(addr)
	if err != nil {
		t.Fatalf("no conversation with %s in the store: %v", addr, err)
	}
	ms, err := in.Messages(conv, inbox.Cursor{}, 500)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]inbox.MessageState{}
	for _, m := range ms {
		if m.Outgoing {
			out[m.Body] = m.State
		}
	}
	return out
}

// TestKilledCoreSendsEachMessageOnce: sends run beside `polyglot serve`
// while it is killed with SIGKILL. Each send ends at once, a dead core's
// with a clear error; the stale socket is no obstacle to the next core;
// and every message the core took (a send answered 0 or 75, or found in
// the store after the crash) reaches the peer exactly once, the resends
// of the next core included.
func TestKilledCoreSendsEachMessageOnce(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	bob := srv.StartPeer("bob@localhost", "bob-pw")
	defer bob.Close()
	got := collectMessages(bob)
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	killCoreMidSend(t, p, "bob@localhost", got)
}

// TestKilledCoreSendsEachMessageOnceMatrix is the same over Matrix
// (Dendrite, an E2EE DM with a matrix-nio peer): a resend carries the
// first attempt's transaction ID, which the server deduplicates.
func TestKilledCoreSendsEachMessageOnceMatrix(t *testing.T) {
	x := startNioDM(t, "opens the DM")
	killCoreMidSend(t, x.p, x.bob, nioCounts{x.nio})
}

// killCoreMidSend is the kill -9 drill for the account of p and the peer
// at address to: see TestKilledCoreSendsEachMessageOnce.
func killCoreMidSend(t *testing.T, p *profile, to string, peer peerCounts) {
	core := startServe(t, p)
	if out, stderr, code := p.run("", "send", "--to", to, "before the crash"); code != 0 {
		t.Fatalf("send through the core: exit %d: %s%s", code, out, stderr)
	}
	if !waitPeer(peer, 20*time.Second, func(g map[string]int) bool { return g["before the crash"] > 0 }) {
		t.Fatal("the peer did not get the first message")
	}
	// Twelve sends at once; the core dies as the first reaches the peer, with
	// the others on their way through it.
	const n = 12
	var bodies []string
	for i := 1; i <= n; i++ {
		bodies = append(bodies, fmt.Sprintf("crash n=%02d", i))
	}
	ended := startSends(t, p, to, bodies)
	if !waitPeer(peer, 20*time.Second, func(g map[string]int) bool {
		for b := range g {
			if strings.HasPrefix(b, "crash n=") {
				return true
			}
		}
		return false
	}) {
		t.Fatal("none of the sends reached the peer")
	}
	_ = core.cmd.Process.Signal(syscall.SIGKILL)
	_ = core.wait()
	killed := time.Now()
	sock := filepath.Join(p.root, "run", "polyglot", "core.sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the killed core left no socket (%v): the test proves nothing", err)
	}

	// Every send ends, none hangs: 0 sent, 75 queued, or an error that
	// says the core went away.
	accepted := map[string]bool{}
	var wentAway, busy, late int
	deadline := time.After(45 * time.Second)
	for range bodies {
		var r sendProc
		select {
		case r = <-ended:
		case <-deadline:
			t.Fatal("a send still runs 45 s after its core died")
		}
		switch {
		case r.code == 0 || r.code == exitQueued:
			accepted[r.body] = true
			if r.started.After(killed) || r.ended.After(killed) {
				late++
			}
		case strings.Contains(r.stderr, "core went away") && strings.Contains(r.stderr, "goes out once when a core runs again"):
			wentAway++
		case r.code == exitBusy && strings.Contains(r.stderr, "owns this data dir"):
			// Its core was dying, or a send run on its own after the
			// kill held the data dir: refused, nothing taken.
			busy++
		default:
			t.Errorf("send %q: exit %d without a clear reason: %s%s", r.body, r.code, r.out, r.stderr)
		}
		t.Logf("send %q: exit %d after %s %s", r.body, r.code, r.took.Round(time.Millisecond), strings.TrimSpace(r.out+r.stderr))
	}
	t.Logf("%d sends answered (%d ended after the kill), %d told the core went away, %d refused as busy", len(accepted), late, wentAway, busy)

	// What the core took: answered, or in the store.
	stored := storedOutgoing(t, p, to)
	var queued []string
	crashStored := 0
	for b, st := range stored {
		if strings.HasPrefix(b, "crash n=") {
			crashStored++
			accepted[b] = true
			if st == inbox.StateQueued {
				queued = append(queued, b)
			}
		}
	}
	sort.Strings(queued)
	atCrash := peer.snapshot()
	var takenButQueued []string
	for _, b := range queued {
		if atCrash[b] > 0 {
			takenButQueued = append(takenButQueued, b)
		}
	}
	t.Logf("after the crash: %d crash messages in the store, still queued: %v; the peer has %v", crashStored, queued, withPrefix(peer.snapshot(), "crash n="))

	// The stale socket does not stop the next core, which resends the
	// queue; a send after it goes behind the resends, so once the peer has it
	// every resend has arrived.
	core = startServe(t, p)
	start := time.Now()
	out, stderr, code := p.run("", "send", "--to", to, "after the crash")
	if code != 0 {
		t.Fatalf("send through the restarted core: exit %d after %s: %s%s", code, time.Since(start).Round(time.Millisecond), out, stderr)
	}
	t.Logf("send through the restarted core: exit %d after %s", code, time.Since(start).Round(time.Millisecond))
	if !waitPeer(peer, 30*time.Second, func(g map[string]int) bool { return g["after the crash"] > 0 }) {
		t.Fatal("the peer did not get the message sent after the crash")
	}
	for b := range accepted {
		if c := peer.snapshot()[b]; c != 1 {
			t.Errorf("the peer got %q %d times, want once", b, c)
		}
	}
	for _, b := range withPrefix(peer.snapshot(), "crash n=") {
		if !accepted[b] {
			t.Errorf("the peer got %q, which the core never stored", b)
		}
	}
	for _, b := range []string{"before the crash", "after the crash"} {
		if c := peer.snapshot()[b]; c != 1 {
			t.Errorf("the peer got %q %d times, want once", b, c)
		}
	}
	t.Logf("%d message(s) had reached the peer but were still queued at the crash (the restarted core must not send them again): %v",
		len(takenButQueued), takenButQueued)
	_ = core.cmd.Process.Signal(syscall.SIGTERM)
	_ = core.wait()
	for b, st := range storedOutgoing(t, p, to) {
		if st == inbox.StateQueued || st == inbox.StateFailed {
			t.Errorf("%q is still %v in the store after the restarted core ran", b, st)
		}
	}
}
