package main

import (
	"context"
	"database/sql"
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
	"polyglot/protocols"
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
	// aim waits for a moment to restart at that tests the client's
	// catch-up: the start of its next login (XMPP) or of its first sync
	// after the server came back (Matrix).
	aim func(rng *rand.Rand)
	// stored lists the bodies of the peer's messages in Polyglot's store
	// and the network IDs of those stored undecryptable.
	stored func() (bodies []string, undecryptable []string)
	// confirmedID, if set, tells whether a network ID is one of the
	// server-confirmed sends: an undecryptable event the sender was told
	// had failed (the server took it, then died before the sender heard,
	// and the key it shared died with it) is reported but no failure.
	confirmedID func(networkID string) bool
	// explainLost, if set, logs what the server and the client know of
	// messages confirmed but not stored (for diagnosis only).
	explainLost func(lost []string)

	mu        sync.Mutex
	attempted []string
	confirmed []string
	// connecting counts the account's moves into StateConnecting, so a
	// restart can be aimed at a login and its catch-up.
	connecting atomic.Int64
}

// faultReport is what a run found, for the log and scripts/soak.
type faultReport struct {
	restarts, duringCatchUp             int
	sent, confirmed, stored, duplicated int
	undecryptable                       int
}

func (r faultReport) String() string {
	return fmt.Sprintf("restarts=%d (during login/catch-up %d) sent=%d confirmed=%d stored=%d duplicated=%d undecryptable=%d",
		r.restarts, r.duringCatchUp, r.sent, r.confirmed, r.stored, r.duplicated, r.undecryptable)
}

