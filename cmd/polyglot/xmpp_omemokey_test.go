package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"polyglot/accounts"
	"polyglot/config"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/protocols/xmpp"
	"polyglot/protocols/xmpp/omemo"
)

// TestXMPPOMEMOKeyFromKeystore: an XMPP account's OMEMO store key is made
// on first use and kept in the keystore; the next start opens omemo.db
// with it (same device); a keystore holding another key is refused as an
// auth problem, not retried.
func TestXMPPOMEMOKeyFromKeystore(t *testing.T) {
	dir := t.TempDir()
	acc := config.Account{ID: "xmpp:alice@example.org", Network: protocols.XMPP, Address: "alice@example.org", DataDir: dir}
	factory := registry(zerolog.Nop(), nil)[protocols.XMPP]
	ks := keystore.NewMemory()
	src := accounts.Secrets(ks, acc.ID)
	if err := src.Set(accounts.SecretPassword, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	c, err := factory(acc, src)
	if err != nil {
		t.Fatal(err)
	}
	om := c.(*xmpp.Connector).OMEMO()
	if om == nil || !c.Capabilities().E2EE {
		t.Fatal("OMEMO is off for a new XMPP account")
	}
	dev := om.DeviceID()
	c.Close()
	key, err := src.Get(xmpp.OMEMOKeyKind)
	if err != nil || len(key) != omemo.KeySize {
		t.Fatalf("keystore: %d bytes, %v", len(key), err)
	}
	if _, err := os.Stat(filepath.Join(dir, omemo.FileName)); err != nil {
		t.Fatal(err)
	}
	c, err = factory(acc, src)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.(*xmpp.Connector).OMEMO().DeviceID(); got != dev {
		t.Fatalf("device %d after restart, want %d", got, dev)
	}
	c.Close()
	if err := src.Set(xmpp.OMEMOKeyKind, omemo.NewKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := factory(acc, src); !errors.Is(err, protocols.ErrAuthFailed) {
		t.Fatalf("another key: %v, want ErrAuthFailed", err)
	}
}
