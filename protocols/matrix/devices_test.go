package matrix_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"polyglot/inbox"
	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestContactNewDeviceAndRemoval: bob logs in a second device (a second
// matrix-nio) while alice has an encrypted DM with him. Alice's connector
// announces exactly that device with its real fingerprint in the DM, her next
// message reaches the new device encrypted, and the device's logout is
// announced as removed. The same events, fed to a real inbox, put the notice
// lines into the conversation.
func TestContactNewDeviceAndRemoval(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	phone := testserver.StartNioPeer(t, d, bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}

	res := openDM(t, a, phone, bob, "d-1", "before")
	room := res.Chat
	// Bob answers, so alice also holds his first device's session.
	phone.MustDo(map[string]any{"op": "send", "room": room, "body": "hi from the phone"})
	a.waitMessage(20*time.Second, "hi from the phone")

	isKey := func(kind protocols.KeyChangeKind, dev string) func(protocols.Event) bool {
		return func(ev protocols.Event) bool {
			k, ok := ev.(protocols.KeyChangeEvent)
			return ok && k.Kind == kind && k.DeviceID == dev
		}
	}
	if n := a.count(func(ev protocols.Event) bool { _, ok := ev.(protocols.KeyChangeEvent); return ok }); n != 0 {
		t.Fatalf("%d key notices before any device changed:\n%s", n, dumpEvents(a.events()))
	}

	laptop := testserver.StartNioPeer(t, d, bob, "password-bob")
	if laptop.DeviceID == phone.DeviceID || laptop.DeviceID == "" {
		t.Fatalf("second login reused device %q", laptop.DeviceID)
	}
	k := a.wait(20*time.Second, "new-device notice", isKey(protocols.KeyNew, laptop.DeviceID)).(protocols.KeyChangeEvent)
	wantFP := id.Ed25519(laptop.Ed25519).Fingerprint()
	if k.Chat != room || k.Contact.ID != bob || k.Fingerprint != wantFP || k.At.IsZero() {
		t.Fatalf("notice %+v, want chat %s fingerprint %q", k, room, wantFP)
	}
	if n := a.count(func(ev protocols.Event) bool { _, ok := ev.(protocols.KeyChangeEvent); return ok }); n != 1 {
		t.Fatalf("want exactly one key notice (the new laptop), got %d:\n%s", n, dumpEvents(a.events()))
	}

	// The next message is shared with the new device too.
	if _, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "d-2", To: bobAddr, Chat: room, Body: "after the laptop", MinEncryption: protocols.EncE2EE}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*testserver.NioPeer{"laptop": laptop, "phone": phone} {
		got, err := p.WaitEvent(20*time.Second, bodyIs("after the laptop"))
		if err != nil {
			t.Fatalf("bob's %s did not decrypt the message sent after it appeared: %v\n%v", name, err, p.Events())
		}
		if got["encrypted"] != true || got["sender"] != alice {
			t.Fatalf("%s saw %v", name, got)
		}
	}

	laptop.MustDo(map[string]any{"op": "logout"})
	a.wait(20*time.Second, "removed-device notice", func(ev protocols.Event) bool {
		k, _ := ev.(protocols.KeyChangeEvent)
		return isKey(protocols.KeyRemoved, laptop.DeviceID)(ev) && k.Chat == room && k.Contact.ID == bob
	})
	laptop.Stop()
	// Still one device to write to: the phone keeps getting messages.
	if _, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "d-3", To: bobAddr, Chat: room, Body: "laptop gone", MinEncryption: protocols.EncE2EE}); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.WaitEvent(20*time.Second, bodyIs("laptop gone")); err != nil {
		t.Fatal(err)
	}

	// What the user sees: the events through a real inbox.
	in := openInbox(t, a)
	shown := lines(conversationOf(t, in, string(res.NetworkID)))
	t.Logf("conversation:\n%s", strings.Join(shown, "\n"))
	want := []string{
		"bob: new device " + laptop.DeviceID + " (fingerprint " + groupBy4(wantFP) + ")",
		"bob: removed device " + laptop.DeviceID,
	}
	for _, w := range want {
		if !slices.Contains(shown, w) {
			t.Fatalf("conversation lacks %q:\n%s", w, strings.Join(shown, "\n"))
		}
	}
}