func (f *faultRun) run() faultReport {
	t := f.t
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	t.Logf("fault plan: %d restarts, ≥ %d messages", f.plan.restarts, f.plan.messages)

	sts, unsub := f.rt.accounts.Subscribe()
	defer unsub()
	go func() {
		for st := range sts {
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
			time.Sleep(time.Duration(70+rng.IntN(60)) * time.Millisecond) // ~10 messages/s
		}
	}()

	rep := faultReport{}
	for r := 1; r <= f.plan.restarts; r++ {
		if r%3 == 0 {
			f.aim(rng)
		} else {
			time.Sleep(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
		}
		if f.catchingUp() {
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
	var undecryptable []string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		counts = map[string]int{}
		var bodies []string
		bodies, undecryptable = f.stored()
		for _, b := range bodies {
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
		if f.explainLost != nil {
			f.explainLost(lost)
		}
	}
	for _, id := range undecryptable {
		if f.confirmedID == nil || f.confirmedID(id) {
			rep.undecryptable++
			t.Errorf("confirmed message %s stored undecryptable", id)
		} else {
			t.Logf("undecryptable %s: a send its sender was told had failed", id)
		}
	}
	t.Logf("fault injection: %s", rep)
	if rep.duringCatchUp == 0 {
		t.Errorf("no restart hit a login/catch-up: the run did not test what it is for")
	}
	return rep
}

// catchingUp tells whether the client is between reconnecting and
// online: logging in, catching up, or its first sync not yet through.
func (f *faultRun) catchingUp() bool {
	for _, st := range f.rt.inbox.AccountStates() {
		if st.State == protocols.ConnConnecting {
			return true
		}
	}
	return false
}

// aimAtLogin waits until the supervisor starts its next login (which runs
// the catch-up) and a few milliseconds more.
func (f *faultRun) aimAtLogin(rng *rand.Rand) {
	seen := f.connecting.Load()
	deadline := time.Now().Add(30 * time.Second)
	for f.connecting.Load() == seen && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
}

// storedBodies pages a conversation of the store: the bodies of the
// numbered messages, oldest first, and the network IDs of the incoming
// ones stored undecryptable.
func storedBodies(t *testing.T, in *inbox.Inbox, addr string) (out []string, undecryptable []string) {
	conv, err := in.FindConversation(addr)
	if err != nil {
		return nil, nil // not there yet
	}
	cur := inbox.Cursor{}
	for {
		ms, err := in.Messages(conv, cur, 200)
		if err != nil {
			t.Errorf("reading the store: %v", err)
			return out, undecryptable
		}
		var page []string
		for _, m := range ms {
			switch {
			case strings.HasPrefix(m.Body, "n="):
				page = append(page, m.Body)
			case !m.Outgoing && m.Body == "" && strings.Contains(m.Notice, "Unable to decrypt"):
				undecryptable = append(undecryptable, m.NetworkID)
			}
		}
		out = append(page, out...) // an older page goes in front
		if len(ms) < 200 {
			return out, undecryptable
		}
		cur = inbox.Cursor{At: ms[0].At, ID: int64(ms[0].ID)}
	}
}

// storedIDsWithBody lists the network IDs of the stored messages with body.
func storedIDsWithBody(t *testing.T, in *inbox.Inbox, addr, body string) (ids []string) {
	conv, err := in.FindConversation(addr)
	if err != nil {
		return nil
	}
	for cur := (inbox.Cursor{}); ; {
		ms, err := in.Messages(conv, cur, 200)
		if err != nil {
			t.Errorf("reading the store: %v", err)
			return ids
		}
		for _, m := range ms {
			if m.Body == body {
				ids = append(ids, m.NetworkID)
			}
		}
		if len(ms) < 200 {
			return ids
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
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
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
		stored: func() ([]string, []string) { return storedBodies(t, rt.inbox, "bob@localhost") },
	}
	f.aim = f.aimAtLogin
	f.run()
}

// TestNothingLostMatrix: the same against Dendrite, in an encrypted DM
// with matrix-nio sending: restarts land mid-sync; every message the
// server accepted is stored once, decrypted.
func TestNothingLostMatrix(t *testing.T) {
	// The encrypted DM as startNioDM opens it, without asking nio to read
	// Polyglot's first message: what is under test is nio → Polyglot.
	var x nioDM
	x.d = testserver.StartDendrite(t)
	x.d.CreateUser("alice", "alice-pw-3d9")
	x.bob = x.d.CreateUser("bob", "bob-pw-71c")
	x.nio = testserver.StartNioPeer(t, x.d, x.bob, "bob-pw-71c")
	x.p = newProfile(t)
	addMatrixAccount(t, x.p, x.d, "@alice:localhost", "alice-pw-3d9")
	if out, stderr, code := x.p.run("", "send", "--timeout", "60s", "--to", x.bob, "before the storm"); code != 0 || !strings.Contains(out, "E2EE") {
		t.Fatalf("send: exit %d: %s%s", code, out, stderr)
	}
	inv, err := x.nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" })
	if err != nil {
		t.Fatalf("nio got no invite: %v", err)
	}
	x.room, _ = inv["room"].(string)
	x.nio.MustDo(map[string]any{"op": "join", "room": x.room})
	rt := startFaultClient(t, x.p)
	var sentIDs sync.Map // body → event ID the server confirmed
	f := &faultRun{t: t, srv: x.d, rt: rt,
		plan:   soakPlan(t, faultPlan{restarts: 10, messages: 100}),
		peerUp: func() bool { return true }, // nio retries its requests by itself
		send: func(body string) bool {
			res, err := x.nio.Do(map[string]any{"op": "send", "room": x.room, "body": body})
			if err == nil {
				eid, _ := res["event_id"].(string)
				sentIDs.Store(body, eid)
			}
			return err == nil
		},
		stored: func() ([]string, []string) { return storedBodies(t, rt.inbox, x.bob) },
		confirmedID: func(networkID string) bool {
			body := ""
			sentIDs.Range(func(k, v any) bool {
				if v == networkID {
					body = k.(string)
				}
				return body == ""
			})
			if body != "" { // for diagnosis: where else that body is
				t.Logf("undecryptable %s was confirmed as %s; the store has that body under %v", networkID, body, storedIDsWithBody(t, rt.inbox, x.bob, body))
			}
			return body != ""
		},
		explainLost: func(lost []string) { explainLostMatrix(t, x.d, x.p, &sentIDs, lost) },
		// Soon after the server is back, while the client's sync retries
		// and its first sync (the catch-up) is under way.
		aim: func(rng *rand.Rand) { time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond) },
	}
	f.run()
	logServerStreamGaps(t, x.d)
}

// logServerStreamGaps logs the events Dendrite's roomserver accepted that
// never reached its sync stream (syncapi): no client can sync those.
func logServerStreamGaps(t *testing.T, d *testserver.Dendrite) {
	db, err := sql.Open("sqlite", "file:"+d.DBPath("roomserver")+"?mode=ro")
	if err != nil {
		t.Logf("server stream check: %v", err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`ATTACH DATABASE ? AS s`, "file:"+d.DBPath("syncapi")+"?mode=ro"); err != nil {
		t.Logf("server stream check: %v", err)
		return
	}
	var total, missing int
	var ids sql.NullString
	err = db.QueryRow(`SELECT count(*), sum(event_id NOT IN (SELECT event_id FROM s.syncapi_output_room_events)),
		group_concat(CASE WHEN event_id NOT IN (SELECT event_id FROM s.syncapi_output_room_events)
			THEN e.event_nid || ':' || t.event_type || ':' || e.event_id END)
		FROM roomserver_events e JOIN roomserver_event_types t USING (event_type_nid)`).Scan(&total, &missing, &ids)
	t.Logf("server stream check: roomserver has %d events, %d of them not in the sync stream %s (err %v)", total, missing, ids.String, err)
}

// explainLostMatrix logs, for each lost message, where Dendrite has it: in
// the roomserver (the server accepted it) and at which position of the
// sync stream (syncapi, which /sync, /messages and /context read), next to
// the sync token Polyglot saved. An event the roomserver has but the sync
// stream lacks was lost by the server; one in the stream below the saved
// token was passed by the client.
func explainLostMatrix(t *testing.T, d *testserver.Dendrite, p *profile, sentIDs *sync.Map, lost []string) {
	q := func(path, query string, args ...any) string {
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			return "open: " + err.Error()
		}
		defer db.Close()
		var out sql.NullString
		if err := db.QueryRow(query, args...).Scan(&out); err != nil {
			return err.Error()
		}
		return out.String
	}
	var tokens []string
	dbs, _ := filepath.Glob(filepath.Join(p.data, "polyglot", "*", "*", "matrix.db"))
	more, _ := filepath.Glob(filepath.Join(p.data, "polyglot", "*", "matrix.db"))
	for _, m := range append(dbs, more...) {
		tokens = append(tokens, q(m, `SELECT group_concat(next_batch) FROM polyglot_matrix_sync`))
	}
	t.Logf("lost-event check: polyglot next_batch=%v; syncapi max stream id=%s", tokens,
		q(d.DBPath("syncapi"), `SELECT max(id) FROM syncapi_output_room_events`))
	for _, b := range lost {
		v, _ := sentIDs.Load(b)
		eid, _ := v.(string)
		t.Logf("lost-event check: %s event %s: roomserver event_nid=%s; syncapi stream id=%s; syncapi neighbours=%s", b, eid,
			q(d.DBPath("roomserver"), `SELECT event_nid FROM roomserver_events WHERE event_id=?`, eid),
			q(d.DBPath("syncapi"), `SELECT id FROM syncapi_output_room_events WHERE event_id=?`, eid),
			q(d.DBPath("syncapi"), `SELECT group_concat(id) FROM (SELECT id FROM syncapi_output_room_events ORDER BY id DESC LIMIT 8)`))
	}
}
