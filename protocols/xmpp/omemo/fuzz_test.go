package omemo

import (
	"context"
	"encoding/xml"
	"testing"

	"go.mau.fi/libsignal/protocol"
)

// FuzzOMEMODecode feeds hostile bytes to every decoder a peer can reach:
// the <encrypted> element (parsed and decrypted), a bundle (parsed and a
// session started from it) and a device list. Nothing may panic; seeds in
// testdata/fuzz/FuzzOMEMODecode.
func FuzzOMEMODecode(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	srv := newPEP()
	alice, err := Open(ctx, dir+"/a.db", testKey, "alice@x", nopLog)
	if err != nil {
		f.Fatal(err)
	}
	defer alice.Close()
	bob, err := Open(ctx, dir+"/b.db", testKey, "bob@x", nopLog)
	if err != nil {
		f.Fatal(err)
	}
	defer bob.Close()
	for _, m := range []*Manager{alice, bob} {
		if err := m.Publish(ctx, srv.iq(m.Own())); err != nil {
			f.Fatal(err)
		}
	}
	// A real message and bundle as seeds, beside the stored ones.
	if _, err := alice.FetchDeviceList(ctx, srv.iq("alice@x"), "bob@x"); err != nil {
		f.Fatal(err)
	}
	enc, err := alice.Encrypt(ctx, srv.iq("alice@x"), "bob@x", []byte("seed"))
	if err != nil {
		f.Fatal(err)
	}
	b, _ := xml.Marshal(enc)
	f.Add(b)
	bb, _ := bob.bundle(ctx)
	b, _ = xml.Marshal(bb)
	f.Add(b)

	f.Fuzz(func(t *testing.T, data []byte) {
		var e Encrypted
		if xml.Unmarshal(data, &e) == nil {
			_, _ = e.Parse()
			_, _ = bob.Decrypt(ctx, "alice@x", &e)
		}
		var bu Bundle
		if xml.Unmarshal(data, &bu) == nil {
			if p, err := bu.Parse(); err == nil {
				_ = bob.processBundle(ctx, protocol.NewSignalAddress("mallory@x", 9), p)
			}
		}
		var l DeviceList
		if xml.Unmarshal(data, &l) == nil {
			if ids, err := l.IDs(); err == nil && len(ids) > MaxDevices {
				t.Fatalf("%d ids accepted", len(ids))
			}
		}
	})
}
