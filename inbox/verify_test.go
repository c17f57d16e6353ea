package inbox_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// openDemo runs the demo world's connectors into a real SQLite inbox.
func openDemo(t *testing.T) (*inbox.Inbox, *demo.World) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in, err := inbox.Open(filepath.Join(t.TempDir(), "v.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	world := demo.New(demo.Options{Seed: 1, Speed: 4})
	t.Cleanup(func() { cancel(); world.Close(); in.Close() })
	for _, acc := range world.Accounts() {
		in.Attach(acc.ID, acc.Connector)
		go func(id string, c protocols.Connector) {
			for ev := range c.Events() {
				_ = in.Ingest(id, ev)
			}
		}(acc.ID, acc.Connector)
		if err := acc.Connector.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return in, world
}

func waitVerification(t *testing.T, in *inbox.Inbox, txn, what string, ok func(inbox.Verification) bool) inbox.Verification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, v := range in.Verifications() {
			if v.Txn == txn && ok(v) {
				return v
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("verification %s: never %s; have %+v", txn, what, in.Verifications())
	return inbox.Verification{}
}

// TestVerificationRaisesTheRoute: verifying Priya's Matrix keys by emoji
// walks requested → emoji → confirmed → verified, and then her Matrix
// route is "E2EE verified" and ranks above her unverified WhatsApp route.
func TestVerificationRaisesTheRoute(t *testing.T) {
	in, _ := openDemo(t)
	ctx := context.Background()
	priya := protocols.Address{Network: protocols.Matrix, ID: "@priya:matrix.example", Account: protocols.AccountID(demo.AccountID(protocols.Matrix))}
	priyaWA := protocols.Address{Network: protocols.WhatsApp, ID: "15550100006@s.whatsapp.net", Account: protocols.AccountID(demo.AccountID(protocols.WhatsApp))}
	// The user confirmed long ago that both are Priya (as `polyglot demo` replays).
	var ids []inbox.PersonID
	for _, a := range []protocols.Address{priya, priyaWA} {
		if err := in.Ingest(string(a.Account), protocols.ContactEvent{Contact: a}); err != nil {
			t.Fatal(err)
		}
		p, err := in.PersonOf(a)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p)
	}
	if err := in.Merge(ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	person := ids[0]
	deadline := time.Now().Add(10 * time.Second)
	conv, err := in.FindConversation(priya.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Both of her networks are known once the WhatsApp identity arrived.
	var before []inbox.Route
	for len(before) < 2 && time.Now().Before(deadline) {
		if before, err = in.Routes(conv); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(before) < 2 {
		t.Fatalf("Priya's routes: %v", before)
	}
	for _, r := range before {
		if r.Encryption == protocols.EncE2EEVerified {
			t.Fatalf("a route is verified before any verification: %v", before)
		}
	}

	v, err := in.StartVerification(ctx, person)
	if err != nil {
		t.Fatal(err)
	}
	if v.Incoming || v.Stage != protocols.VerifyRequested || v.Peer.ID != priya.ID || v.Conversation != conv || v.Name == "" {
		t.Fatalf("started: %+v", v)
	}
	if v.NeedsUser() {
		t.Fatal("an outgoing request waiting for the peer must not ask the user")
	}
	sas := waitVerification(t, in, v.Txn, "showing emoji", func(v inbox.Verification) bool { return v.Stage == protocols.VerifyShowSAS })
	if len(sas.Emojis) != 7 || !sas.NeedsUser() {
		t.Fatalf("emoji stage: %+v", sas)
	}
	if err := in.ConfirmVerification(ctx, v.Txn); err != nil {
		t.Fatal(err)
	}
	if got := waitVerification(t, in, v.Txn, "confirmed", func(v inbox.Verification) bool { return v.Confirmed || !v.Active() }); got.NeedsUser() {
		t.Fatalf("after confirming, still asks the user: %+v", got)
	}
	waitVerification(t, in, v.Txn, "done", func(v inbox.Verification) bool { return v.Stage == protocols.VerifyDone })

	after, err := in.Routes(conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) < 2 || after[0].Network != protocols.Matrix || after[0].Encryption != protocols.EncE2EEVerified {
		t.Fatalf("after verification the verified Matrix route must rank first: %v", after)
	}
	if after[1].Encryption == protocols.EncE2EEVerified {
		t.Fatalf("only the verified network rose: %v", after)
	}

	in.DismissVerification(v.Txn)
	if len(in.Verifications()) != 0 {
		t.Fatalf("dismissed verification still listed: %+v", in.Verifications())
	}
}

// TestVerificationCancelAndConsent: a request from an accepted contact
// waits for the user; one from a stranger is dropped (consent comes before
// any key exchange); cancelling reports the reason.
func TestVerificationCancelAndConsent(t *testing.T) {
	in, _ := openDemo(t)
	ctx := context.Background()
	bob := protocols.Address{Network: protocols.Matrix, ID: "@bob:matrix.example"}
	deadline := time.Now().Add(10 * time.Second)
	for !in.Accepted(bob) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	account := demo.AccountID(protocols.Matrix)
	stranger := protocols.Address{Network: protocols.Matrix, ID: "@nobody:evil.example"}
	if err := in.Ingest(account, protocols.VerificationEvent{Txn: "t-stranger", Peer: stranger, Stage: protocols.VerifyRequested}); err != nil {
		t.Fatal(err)
	}
	if err := in.Ingest(account, protocols.VerificationEvent{Txn: "t-bob", Peer: bob, DeviceID: "BOBPHONE", Stage: protocols.VerifyRequested}); err != nil {
		t.Fatal(err)
	}
	vs := in.Verifications()
	if len(vs) != 1 || vs[0].Txn != "t-bob" || !vs[0].Incoming || !vs[0].NeedsUser() || vs[0].DeviceID != "BOBPHONE" || vs[0].Name != "Bob Nakamura" {
		t.Fatalf("want only Bob's request, waiting for the user: %+v", vs)
	}
	// The peer cancels: the reason is kept for the screen.
	if err := in.Ingest(account, protocols.VerificationEvent{Txn: "t-bob", Peer: bob, Stage: protocols.VerifyCancelled, Reason: "timed out"}); err != nil {
		t.Fatal(err)
	}
	vs = in.Verifications()
	if vs[0].Active() || vs[0].NeedsUser() || vs[0].Reason != "timed out" {
		t.Fatalf("after the peer cancelled: %+v", vs[0])
	}
	// A late event of an ended verification does not revive it.
	_ = in.Ingest(account, protocols.VerificationEvent{Txn: "t-bob", Peer: bob, Stage: protocols.VerifyShowSAS})
	if vs = in.Verifications(); vs[0].Stage != protocols.VerifyCancelled {
		t.Fatalf("an ended verification moved on: %+v", vs[0])
	}
	if err := in.ConfirmVerification(ctx, "no-such-txn"); err == nil {
		t.Fatal("confirming an unknown verification succeeded")
	}
}
