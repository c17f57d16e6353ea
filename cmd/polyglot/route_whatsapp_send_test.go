package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"polyglot/config"
	"strings"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// TestSendToWhatsAppAndMatrixFollowsThePlan: `polyglot send`'s delivery to
// Alice of the demo world (Matrix verified, WhatsApp E2EE, XMPP TLS) on a
// real SQLite store does what the route plan says — the plan the TUI's
// route line shows (TestWhatsAppMatrixRouteInTheDemoWorld): Matrix while
// it is up; with Matrix down, WhatsApp only with --allow-downgrade (from
// verified to unverified E2EE), refused without it; with WhatsApp down,
// Matrix.
func TestSendToWhatsAppAndMatrixFollowsThePlan(t *testing.T) {
	in, err := inbox.Open(filepath.Join(t.TempDir(), "d.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A tenth of real time: the scripted Matrix outage stays 200 s away.
	world := demo.New(demo.Options{Seed: 1, Speed: 0.1})
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
	const alice = "matrix:@alice:matrix.example"
	waitUntil(t, "Alice's conversation", func() bool { _, err := in.FindConversation(alice); return err == nil })
	conv, _ := in.FindConversation(alice)

	setDown := func(down ...protocols.Network) {
		t.Helper()
		is := map[protocols.Network]bool{}
		for _, n := range down {
			is[n] = true
		}
		for _, n := range []protocols.Network{protocols.Matrix, protocols.WhatsApp} {
			world.SetDown(n, is[n])
			waitUntil(t, fmt.Sprintf("%s down=%v", n, is[n]), func() bool {
				for _, st := range in.AccountStates() {
					if st.Network == n {
						return (st.State == protocols.ConnOnline) != is[n]
					}
				}
				return false
			})
		}
	}
	send := func(text string, allow bool) (string, error) {
		var out bytes.Buffer
		a := &app{io: streams{out: &out, err: &out}}
		err := a.deliver(ctx, in, cfg, &sendOptions{to: alice, text: text, allowDowngrade: allow}, "")
		return out.String(), err
	}
	carried := func(text string) demo.Outbound {
		t.Helper()
		var got demo.Outbound
		waitUntil(t, text+" on a network", func() bool {
			for _, ob := range world.Outbound() {
				if ob.Kind == demo.OutMessage && ob.Body == text {
					got = ob
					return true
				}
			}
			return false
		})
		return got
	}
	plan := func() inbox.RoutePlan {
		t.Helper()
		p, err := in.PlanRoute(ctx, conv, inbox.RouteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Both up: Matrix, verified.
	if p := plan(); p.Route.Network != protocols.Matrix || p.Route.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("plan with both up: %s", p.Route)
	}
	out, err := send("both up", false)
	if err != nil || !strings.Contains(out, "sent via Matrix (E2EE verified)") {
		t.Fatalf("both up: %q %v", out, err)
	}
	if ob := carried("both up"); ob.Network != protocols.Matrix {
		t.Fatalf("went %s", ob.Network)
	}

	// Matrix down: WhatsApp is a downgrade the plan asks about.
	setDown(protocols.Matrix)
	if p := plan(); p.Route.Network != protocols.WhatsApp || p.Route.Encryption != protocols.EncE2EE || !p.NeedsOK {
		t.Fatalf("plan with Matrix down: %s needsOK=%v", p.Route, p.NeedsOK)
	}
	_, err = send("not silently", false)
	var ce *codedError
	if !errors.As(err, &ce) || ce.code != exitCannot || !strings.Contains(err.Error(), "downgrade not allowed") {
		t.Fatalf("Matrix down, no flag: %v, want exit %d", err, exitCannot)
	}
	for _, ob := range world.Outbound() {
		if ob.Body == "not silently" {
			t.Fatalf("the refused message went out on %s", ob.Network)
		}
	}
	out, err = send("over whatsapp", true)
	if err != nil || !strings.Contains(out, "sent via WhatsApp (E2EE)") {
		t.Fatalf("Matrix down, --allow-downgrade: %q %v", out, err)
	}
	if ob := carried("over whatsapp"); ob.Network != protocols.WhatsApp || ob.Encryption != protocols.EncE2EE {
		t.Fatalf("went %s %s", ob.Network, ob.Encryption)
	}

	// WhatsApp down: Matrix carries it.
	setDown(protocols.WhatsApp)
	if p := plan(); p.Route.Network != protocols.Matrix || p.NeedsOK {
		t.Fatalf("plan with WhatsApp down: %s", p.Route)
	}
	out, err = send("whatsapp down", false)
	if err != nil || !strings.Contains(out, "sent via Matrix (E2EE verified)") {
		t.Fatalf("WhatsApp down: %q %v", out, err)
	}
	if ob := carried("whatsapp down"); ob.Network != protocols.Matrix {
		t.Fatalf("went %s", ob.Network)
	}
}
