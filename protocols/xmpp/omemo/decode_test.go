package omemo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"go.mau.fi/libsignal/protocol"
)

func TestOMEMOPayloadForms(t *testing.T) {
	payload, iv, keyTag, err := sealPayload([]byte("hello"))
	if err != nil || len(iv) != 12 || len(keyTag) != 32 {
		t.Fatalf("seal: %v iv=%d keyTag=%d", err, len(iv), len(keyTag))
	}
	if got, err := openPayload(keyTag, iv, payload); err != nil || string(got) != "hello" {
		t.Fatalf("open: %q %v", got, err)
	}
	// An old client's form: 16-byte key, tag appended to the payload.
	if got, err := openPayload(keyTag[:16], iv, append(append([]byte{}, payload...), keyTag[16:]...)); err != nil || string(got) != "hello" {
		t.Fatalf("16-byte key form: %q %v", got, err)
	}
	bad := append([]byte{}, payload...)
	bad[0] ^= 1
	if _, err := openPayload(keyTag, iv, bad); err == nil {
		t.Fatal("a tampered payload opened")
	}
	if _, err := openPayload(keyTag, iv[:8], payload); err == nil {
		t.Fatal("an 8-byte IV was accepted")
	}
}

func TestOMEMODeviceListCap(t *testing.T) {
	l := NewDeviceList(nil)
	for i := 1; i <= MaxDevices+1; i++ {
		l.Devices = append(l.Devices, Device{ID: strings.Repeat("1", 1+i%9)})
	}
	if _, err := l.IDs(); !errors.Is(err, ErrTooManyDevices) {
		t.Fatalf("%d devices: %v", len(l.Devices), err)
	}
	var ok DeviceList
	if err := xml.Unmarshal([]byte(`<list xmlns='eu.siacs.conversations.axolotl'><device id='5'/><device id='0'/><device id='5'/><device id='x'/><device id='2147483648'/></list>`), &ok); err != nil {
		t.Fatal(err)
	}
	if ids, err := ok.IDs(); err != nil || len(ids) != 1 || ids[0] != 5 {
		t.Fatalf("ids %v %v", ids, err)
	}
}

// TestOMEMOChangedIdentityRefused: trust on first use — a known device id
// that comes back with another identity key is refused and reported.
func TestOMEMOChangedIdentityRefused(t *testing.T) {
	ctx := context.Background()
	srv := newPEP()
	alice := open(t, t.TempDir(), "alice@x")
	bob := open(t, t.TempDir(), "bob@x")
	impostor := open(t, t.TempDir(), "bob@x")
	for _, m := range []*Manager{alice, bob, impostor} {
		if err := m.Publish(ctx, srv.iq(m.Own())); err != nil {
			t.Fatal(err)
		}
	}
	good, err := bob.bundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gp, _ := good.Parse()
	addr := protocol.NewSignalAddress("bob@x", bob.DeviceID())
	if err := alice.processBundle(ctx, addr, gp); err != nil {
		t.Fatal(err)
	}
	alice.TakeNews()
	other, _ := impostor.bundle(ctx)
	op, _ := other.Parse()
	if err := alice.processBundle(ctx, addr, op); err == nil {
		t.Fatal("a changed identity key for a known device was accepted")
	}
	news := alice.TakeNews()
	if len(news) != 1 || !news[0].Changed || news[0].Device != bob.DeviceID() {
		t.Fatalf("news %+v", news)
	}
	devs, _ := alice.Devices(ctx, "bob@x")
	if len(devs) != 1 || devs[0].Fingerprint != bob.Fingerprint() {
		t.Fatalf("the known key was replaced: %+v", devs)
	}
	if bytes.Equal([]byte(bob.Fingerprint()), []byte(impostor.Fingerprint())) {
		t.Fatal("test keys collide")
	}
}
