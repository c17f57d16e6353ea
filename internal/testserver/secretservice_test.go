package testserver

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestSecretServiceStoresLocksAndCleansUp checks the harness against the
// real daemons: a secret stored by one libsecret client is found by
// another, a locked collection refuses at once (no prompter, no hang), and
// the cleanup leaves no daemon and no directory behind.
func TestSecretServiceStoresLocksAndCleansUp(t *testing.T) {
	var ss *SecretService
	var dir string
	var done []chan struct{}
	t.Run("run", func(t *testing.T) {
		ss = StartSecretService(t)
		dir = ss.dir
		done = []chan struct{}{ss.busDone, ss.gkDone}
		if !strings.HasPrefix(ss.Address, "unix:path="+dir) {
			t.Fatalf("bus address %q is not the private socket in %s", ss.Address, dir)
		}
		if ss.Address == os.Getenv("DBUS_SESSION_BUS_ADDRESS") {
			t.Fatal("the harness reused the developer's session bus")
		}
		if _, ok := ss.Lookup("service", "harness", "username", "u"); ok {
			t.Fatal("a fresh keyring already holds the item")
		}
		ss.Store("harness item", "s3cret", "service", "harness", "username", "u")
		if got, ok := ss.Lookup("service", "harness", "username", "u"); !ok || got != "s3cret" {
			t.Fatalf("lookup = %q, %v", got, ok)
		}
		if s := ss.Search("service", "harness"); !strings.Contains(s, "attribute.username = u") {
			t.Fatalf("search output lacks the item:\n%s", s)
		}

		ss.Lock()
		start := time.Now()
		if got, ok := ss.Lookup("service", "harness", "username", "u"); ok {
			t.Fatalf("locked keyring gave out %q", got)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("lookup on a locked keyring took %s", d)
		}
	})
	for i, d := range done {
		select {
		case <-d:
		default:
			t.Errorf("daemon %d still running after cleanup", i)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}
