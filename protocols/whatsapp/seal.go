package whatsapp

import (
	"errors"
	"fmt"

	"polyglot/internal/rowseal"
)

// StoreKeyKind is the keystore kind of an account's store key: the secret
// every private key and session in whatsapp.db is sealed under. It lives in
// the keystore like the account's other secrets, never in the file.
const StoreKeyKind = "store-key"

// StoreKeySize is the length of a store key.
const StoreKeySize = rowseal.KeySize

// NewStoreKey returns a fresh random store key (made when a device is
// linked, or when an earlier version's plaintext store is first sealed).
func NewStoreKey() []byte { return rowseal.NewKey() }

// ErrWrongStoreKey: whatsapp.db was sealed under another key than the one
// the keystore holds for the account. Nothing was read or written.
var ErrWrongStoreKey = errors.New("whatsapp.db is sealed with a different key than the keystore holds for this account; " +
	"if the keystore was replaced, remove the account and link this computer again")

// sealer seals whatsmeow's secrets (package rowseal) and masks the
// fixed-length ones.
type sealer struct{ s *rowseal.Sealer }

func newSealer(key, salt []byte) *sealer {
	return &sealer{rowseal.New(key, salt, "polyglot whatsapp store")}
}

func (s *sealer) derive(info string, n int) []byte { return s.s.Derive(info, n) }

// seal encrypts plain. Nil stays nil: whatsmeow stores NULL for "none".
func (s *sealer) seal(purpose, ad string, plain []byte) []byte {
	if plain == nil {
		return nil
	}
	return s.s.Seal(purpose, ad, plain)
}

// open reverses seal; a value that does not open (another key, another
// row, damage) is an error, never garbage handed to whatsmeow.
func (s *sealer) open(purpose, ad string, sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	plain, err := s.s.Open(purpose, ad, sealed)
	switch {
	case errors.Is(err, rowseal.ErrNotSealed):
		return nil, fmt.Errorf("whatsapp store: a %s is not sealed (written by an older Polyglot or damaged)", purpose)
	case err != nil:
		return nil, fmt.Errorf("whatsapp store: a sealed %s does not open with this account's store key (damaged, or moved)", purpose)
	}
	return plain, nil
}

// mask XORs v with a keystream derived for (purpose, ad); applying it
// twice gives v back. It is for values whatsmeow's schema pins to a fixed
// length (CHECK length = 32), where sealing's nonce and tag do not fit.
// A mask is safe there because each (purpose, row) masks one value that
// never changes (the device's own private keys are written once) or a
// public key (contacts' identity keys): no two secrets share a keystream.
func (s *sealer) mask(purpose, ad string, v []byte) []byte {
	if len(v) == 0 {
		return v
	}
	m := s.derive("mask "+purpose+"\x00"+ad, len(v))
	for i := range m {
		m[i] ^= v[i]
	}
	return m
}

func (s *sealer) mask32(purpose, ad string, v *[32]byte) *[32]byte {
	return (*[32]byte)(s.mask(purpose, ad, v[:]))
}
