// Package demotest feeds a real inbox store from the demo world, as the
// accounts layer would, for tests that need a lively store without
// servers.
package demotest

import (
	"context"
	"path/filepath"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// Inbox opens a store in a temp dir and connects the demo world (seed 1,
// at 20× speed) to it; both close with the test.
func Inbox(t *testing.T) (*inbox.Inbox, *demo.World) {
	t.Helper()
	in, err := inbox.Open(filepath.Join(t.TempDir(), "demo.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	world := demo.New(demo.Options{Seed: 1, Speed: 20})
	Connect(t, in, world)
	return in, world
}

// Connect attaches every demo account to in, ingests their events and
// connects them. At the test's end the feeding stops before the world
// closes.
func Connect(t *testing.T, in *inbox.Inbox, world *demo.World) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	accs := world.Accounts()
	t.Cleanup(func() {
		cancel()
		for range accs {
			<-done
		}
		world.Close()
	})
	for _, acc := range accs {
		in.Attach(acc.ID, acc.Connector)
		go func(id string, c protocols.Connector) {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-c.Events():
					if !ok {
						return
					}
					_ = in.Ingest(id, ev)
				}
			}
		}(acc.ID, acc.Connector)
		if err := acc.Connector.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
