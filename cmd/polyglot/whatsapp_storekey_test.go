package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"polyglot/accounts"
	"polyglot/config"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/protocols/whatsapp"
)

// TestWhatsAppStoreKeyFromKeystore: the WhatsApp connector's store key
// comes from the keystore. An account linked by an earlier Polyglot (a
// plaintext whatsapp.db, no key) gets one there and its store is sealed;
// the next start opens it with that key; a different key is refused as
// "link again"; an account without whatsapp.db gets no key.
func TestWhatsAppStoreKeyFromKeystore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	acc := config.Account{ID: "whatsapp:+491700000001", Network: protocols.WhatsApp, Address: "+491700000001", DataDir: dir}
	factory := registry(zerolog.Nop(), nil)[protocols.WhatsApp]

	ks := keystore.NewMemory()
	src := accounts.Secrets(ks, acc.ID)
	if _, err := factory(acc, src); !errors.Is(err, protocols.ErrAuthFailed) {
		t.Fatalf("an account with no whatsapp.db: %v", err)
	}
	if _, err := src.Get(whatsapp.StoreKeyKind); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("an account with no whatsapp.db got a store key: %v", err)
	}

	// What an earlier Polyglot left: whatsmeow's plain store.
	path := filepath.Join(dir, "whatsapp.db")
	plain, err := sqlstore.New(ctx, "sqlite", "file:"+path+"?_pragma=foreign_keys(1)", nil)
	if err != nil {
		t.Fatal(err)
	}
	dev := plain.NewDevice()
	id := types.NewJID("491700000001", types.DefaultUserServer)
	id.Device = 7
	dev.ID = &id
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	if err := dev.Save(ctx); err != nil {
		t.Fatal(err)
	}
	plain.Close()

	c, err := factory(acc, src)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	key, err := src.Get(whatsapp.StoreKeyKind)
	if err != nil || len(key) != whatsapp.StoreKeySize {
		t.Fatalf("store key in the keystore: %d bytes, %v", len(key), err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, dev.NoiseKey.Priv[:]) || bytes.Contains(raw, dev.IdentityKey.Priv[:]) {
		t.Fatal("whatsapp.db still holds the device's private keys in plaintext")
	}

	c, err = factory(acc, src)
	if err != nil {
		t.Fatalf("the next start: %v", err)
	}
	c.Close()
	if again, _ := src.Get(whatsapp.StoreKeyKind); !bytes.Equal(again, key) {
		t.Fatal("the next start replaced the store key")
	}

	if err := src.Set(whatsapp.StoreKeyKind, whatsapp.NewStoreKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := factory(acc, src); !errors.Is(err, whatsapp.ErrWrongStoreKey) || !errors.Is(err, protocols.ErrAuthFailed) {
		t.Fatalf("another key: %v", err)
	}
}
