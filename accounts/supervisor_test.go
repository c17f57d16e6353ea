package accounts

import (
	"context"
	"errors"
	"fmt"
	"polyglot/config"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/keystore"
	"polyglot/protocols"
)

// harness runs one account under a Manager with a fake clock.
type harness struct {
	m     *Manager
	clock *fakeClock
	sc    *script
	rec   *recorder
	ks    keystore.Store
	id    string
}

func newHarness(t *testing.T, sc *script) *harness {
	t.Helper()
	cfg := config.Default()
	acc := config.Account{Network: protocols.XMPP, Address: "me@example.org", Enabled: true}
	if err := acc.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Accounts = []config.Account{acc}
	h := &harness{clock: newFakeClock(), sc: sc, rec: newRecorder(), ks: keystore.NewMemory(), id: acc.ID}
	m, err := New(cfg, Options{
		Registry: Registry{protocols.XMPP: sc.factory},
		Keystore: h.ks, Sink: h.rec.sink, Attacher: h.rec, Clock: h.clock,
		// Rand 0: every delay is exactly half its ceiling, so steps are exact.
		Backoff: Backoff{Base: time.Second, Factor: 2, Cap: 8 * time.Second, Healthy: 30 * time.Second, Rand: func() float64 { return 0 }},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return h
}

func (h *harness) status() Status { return h.m.Statuses()[0] }

func (h *harness) waitState(t *testing.T, s State) Status {
	t.Helper()
	waitFor(t, "state "+s.String(), func() bool { return h.status().State == s })
	return h.status()
}

var errRefused = fmt.Errorf("dial tcp 127.0.0.1:5222: %w", errors.New("connection refused"))

func TestFailsNTimesThenSucceedsWithGrowingCappedDelays(t *testing.T) {
	sc := &script{errs: []error{errRefused, errRefused, errRefused, errRefused, errRefused}}
	h := newHarness(t, sc)
	// Ceilings 1,2,4,8,8 s (cap 8); with Rand=0 the waits are half of that.
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, d := range want {
		st := h.waitState(t, StateBackingOff)
		if got := st.NextRetry.Sub(h.clock.Now()); got != d {
			t.Fatalf("attempt %d: retry in %v, want %v", i+1, got, d)
		}
		if st.Attempt != i+1 || st.Detail == "" {
			t.Fatalf("attempt %d: status %+v", i+1, st)
		}
		waitFor(t, "timer", func() bool { return h.clock.Pending() == 1 })
		h.clock.Advance(d - time.Millisecond)
		if sc.Calls() != i+1 {
			t.Fatalf("retried before the delay passed")
		}
		h.clock.Advance(time.Millisecond)
		waitFor(t, "next attempt", func() bool { return sc.Calls() == i+2 })
	}
	st := h.waitState(t, StateOnline)
	if st.Detail != "" || !h.rec.isAttached(h.id) {
		t.Fatalf("online status %+v, attached %v", st, h.rec.isAttached(h.id))
	}
	offline := h.rec.count(func(ev protocols.Event) bool {
		ce, ok := ev.(protocols.ConnectionEvent)
		return ok && ce.State == protocols.ConnOffline && ce.Err != nil
	})
	if offline != 5 {
		t.Fatalf("inbox saw %d offline events, want 5: %v", offline, h.rec.connStates())
	}
	// The five failed connectors were closed.
	if sc.closeAll != 5 {
		t.Fatalf("closed %d connectors, want 5", sc.closeAll)
	}
}

func TestEventsForwardedAndDropReconnects(t *testing.T) {
	sc := &script{}
	h := newHarness(t, sc)
	h.waitState(t, StateOnline)
	c := sc.last()
	msg := protocols.MessageEvent{Message: protocols.Message{Body: "hi", NetworkID: "m1"}}
	c.events <- msg
	waitFor(t, "message forwarded", func() bool {
		return h.rec.count(func(ev protocols.Event) bool { _, ok := ev.(protocols.MessageEvent); return ok }) == 1
	})
	// The server drops us after 5 s: back off, detach, close.
	h.clock.Advance(5 * time.Second)
	c.events <- protocols.ConnectionEvent{State: protocols.ConnOffline, Detail: "stream closed"}
	st := h.waitState(t, StateBackingOff)
	if h.rec.isAttached(h.id) || !c.isClosed() {
		t.Fatal("dropped connector still attached or not closed")
	}
	if st.Detail == "" {
		t.Fatal("no reason shown for the drop")
	}
	waitFor(t, "timer", func() bool { return h.clock.Pending() == 1 })
	h.clock.Advance(time.Second)
	h.waitState(t, StateOnline)
	// A closed event channel is also a drop.
	c2 := sc.last()
	if c2 == c {
		t.Fatal("no new connector after reconnect")
	}
	close(c2.events)
	h.waitState(t, StateBackingOff)
}

func TestBackoffResetsOnlyAfterHealthyConnection(t *testing.T) {
	sc := &script{errs: []error{errRefused, errRefused, errRefused}}
	h := newHarness(t, sc)
	for i := 0; i < 3; i++ {
		st := h.waitState(t, StateBackingOff)
		waitFor(t, "timer", func() bool { return h.clock.Pending() == 1 })
		h.clock.Advance(st.NextRetry.Sub(h.clock.Now()))
		waitFor(t, "next attempt", func() bool { return sc.Calls() == i+2 })
	}
	h.waitState(t, StateOnline)
	// Up only 10 s: the attempt count continues (4th failure: ceiling 8 s).
	h.clock.Advance(10 * time.Second)
	sc.last().events <- protocols.ConnectionEvent{State: protocols.ConnOffline}
	st := h.waitState(t, StateBackingOff)
	if got := st.NextRetry.Sub(h.clock.Now()); got != 4*time.Second {
		t.Fatalf("short-lived connection: retry in %v, want 4s", got)
	}
	waitFor(t, "timer", func() bool { return h.clock.Pending() == 1 })
	h.clock.Advance(4 * time.Second)
	h.waitState(t, StateOnline)
	// Up 30 s: healthy, so the next drop starts again at the base.
	h.clock.Advance(30 * time.Second)
	sc.last().events <- protocols.ConnectionEvent{State: protocols.ConnOffline}
	st = h.waitState(t, StateBackingOff)
	if got := st.NextRetry.Sub(h.clock.Now()); got != 500*time.Millisecond {
		t.Fatalf("after healthy connection: retry in %v, want 500ms", got)
	}
}

func TestAuthFailureDoesNotRetryUntilRelogin(t *testing.T) {
	sc := &script{errs: []error{fmt.Errorf("sasl: %w", protocols.ErrAuthFailed)}}
	h := newHarness(t, sc)
	h.ks.Set(keystore.AccountSecret(h.id, SecretToken), []byte("revoked"))
	st := h.waitState(t, StateAuthFailed)
	if st.Detail == "" {
		t.Fatal("no explanation for the auth failure")
	}
	// Hours pass: no retry loop, no timer.
	h.clock.Advance(6 * time.Hour)
	time.Sleep(20 * time.Millisecond)
	if sc.Calls() != 1 || h.clock.Pending() != 0 {
		t.Fatalf("retried after auth failure: %d calls, %d timers", sc.Calls(), h.clock.Pending())
	}
	if got := h.rec.connStates(); got[len(got)-1] != protocols.ConnAuthFailed {
		t.Fatalf("inbox not told: %v", got)
	}
	if err := h.m.Relogin(h.id, []byte("new-pass")); err != nil {
		t.Fatal(err)
	}
	h.waitState(t, StateOnline)
	if v, _ := h.ks.Get(keystore.AccountSecret(h.id, SecretPassword)); string(v) != "new-pass" {
		t.Fatalf("password not stored: %q", v)
	}
	if _, err := h.ks.Get(keystore.AccountSecret(h.id, SecretToken)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatal("refused token kept after relogin")
	}
	// The connector can read the new secret through its SecretSource.
	if v, _ := sc.secrets[len(sc.secrets)-1].Get(SecretPassword); string(v) != "new-pass" {
		t.Fatalf("connector sees %q", v)
	}
}

func TestConnectorReportedAuthFailure(t *testing.T) {
	sc := &script{}
	h := newHarness(t, sc)
	h.waitState(t, StateOnline)
	sc.last().events <- protocols.ConnectionEvent{State: protocols.ConnAuthFailed, Detail: "token revoked"}
	h.waitState(t, StateAuthFailed)
	h.clock.Advance(time.Hour)
	time.Sleep(10 * time.Millisecond)
	if sc.Calls() != 1 {
		t.Fatal("retried after the connector reported auth failure")
	}
}

func TestStopClosesAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	sc := &script{errs: []error{errRefused}}
	h := newHarness(t, sc)
	h.waitState(t, StateBackingOff)
	waitFor(t, "timer", func() bool { return h.clock.Pending() == 1 })
	h.clock.Advance(time.Second)
	h.waitState(t, StateOnline)
	h.m.Stop()
	if st := h.status(); st.State != StateStopped {
		t.Fatalf("after Stop: %v", st.State)
	}
	if !sc.last().isClosed() || h.rec.isAttached(h.id) {
		t.Fatal("Stop left the connector open or attached")
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestReconnectNowEndsTheBackOffWait: an account waiting to retry connects
// at once when asked, without any time passing; the attempt count is kept
// (a user pressing keys does not reset the growing delay), and an online
// account is left alone.
func TestReconnectNowEndsTheBackOffWait(t *testing.T) {
	sc := &script{errs: []error{errRefused, errRefused, errRefused}}
	h := newHarness(t, sc)
	// Ceilings 1, 2, 4 s with Rand 0: waits of 0.5, 1, 2 s that never pass.
	for i, wait := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		st := h.waitState(t, StateBackingOff)
		if st.Attempt != i+1 || st.NextRetry.Sub(h.clock.Now()) != wait {
			t.Fatalf("failure %d: status %+v, want attempt %d retrying in %v", i+1, st, i+1, wait)
		}
		if n := h.m.ReconnectNow(); n != 1 {
			t.Fatalf("ReconnectNow woke %d accounts, want 1", n)
		}
		waitFor(t, "the next attempt without the clock moving", func() bool { return sc.Calls() == i+2 })
	}
	h.waitState(t, StateOnline)
	c := sc.last()
	if n := h.m.ReconnectNow(); n != 0 {
		t.Fatalf("ReconnectNow woke %d accounts while online", n)
	}
	if sc.Calls() != 4 || c.isClosed() || h.status().State != StateOnline {
		t.Fatalf("an online account was reconnected: %d calls, closed %v", sc.Calls(), c.isClosed())
	}
}

// TestMissingPasswordIsNotARefusedLogin: a factory that finds no password
// in the keystore leaves the account waiting for one (no retry loop), and
// the status says what is missing rather than "rejected".
func TestMissingPasswordIsNotARefusedLogin(t *testing.T) {
	cfg := config.Default()
	acc := config.Account{Network: protocols.XMPP, Address: "me@example.org", Enabled: true}
	if err := acc.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Accounts = []config.Account{acc}
	calls := 0
	factory := func(a config.Account, sec SecretSource) (protocols.Connector, error) {
		calls++
		_, err := sec.Get(SecretPassword)
		return nil, &NoSecretError{Account: a.ID, Err: err}
	}
	m, err := New(cfg, Options{Registry: Registry{protocols.XMPP: factory}, Keystore: keystore.NewMemory(), Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	waitFor(t, "login needed", func() bool { return m.Statuses()[0].State == StateAuthFailed })
	st := m.Statuses()[0]
	if !st.NoSecret || !strings.Contains(st.Detail, "no password is stored") || strings.Contains(st.Detail, "rejected") {
		t.Fatalf("status %+v", st)
	}
	if m.ReconnectNow() != 0 {
		t.Fatal("a login-needed account was woken: without a password it would only fail again")
	}
}

// TestOnlineOnlyOnceAttached: a connector that reports "online" from inside
// Connect (Matrix does) does not make the account online before the inbox
// has its connector: a send planned on that state would miss the route
// (CI saw `polyglot send` queue a Matrix DM as "unencrypted" so).
func TestOnlineOnlyOnceAttached(t *testing.T) {
	release := make(chan struct{})
	sc := &script{}
	sc.onLogin = func(SecretSource) error {
		sc.last().events <- protocols.ConnectionEvent{State: protocols.ConnOnline}
		<-release
		return nil
	}
	var once sync.Once
	done := func() { once.Do(func() { close(release) }) }
	h := newHarness(t, sc)
	t.Cleanup(done) // runs before the harness stops the manager
	waitFor(t, "the connector's own online event", func() bool {
		for _, s := range h.rec.connStates() {
			if s == protocols.ConnOnline {
				return true
			}
		}
		return false
	})
	if st := h.status(); st.State == StateOnline || h.rec.isAttached(h.id) {
		t.Fatalf("online before Connect returned: state %v, attached %v", st.State, h.rec.isAttached(h.id))
	}
	done()
	h.waitState(t, StateOnline)
	if !h.rec.isAttached(h.id) {
		t.Fatal("online but not attached")
	}
}