// openInbox is a real SQLite inbox holding every event cl's connector emitted
// so far, in order, as account "mx".
func openInbox(t *testing.T, cl *client) *inbox.Inbox {
	t.Helper()
	in, err := inbox.Open(filepath.Join(t.TempDir(), "inbox.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	in.Attach("mx", cl.c)
	for _, ev := range cl.events() {
		if err := in.Ingest("mx", ev); err != nil {
			t.Fatalf("ingest %T: %v", ev, err)
		}
	}
	return in
}

// conversationOf returns the messages of the conversation holding the
// message with networkID (oldest first).
func conversationOf(t *testing.T, in *inbox.Inbox, networkID string) []inbox.Message {
	t.Helper()
	convs, err := in.Conversations(inbox.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range convs {
		ms, err := in.Messages(c.ID, inbox.Cursor{}, 200)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.NetworkID == networkID {
				return ms
			}
		}
	}
	t.Fatalf("no conversation holds %s (%d conversations)", networkID, len(convs))
	return nil
}

// lines renders messages as the conversation shows them: system lines as
// they are, others as "sender: body [notice]".
func lines(ms []inbox.Message) []string {
	var out []string
	for _, m := range ms {
		if m.Kind == inbox.KindSystem {
			out = append(out, m.Body)
			continue
		}
		l := m.Sender.ID + ": " + m.Body
		if m.Notice != "" {
			l += " [" + m.Notice + "]"
		}
		out = append(out, l)
	}
	return out
}

// groupBy4 splits a fingerprint into the groups of four the inbox shows.
func groupBy4(fp string) string {
	fp = strings.ReplaceAll(fp, " ", "")
	var b strings.Builder
	for i, r := range fp {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestContactDeviceKeyChanged: bob's device comes back under the same device
// ID with new identity keys (reinstalled, or someone else holding his
// session). Alice's connector says the key changed, with the new
// fingerprint, instead of calling it a removed device.
func TestContactDeviceKeyChanged(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	phone := testserver.StartNioPeer(t, d, bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}
	res := openDM(t, a, phone, bob, "c-1", "before")
	phone.Stop()

	again := testserver.StartNioPeerDevice(t, d, bob, "password-bob", phone.DeviceID)
	if again.DeviceID != phone.DeviceID || again.Ed25519 == phone.Ed25519 {
		t.Fatalf("want device %s with a new key, got %s %s", phone.DeviceID, again.DeviceID, again.Ed25519)
	}
	k := a.wait(20*time.Second, "changed-key notice", func(ev protocols.Event) bool {
		k, ok := ev.(protocols.KeyChangeEvent)
		return ok && k.DeviceID == phone.DeviceID
	}).(protocols.KeyChangeEvent)
	if k.Kind != protocols.KeyChanged || k.Fingerprint != id.Ed25519(again.Ed25519).Fingerprint() || k.Chat != res.Chat {
		t.Fatalf("notice %+v, want changed key with fingerprint %s", k, id.Ed25519(again.Ed25519).Fingerprint())
	}
	// mautrix stops encrypting to a device whose key changed: the next
	// message does not open on it (it stays safe, and the notice says why).
	r2, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "c-2", To: bobAddr, Chat: res.Chat, Body: "after the change", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.WaitEvent(20*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "undecryptable" && ev["event_id"] == string(r2.NetworkID)
	}); err != nil {
		t.Fatalf("the changed device should get the message but not its key: %v\n%v", err, again.Events())
	}
	if again.Count(bodyIs("after the change")) != 0 {
		t.Fatal("a device whose key changed got the room key without any check")
	}

	shown := lines(conversationOf(t, openInbox(t, a), string(res.NetworkID)))
	want := "bob: changed key " + phone.DeviceID + " (fingerprint " + groupBy4(k.Fingerprint) + ")"
	if !slices.Contains(shown, want) {
		t.Fatalf("conversation lacks %q:\n%s", want, strings.Join(shown, "\n"))
	}
}
