package whatsapp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"polyglot/inbox"
	"polyglot/protocols"
)

// TestSafetyNumberPublishedVector: libsignal's own test vector
// (libsignal-protocol-c tests/test_fingerprint.c, test_vectors, and
// libsignal-java's NumericFingerprintGeneratorTest): two identity keys,
// identifiers +14152222222 and +14153333333, 5200 iterations. Both sides
// get the same 60 digits.
func TestSafetyNumberPublishedVector(t *testing.T) {
	alice := [32]byte{0x06, 0x86, 0x3b, 0xc6, 0x6d, 0x02, 0xb4, 0x0d, 0x27, 0xb8, 0xd4, 0x9c, 0xa7, 0xc0, 0x9e, 0x92,
		0x39, 0x23, 0x6f, 0x9d, 0x7d, 0x25, 0xd6, 0xfc, 0xca, 0x5c, 0xe1, 0x3c, 0x70, 0x64, 0xd8, 0x68}
	bob := [32]byte{0xf7, 0x81, 0xb6, 0xfb, 0x32, 0xfe, 0xd9, 0xba, 0x1c, 0xf2, 0xde, 0x97, 0x8d, 0x4d, 0x5d, 0xa2,
		0x8d, 0xc3, 0x40, 0x46, 0xae, 0x81, 0x44, 0x02, 0xb5, 0xc0, 0xdb, 0xd9, 0x6f, 0xda, 0x90, 0x7b}
	const want = "300354477692869396892869876765458257569162576843440918079131"
	if got := safetyNumber("+14152222222", alice, "+14153333333", bob); got != want {
		t.Fatalf("alice's side: %s, want %s", got, want)
	}
	if got := safetyNumber("+14153333333", bob, "+14152222222", alice); got != want {
		t.Fatalf("bob's side: %s, want %s", got, want)
	}
	// Another key for bob is another code.
	mitm := bob
	mitm[7] ^= 1
	if got := safetyNumber("+14152222222", alice, "+14153333333", mitm); got == want || len(got) != 60 {
		t.Fatalf("a changed key gave %q", got)
	}
}

func testKey(b byte) [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// setAliceKey stores alice's primary device key, as the first session
// with her leaves it.
func (r *rig) setAliceKey(key [32]byte) {
	r.t.Helper()
	if err := r.c.cli.Store.Identities.PutIdentity(context.Background(), alice.SignalAddress().String(), key); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) plan(conv inbox.ConversationID) inbox.RoutePlan {
	r.t.Helper()
	p, err := r.in.PlanRoute(context.Background(), conv, inbox.RouteOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) codes(p inbox.PersonID) []inbox.SecurityCode {
	r.t.Helper()
	cs, err := r.in.SecurityCodes(context.Background(), p)
	if err != nil {
		r.t.Fatal(err)
	}
	return cs
}

func (r *rig) identityClass(p inbox.PersonID) protocols.Encryption {
	r.t.Helper()
	per, err := r.in.Person(p)
	if err != nil || len(per.Identities) != 1 {
		r.t.Fatalf("person %d: %+v, %v", p, per, err)
	}
	return per.Identities[0].Encryption
}

// TestSecurityCodeComparedThenChanged: the person view's code is the one
// of both identity keys; marking it compared makes the route E2EE
// verified (and survives a restart); whatsmeow's IdentityChange drops it
// back to E2EE with a line in the conversation, as Signal does.
func TestSecurityCodeComparedThenChanged(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	own, aliceKey := ownIdentityKey, testKey(100)
	r.setAliceKey(aliceKey)
	addr := protocols.Address{Network: protocols.WhatsApp, Account: testAccount, ID: alice.String(), Server: alice.Server}
	if err := r.in.Ingest(testAccount, protocols.ContactEvent{Contact: addr, Name: "Alice"}); err != nil {
		t.Fatal(err)
	}
	if err := r.in.Ingest(testAccount, protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
		t.Fatal(err)
	}
	r.dispatch(incoming(alice, alice, "S1", "Alice", text("hello")))
	conv, _ := r.messages("S1")
	person := conv.Person

	cs := r.codes(person)
	want := safetyNumber(me.User, own, alice.User, aliceKey)
	if len(cs) != 1 || cs[0].Code.Digits != want || cs[0].Code.Compared || cs[0].Identity.ID != alice.String() {
		t.Fatalf("codes = %+v, want alice's %s, not compared", cs, want)
	}
	if len(want) != 60 || strings.Trim(want, "0123456789") != "" || len(cs[0].Code.Groups()) != 12 {
		t.Fatalf("code %q is not 60 digits in 12 groups", want)
	}
	// The same code from alice's side (her key, then ours).
	if theirs := safetyNumber(alice.User, aliceKey, me.User, own); theirs != want {
		t.Fatalf("alice's phone would show %s, we show %s", theirs, want)
	}
	if p := r.plan(conv.ID); p.Route.Encryption != protocols.EncE2EE || p.Route.Network != protocols.WhatsApp {
		t.Fatalf("before comparing: route %+v", p.Route)
	}

	// A code that is not the current one is refused: nothing changes.
	if err := r.in.MarkCodeCompared(ctx, addr, strings.Repeat("1", 60)); !errors.Is(err, protocols.ErrCodeChanged) {
		t.Fatalf("marking a stale code: %v, want ErrCodeChanged", err)
	}
	if err := r.in.MarkCodeCompared(ctx, addr, want); err != nil {
		t.Fatal(err)
	}
	if p := r.plan(conv.ID); p.Route.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("after comparing: route %+v, want E2EE verified", p.Route)
	}
	if c := r.identityClass(person); c != protocols.EncE2EEVerified {
		t.Fatalf("identity class %v after comparing", c)
	}
	if cs := r.codes(person); !cs[0].Code.Compared {
		t.Fatalf("code not shown as compared: %+v", cs)
	}
	event(r, func(k protocols.KeyChangeEvent) bool {
		return k.Kind == protocols.KeyVerified && k.Contact.ID == alice.String()
	})

	// After a restart the mark is still there, and her messages are
	// stored as verified (an E2EE one would lower the identity again).
	r.c.Close()
	r.open()
	if p := r.plan(conv.ID); p.Route.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("after a restart: route %+v", p.Route)
	}
	r.dispatch(incoming(alice, alice, "S2", "Alice", text("still me")))
	if m := r.message("S2"); m.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("message from a compared contact stored as %v", m.Encryption)
	}
	if c := r.identityClass(person); c != protocols.EncE2EEVerified {
		t.Fatalf("identity class %v after her message", c)
	}

	// Her phone changes: whatsmeow drops the old key and reports it.
	newKey := testKey(200)
	r.setAliceKey(newKey)
	r.dispatch(&events.IdentityChange{JID: alice, Timestamp: clock.Add(time.Minute)})
	var notice inbox.Message
	r.waitFor("the security-code notice", func() bool {
		ms, err := r.in.Messages(conv.ID, inbox.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if strings.Contains(m.Body, "security code changed") {
				notice = m
				return true
			}
		}
		return false
	})
	if notice.Kind == inbox.KindText || !strings.Contains(notice.Body, "Alice") || !strings.Contains(notice.Body, "not verified any more") {
		t.Fatalf("notice %+v", notice)
	}
	if p := r.plan(conv.ID); p.Route.Encryption != protocols.EncE2EE {
		t.Fatalf("after the key changed: route %+v, want E2EE", p.Route)
	}
	if c := r.identityClass(person); c != protocols.EncE2EE {
		t.Fatalf("identity class %v after the key changed", c)
	}
	cs = r.codes(person)
	if cs[0].Code.Compared || cs[0].Code.Digits == want || cs[0].Code.Digits != safetyNumber(me.User, own, alice.User, newKey) {
		t.Fatalf("after the change: %+v (old %s)", cs, want)
	}
}

