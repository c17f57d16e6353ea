package omemo

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length of the store key (Config key from the keystore)
// that seals private keys, sessions and cached plaintexts in omemo.db.
const KeySize = 32

// NewKey returns a fresh random store key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

// ErrWrongKey: omemo.db was sealed under another key than the one given.
var ErrWrongKey = errors.New("omemo.db is sealed with a different key than the keystore holds for this account")

const sealVersion = 1

// sealer seals values under keys derived from the store key, one per
// purpose (HKDF-SHA256 with the file's random salt), with the row's
// identity as associated data so a sealed value moved to another row does
// not open. The same pattern as protocols/whatsapp/seal.go.
type sealer struct {
	root  []byte
	salt  []byte
	mu    sync.Mutex
	aeads map[string]cipher.AEAD
}

func newSealer(key, salt []byte) *sealer {
	return &sealer{root: key, salt: salt, aeads: map[string]cipher.AEAD{}}
}

func (s *sealer) aead(purpose string) cipher.AEAD {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.aeads[purpose]
	if !ok {
		k, err := hkdf.Key(sha256.New, s.root, s.salt, "polyglot omemo store: seal "+purpose, chacha20poly1305.KeySize)
		if err != nil {
			panic(err) // only for absurd lengths
		}
		if a, err = chacha20poly1305.NewX(k); err != nil {
			panic(err) // the key has the right size by construction
		}
		s.aeads[purpose] = a
	}
	return a
}

// seal encrypts plain with XChaCha20-Poly1305 as version || nonce || ciphertext.
func (s *sealer) seal(purpose, ad string, plain []byte) []byte {
	a := s.aead(purpose)
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return a.Seal(out, out[1:], plain, []byte(ad))
}

// open reverses seal; a value that does not open is an error, never garbage.
func (s *sealer) open(purpose, ad string, sealed []byte) ([]byte, error) {
	a := s.aead(purpose)
	if len(sealed) < 1+a.NonceSize()+a.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("omemo store: a %s is not sealed (damaged)", purpose)
	}
	n := 1 + a.NonceSize()
	plain, err := a.Open(nil, sealed[1:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("omemo store: a sealed %s does not open with this account's key (damaged, or moved)", purpose)
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}
