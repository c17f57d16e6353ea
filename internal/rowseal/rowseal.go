// Package rowseal seals secrets stored in a row of a local database (a
// private key, a session) under a store key kept in the keystore: one
// XChaCha20-Poly1305 key per purpose, derived with HKDF-SHA256 from the
// store key and the file's random salt, so a value cannot be opened as
// another kind; the row's identity as associated data, so a sealed value
// moved to another row does not open. The WhatsApp and OMEMO stores use it.
package rowseal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length of a store key.
const KeySize = 32

// NewKey returns a fresh random store key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

// version leads every sealed value: version || nonce || ciphertext.
const version = 1

var (
	// ErrNotSealed: the value is not in the sealed form (written before
	// sealing existed, or damaged).
	ErrNotSealed = errors.New("not sealed")
	// ErrNotOpened: the value does not open with this key for this row
	// (another key, moved from another row, or damaged).
	ErrNotOpened = errors.New("does not open with this key")
)

// Sealer seals and opens values for one store.
type Sealer struct {
	root  []byte
	salt  []byte
	label string // e.g. "polyglot whatsapp store": part of every derivation
	mu    sync.Mutex
	aeads map[string]cipher.AEAD
}

// New returns a Sealer for the store key and the file's salt. label names
// the store in every key derivation, so two stores never share keys.
func New(key, salt []byte, label string) *Sealer {
	return &Sealer{root: key, salt: salt, label: label, aeads: map[string]cipher.AEAD{}}
}

// Derive is n bytes of key material for info (HKDF-SHA256).
func (s *Sealer) Derive(info string, n int) []byte {
	k, err := hkdf.Key(sha256.New, s.root, s.salt, s.label+": "+info, n)
	if err != nil {
		panic(err) // only for n beyond 255 hash lengths, which no caller asks for
	}
	return k
}

func (s *Sealer) aead(purpose string) cipher.AEAD {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.aeads[purpose]
	if !ok {
		var err error
		if a, err = chacha20poly1305.NewX(s.Derive("seal "+purpose, chacha20poly1305.KeySize)); err != nil {
			panic(err) // the key has the right size by construction
		}
		s.aeads[purpose] = a
	}
	return a
}

// Seal encrypts plain (random nonce) for purpose, bound to the row ad.
func (s *Sealer) Seal(purpose, ad string, plain []byte) []byte {
	a := s.aead(purpose)
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = version
	rand.Read(out[1:])
	return a.Seal(out, out[1:], plain, []byte(ad))
}

// Open reverses Seal: a value that does not open is an error (ErrNotSealed
// or ErrNotOpened), never garbage. An empty plaintext opens as non-nil.
func (s *Sealer) Open(purpose, ad string, sealed []byte) ([]byte, error) {
	a := s.aead(purpose)
	if len(sealed) < 1+a.NonceSize()+a.Overhead() || sealed[0] != version {
		return nil, ErrNotSealed
	}
	n := 1 + a.NonceSize()
	plain, err := a.Open(nil, sealed[1:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, ErrNotOpened
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}
