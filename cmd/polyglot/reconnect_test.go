package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/accounts"
	"polyglot/internal/testserver"
)

// TestSupervisorReconnectsAfterProsodyRestart: the account supervisor over
// the real XMPP connector goes online, to retrying when Prosody stops, and
// back online by itself when Prosody returns.
func TestSupervisorReconnectsAfterProsodyRestart(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	p := newProfile(t)
	pw := filepath.Join(p.root, "pw")
	os.WriteFile(pw, []byte("alice-pw"), 0o600)
	if _, stderr, code := p.run("", "account", "add", "xmpp", "alice@localhost",
		"--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", pw); code != 0 {
		t.Fatalf("account add: %s", stderr)
	}
	for _, kv := range p.env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	a, err := newApp(streams{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	cfg, err := a.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.stop()

	waitState := func(want accounts.State, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			sts := rt.accounts.Statuses()
			if len(sts) == 1 && sts[0].State == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("account state %+v, want %v within %v", sts, want, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitState(accounts.StateOnline, 15*time.Second)
	srv.Stop()
	waitState(accounts.StateBackingOff, 60*time.Second)
	srv.Start()
	waitState(accounts.StateOnline, 60*time.Second)
}
