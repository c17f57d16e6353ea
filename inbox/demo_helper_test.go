package inbox_test

import (
	"context"
	"path/filepath"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// openDemoInbox is a real store fed by the demo world's connectors, all
// connected; both close with the test.
func openDemoInbox(t *testing.T) (*inbox.Inbox, *demo.World) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	in, err := inbox.Open(filepath.Join(t.TempDir(), "demo.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	world := demo.New(demo.Options{Seed: 1, Speed: 20})
	t.Cleanup(func() { world.Close() })
	for _, acc := range world.Accounts() {
		in.Attach(acc.ID, acc.Connector)
		go func(id string, c protocols.Connector) {
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
	return in, world
}
