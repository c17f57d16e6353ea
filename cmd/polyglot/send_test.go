package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"polyglot/config"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// TestSendRefusesASilentDowngrade runs `send`'s delivery over the demo world
// (fast; the real-server paths are in xmpp_cli_test.go): with Matrix down,
// a message to Bob (Matrix E2EE, XMPP TLS-only) is refused with exit 3 and a
// one-line reason, nothing leaves; --allow-downgrade sends it over XMPP and
// says so; --queue waits for Matrix.
func TestSendRefusesASilentDowngrade(t *testing.T) {
	in, err := inbox.Open(filepath.Join(t.TempDir(), "d.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	world := demo.New(demo.Options{Seed: 1, Speed: 1})
	defer world.Close()
	if err := mergeKnownPeople(in, world.People()); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	for _, acc := range world.Accounts() {
		in.Attach(acc.ID, acc.Connector)
		go pump(ctx, in, acc.ID, acc.Connector)
		if err := acc.Connector.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		cfg.Accounts = append(cfg.Accounts, config.Account{ID: acc.ID, Network: acc.Network, Address: acc.Self.ID, Enabled: true})
	}
	bob := "matrix:@bob:matrix.example"
	waitUntil(t, "Bob's conversation", func() bool { _, err := in.FindConversation(bob); return err == nil })
	world.SetDown(protocols.Matrix, true)
	waitUntil(t, "Matrix offline", func() bool {
		for _, st := range in.AccountStates() {
			if st.Network == protocols.Matrix {
				return st.State != protocols.ConnOnline
			}
		}
		return false
	})

	var out bytes.Buffer
	a := &app{io: streams{out: &out, err: &out}}
	err = a.deliver(ctx, in, cfg, &sendOptions{to: bob, text: "no silent downgrade"}, "")
	var ce *codedError
	if !errors.As(err, &ce) || ce.code != exitCannot || !strings.Contains(err.Error(), "downgrade not allowed") {
		t.Fatalf("err = %v, want exit %d 'downgrade not allowed'", err, exitCannot)
	}
	for _, ob := range world.Outbound() {
		if ob.Kind == demo.OutMessage && strings.Contains(ob.Body, "no silent downgrade") {
			t.Fatal("the refused message reached a network")
		}
	}

	out.Reset()
	if err := a.deliver(ctx, in, cfg, &sendOptions{to: bob, text: "yes, over TLS", allowDowngrade: true}, ""); err != nil {
		t.Fatalf("--allow-downgrade: %v", err)
	}
	if !strings.Contains(out.String(), "XMPP") || !strings.Contains(out.String(), "TLS") {
		t.Fatalf("the report should name the network and encryption used: %q", out.String())
	}

	err = a.deliver(ctx, in, cfg, &sendOptions{to: bob, text: "wait for matrix", queue: true}, "")
	if !errors.As(err, &ce) || ce.code != exitQueued {
		t.Fatalf("--queue: %v, want exit %d", err, exitQueued)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
