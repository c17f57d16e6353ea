package xmpp

import (
	"context"

	"github.com/rs/zerolog"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// newClient connects a Polyglot connector for user to the test Prosody.
func newClient(t *testing.T, p *testserver.Prosody, user, pass string, mod func(*Config)) *Connector {
	t.Helper()
	cfg := Config{JID: user + "@" + p.Domain(), Password: pass, Server: p.Addr(), CAFile: p.CAFile(), Resource: "polyglot", Account: "acct-" + user}
	cfg.Logger = zerolog.New(zerolog.ConsoleWriter{Out: testWriter{t}, NoColor: true}).Level(zerolog.DebugLevel)
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v\n%s", user, err, p.Log())
	}
	return c
}

// waitEvent reads events until pred matches; other events are dropped.
func waitEvent[T protocols.Event](t *testing.T, c *Connector, timeout time.Duration, pred func(T) bool) T {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-c.Events():
			stored(ev)
			if e, ok := ev.(T); ok && (pred == nil || pred(e)) {
				return e
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T within %s", zero, timeout)
			return zero
		}
	}
}

// stored plays the inbox's part for a test reading events straight from
// the connector: what the test has read counts as stored, so checkpoints
// are committed and positions persist as they would under the inbox.
func stored(ev protocols.Event) {
	if cp, ok := ev.(protocols.CheckpointEvent); ok {
		cp.Commit()
	}
}

// drain empties the event channel without blocking.
func drain(c *Connector) []protocols.Event {
	var out []protocols.Event
	for {
		select {
		case ev := <-c.Events():
			stored(ev)
			out = append(out, ev)
		default:
			return out
		}
	}
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
