package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"polyglot/accounts"
	"polyglot/inbox"
	"polyglot/internal/testserver"
)

// Fault injection: a foreign peer sends numbered messages ("n=0001"…),
// each confirmed by the server, while the harness kills or stops the real
// server at random moments — some while Polyglot is logging in and
// catching up — and starts it again. At the end every confirmed message
// must be in Polyglot's store exactly once. The suite runs a short plan;
// scripts/soak runs the same tests longer through POLYGLOT_SOAK.

// faultPlan sizes a run: how many restarts, at least how many messages.
type faultPlan struct{ restarts, messages int }

// soakPlan is def unless POLYGLOT_SOAK="RESTARTS,MESSAGES" asks for more.
func soakPlan(t *testing.T, def faultPlan) faultPlan {
	v := os.Getenv("POLYGLOT_SOAK")
	if v == "" {
		return def
	}
	r, m, _ := strings.Cut(v, ",")
	restarts, err1 := strconv.Atoi(r)
	messages, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || restarts < 1 || messages < 1 {
		t.Fatalf("POLYGLOT_SOAK=%q: want RESTARTS,MESSAGES", v)
	}
	return faultPlan{restarts, messages}
}

// restartable is the real server under test (testserver.Prosody, Dendrite).
type restartable interface {
	Kill()
	Stop()
	Start()
}

// faultRun is one run. The network-specific parts are the peer's
// functions; the rest is the same for every network.
type faultRun struct {
	t    *testing.T
	plan faultPlan
	srv  restartable
	rt   *runtime
	// peerUp (re)connects the sending peer; false while the server is down.
	peerUp func() bool
	// send sends body and reports whether the server confirmed it.
	send func(body string) bool
	// stored lists the bodies of the messages in Polyglot's store.
	stored func() []string

	mu        sync.Mutex
	attempted []string
	confirmed []string
	// connecting counts the account's moves into StateConnecting, so a
	// restart can be aimed at a login and its catch-up.
	connecting atomic.Int64
	state      atomic.Int64
}

// faultReport is what a run found, for the log and scripts/soak.
type faultReport struct {
	restarts, duringCatchUp             int
	sent, confirmed, stored, duplicated int
}

func (r faultReport) String() string {
	return fmt.Sprintf("restarts=%d (during login/catch-up %d) sent=%d confirmed=%d stored=%d duplicated=%d",
		r.restarts, r.duringCatchUp, r.sent, r.confirmed, r.stored, r.duplicated)
}

func (f *faultRun) run() faultReport {
	t := f.t
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	t.Logf("fault plan: %d restarts, ≥ %d messages", f.plan.restarts, f.plan.messages)

	sts, unsub := f.rt.accounts.Subscribe()
	defer unsub()
	go func() {
		for st := range sts {
			f.state.Store(int64(st.State))
			if st.State == accounts.StateConnecting {
				f.connecting.Add(1)
			}
		}
	}()

	var restartsDone atomic.Bool
	senderDone := make(chan struct{})
	go func() { // the sender: never fails the test, only records
		defer close(senderDone)
		up := false
		for n := 1; n <= f.plan.messages || !restartsDone.Load(); {
			if !up {
				if up = f.peerUp(); !up {
					time.Sleep(50 * time.Millisecond) // server down: try again
					continue
				}
			}
			body := fmt.Sprintf("n=%04d", n)
			n++
			f.mu.Lock()
			f.attempted = append(f.attempted, body)
			f.mu.Unlock()
			if !f.send(body) {
				up = false
				continue
			}
			f.mu.Lock()
			f.confirmed = append(f.confirmed, body)
			f.mu.Unlock()
			time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond) // ~20 messages/s
		}
	}()

	rep := faultReport{}
	for r := 1; r <= f.plan.restarts; r++ {
		if r%3 == 0 { // aim at the next login: it runs the catch-up
			seen := f.connecting.Load()
			deadline := time.Now().Add(90 * time.Second)
			for f.connecting.Load() == seen && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		} else {
			time.Sleep(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
		}
		if accounts.State(f.state.Load()) == accounts.StateConnecting {
			rep.duringCatchUp++
		}
		if r%2 == 0 {
			f.srv.Kill()
		} else {
			f.srv.Stop()
		}
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		f.srv.Start()
		rep.restarts++
	}
	restartsDone.Store(true)
	<-senderDone

	// Wait for what is needed: every confirmed message in the store.
	f.mu.Lock()
	confirmed, attempted := f.confirmed, f.attempted
	f.mu.Unlock()
	var counts map[string]int
	deadline := time.Now().Add(3 * time.Minute)
	for {
		counts = map[string]int{}
		for _, b := range f.stored() {
			counts[b]++
		}
		missing := 0
		for _, b := range confirmed {
			if counts[b] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d confirmed messages never reached the store", missing, len(confirmed))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep.sent, rep.confirmed = len(attempted), len(confirmed)
	var lost []string
	for _, b := range confirmed {
		if counts[b] == 0 {
			lost = append(lost, b)
		}
	}
	for b, n := range counts {
		rep.stored++
		if n > 1 {
			rep.duplicated++
			t.Errorf("%s stored %d times", b, n)
		}
	}
	if len(lost) > 0 {
		t.Errorf("confirmed but not stored: %v", lost)
	}
	t.Logf("fault injection: %s", rep)
	if rep.duringCatchUp == 0 {
		t.Errorf("no restart hit a login/catch-up: the run did not test what it is for")
	}
	return rep
}

// storedBodies pages a conversation of the store, oldest first.
func storedBodies(t *testing.T, in *inbox.Inbox, addr string) []string {
	conv, err := in.FindConversation(addr)
	if err != nil {
		return nil // not there yet
	}
	var out []string
	cur := inbox.Cursor{}
	for {
		ms, err := in.Messages(conv, cur, 200)
		if err != nil {
			t.Errorf("reading the store: %v", err)
			return out
		}
		for _, m := range ms {
			if strings.HasPrefix(m.Body, "n=") {
				out = append(out, m.Body)
			}
		}
		if len(ms) < 200 {
			return out
		}
		cur = inbox.Cursor{At: ms[0].At, ID: int64(ms[0].ID)}
	}
}

// startFaultClient runs the real client (config, keystore, supervisors,
// SQLite store) for the profile, with a short reconnect backoff so a run
// of many restarts stays short.
func startFaultClient(t *testing.T, p *profile) *runtime {
	for _, kv := range p.env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	a, err := newApp(streams{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	a.backoff = accounts.Backoff{Base: time.Second, Cap: 2 * time.Second}
	cfg, err := a.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.stop)
	return rt
}

// TestNothingLostXMPP: Prosody restarted at random moments (SIGKILL and
// SIGTERM in turn, some during Polyglot's login and catch-up) while a
// slixmpp peer sends; every message the server confirmed is stored once.
func TestNothingLostXMPP(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("bob", "bob-pw")
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	if err := os.WriteFile(pw, []byte("alice-pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: %s", stderr)
	}
	rt := startFaultClient(t, p)

	var bob *testserver.Peer
	f := &faultRun{t: t, srv: srv, rt: rt,
		plan: soakPlan(t, faultPlan{restarts: 10, messages: 150}),
		peerUp: func() bool {
			if bob != nil {
				bob.Close()
			}
			var err error
			bob, err = srv.TryStartPeer("bob@localhost", "bob-pw")
			return err == nil
		},
		send: func(body string) bool {
			return bob.SendConfirmed(map[string]any{"to": "alice@localhost", "body": body})
		},
		stored: func() []string { return storedBodies(t, rt.inbox, "bob@localhost") },
	}
	f.run()
}
