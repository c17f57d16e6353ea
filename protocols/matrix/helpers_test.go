package matrix_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
)

// client is a Polyglot Matrix connector under test plus a recorder of every
// event it emitted.
type client struct {
	t  testing.TB
	c  *matrix.Connector
	mu sync.Mutex
	ev []protocols.Event
	wk chan struct{}
	dn chan struct{}
}

func pickleKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// connect starts a connector for user on d with the given DB file.
func connect(t testing.TB, d *testserver.Dendrite, cfg matrix.Config) *client {
	t.Helper()
	if cfg.Homeserver == "" {
		cfg.Homeserver = d.URL()
	}
	c, err := matrix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c, wk: make(chan struct{}, 1), dn: make(chan struct{})}
	go cl.record()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", cfg.UserID, err)
	}
	t.Cleanup(func() { cl.close() })
	return cl
}

func (cl *client) close() {
	_ = cl.c.Close()
}

func (cl *client) record() {
	defer close(cl.dn)
	for ev := range cl.c.Events() {
		cl.mu.Lock()
		cl.ev = append(cl.ev, ev)
		cl.mu.Unlock()
		select {
		case cl.wk <- struct{}{}:
		default:
		}
	}
}

func (cl *client) events() []protocols.Event {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]protocols.Event(nil), cl.ev...)
}

// wait returns the first recorded event matching, waiting up to timeout.
func (cl *client) wait(timeout time.Duration, what string, match func(protocols.Event) bool) protocols.Event {
	cl.t.Helper()
	deadline := time.After(timeout)
	for {
		for _, ev := range cl.events() {
			if match(ev) {
				return ev
			}
		}
		select {
		case <-cl.wk:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			cl.t.Fatalf("no %s within %s; got %d events:\n%s", what, timeout, len(cl.events()), dumpEvents(cl.events()))
			return nil
		}
	}
}

func (cl *client) waitMessage(timeout time.Duration, body string) protocols.Message {
	cl.t.Helper()
	ev := cl.wait(timeout, fmt.Sprintf("message %q", body), func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && m.Message.Body == body
	})
	return ev.(protocols.MessageEvent).Message
}

func (cl *client) count(match func(protocols.Event) bool) int {
	n := 0
	for _, ev := range cl.events() {
		if match(ev) {
			n++
		}
	}
	return n
}

func dumpEvents(evs []protocols.Event) string {
	s := ""
	for i, ev := range evs {
		if i > 60 {
			s += "…\n"
			break
		}
		s += fmt.Sprintf("  %T %+v\n", ev, ev)
	}
	return s
}

func cfgFor(t testing.TB, user, pass string) matrix.Config {
	return matrix.Config{UserID: user, Password: pass, DBPath: filepath.Join(t.TempDir(), "matrix.db"), PickleKey: pickleKey()}
}

func bodyIs(body string) func(map[string]any) bool {
	return func(ev map[string]any) bool { return ev["ev"] == "message" && ev["body"] == body }
}