// TestSecurityCodeUnknownUntilFirstSession: no key stored yet, no code,
// and marking is refused.
func TestSecurityCodeUnknownUntilFirstSession(t *testing.T) {
	r := newRig(t)
	addr := protocols.Address{Network: protocols.WhatsApp, Account: testAccount, ID: bob.String(), Server: bob.Server}
	if err := r.in.Ingest(testAccount, protocols.ContactEvent{Contact: addr, Name: "Bob"}); err != nil {
		t.Fatal(err)
	}
	p, err := r.in.PersonOf(addr)
	if err != nil {
		t.Fatal(err)
	}
	cs := r.codes(p)
	if len(cs) != 1 || cs[0].Code.Digits != "" || !strings.Contains(cs[0].Unavailable, "after the first message") {
		t.Fatalf("codes = %+v", cs)
	}
	if err := r.in.MarkCodeCompared(context.Background(), addr, strings.Repeat("0", 60)); !errors.Is(err, protocols.ErrUnknownPeer) {
		t.Fatalf("marking without a key: %v", err)
	}
	if got := r.c.PeerEncryption(addr); got != protocols.EncE2EE {
		t.Fatalf("PeerEncryption = %v", got)
	}
}

// BenchmarkSafetyNumber: the person view computes one code per WhatsApp
// identity on each refresh (2 × 5200 SHA-512).
func BenchmarkSafetyNumber(b *testing.B) {
	own, theirs := testKey(1), testKey(100)
	for b.Loop() {
		safetyNumber(me.User, own, alice.User, theirs)
	}
}

// TestSecurityCodeUnderLID: WhatsApp moves sessions to a contact's LID;
// the key stored there is the one in the code, and an IdentityChange
// naming the LID reaches the conversation of the phone number.
func TestSecurityCodeUnderLID(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	lid := types.NewJID("123456789012345", types.HiddenUserServer)
	if err := r.c.cli.Store.LIDs.PutLIDMapping(ctx, lid, alice); err != nil {
		t.Fatal(err)
	}
	key := testKey(50)
	if err := r.c.cli.Store.Identities.PutIdentity(ctx, lid.SignalAddress().String(), key); err != nil {
		t.Fatal(err)
	}
	r.dispatch(incoming(alice, alice, "L1", "Alice", text("hi")))
	conv, _ := r.messages("L1")
	cs := r.codes(conv.Person)
	if len(cs) != 1 || cs[0].Code.Digits != safetyNumber(me.User, ownIdentityKey, alice.User, key) {
		t.Fatalf("codes %+v", cs)
	}
	r.dispatch(&events.IdentityChange{JID: lid, Timestamp: clock.Add(time.Minute)})
	r.waitFor("the notice in alice's conversation", func() bool {
		ms, err := r.in.Messages(conv.ID, inbox.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if strings.Contains(m.Body, "security code changed") {
				return true
			}
		}
		return false
	})
}
