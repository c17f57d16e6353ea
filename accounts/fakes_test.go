package accounts

import (
	"context"
	"polyglot/config"
	"sort"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// fakeClock moves only when a test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves time and fires every timer that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// Pending is the number of timers waiting.
func (c *fakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// script drives fake connectors: Connect returns errs[i] on call i (nil
// or past the end: success).
type script struct {
	mu       sync.Mutex
	errs     []error
	calls    int
	made     int
	conns    []*fakeConn
	secrets  []SecretSource
	onLogin  func(SecretSource) error // e.g. check password, store a token
	closeAll int
	// logoutErr is what Logout answers; logouts counts calls and
	// loggedOutWith the token each saw.
	logoutErr     error
	logouts       int
	loggedOutWith []string
}

func (s *script) factory(acc config.Account, sec SecretSource) (protocols.Connector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.made++
	c := &fakeConn{s: s, sec: sec, events: make(chan protocols.Event, 16)}
	s.conns = append(s.conns, c)
	s.secrets = append(s.secrets, sec)
	return c, nil
}

func (s *script) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *script) last() *fakeConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[len(s.conns)-1]
}

type fakeConn struct {
	s      *script
	sec    SecretSource
	events chan protocols.Event
	once   sync.Once
	closed bool
	mu     sync.Mutex
}

func (c *fakeConn) Network() protocols.Network           { return protocols.XMPP }
func (c *fakeConn) Capabilities() protocols.Capabilities { return protocols.Capabilities{} }
func (c *fakeConn) Connect(ctx context.Context) error {
	c.s.mu.Lock()
	i := c.s.calls
	c.s.calls++
	var err error
	if i < len(c.s.errs) {
		err = c.s.errs[i]
	}
	login := c.s.onLogin
	c.s.mu.Unlock()
	if err != nil {
		return err
	}
	if login != nil {
		return login(c.sec)
	}
	return nil
}
func (c *fakeConn) Events() <-chan protocols.Event { return c.events }
func (c *fakeConn) Send(context.Context, protocols.OutgoingMessage) (protocols.SendResult, error) {
	return protocols.SendResult{}, protocols.ErrNotConnected
}
func (c *fakeConn) PeerEncryption(protocols.Address) protocols.Encryption {
	return protocols.EncTransport
}
func (c *fakeConn) MarkRead(context.Context, protocols.ChatID, protocols.MessageID) error { return nil }
func (c *fakeConn) SetTyping(context.Context, protocols.ChatID, bool) error               { return nil }
func (c *fakeConn) FetchHistory(context.Context, protocols.ChatID, string, int) (protocols.HistoryPage, error) {
	return protocols.HistoryPage{}, nil
}
func (c *fakeConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.s.mu.Lock()
		c.s.closeAll++
		c.s.mu.Unlock()
	})
	return nil
}
func (c *fakeConn) Logout(context.Context) error {
	tok, _ := c.sec.Get(SecretToken)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.logouts++
	c.s.loggedOutWith = append(c.s.loggedOutWith, string(tok))
	return c.s.logoutErr
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// recorder is a Sink and an Attacher.
type recorder struct {
	mu       sync.Mutex
	events   []protocols.Event
	attached map[string]protocols.Connector
}

func newRecorder() *recorder { return &recorder{attached: map[string]protocols.Connector{}} }

func (r *recorder) sink(account string, ev protocols.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}
func (r *recorder) Attach(a string, c protocols.Connector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attached[a] = c
}
func (r *recorder) Detach(a string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.attached, a)
}
func (r *recorder) isAttached(a string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attached[a] != nil
}

// connStates lists the ConnectionEvent states the sink saw.
func (r *recorder) connStates() []protocols.ConnState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []protocols.ConnState
	for _, ev := range r.events {
		if ce, ok := ev.(protocols.ConnectionEvent); ok {
			out = append(out, ce.State)
		}
	}
	return out
}

func (r *recorder) count(pred func(protocols.Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if pred(ev) {
			n++
		}
	}
	return n
}

// waitFor polls cond (real time) for up to 3 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
