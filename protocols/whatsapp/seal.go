package whatsapp

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

// StoreKeyKind is the keystore kind of an account's store key: the secret
// every private key and session in whatsapp.db is sealed under. It lives in
// the keystore like the account's other secrets, never in the file.
const StoreKeyKind = "store-key"

// StoreKeySize is the length of a store key.
const StoreKeySize = 32

// NewStoreKey returns a fresh random store key (made when a device is
// linked, or when an earlier version's plaintext store is first sealed).
func NewStoreKey() []byte {
	k := make([]byte, StoreKeySize)
	rand.Read(k)
	return k
}

// ErrWrongStoreKey: whatsapp.db was sealed under another key than the one
// the keystore holds for the account. Nothing was read or written.
var ErrWrongStoreKey = errors.New("whatsapp.db is sealed with a different key than the keystore holds for this account; " +
	"if the keystore was replaced, remove the account and link this computer again")

const sealVersion = 1

// sealer seals whatsmeow's secrets under keys derived from the store key:
// one key per purpose (HKDF-SHA256, the file's random salt), so a value
// cannot be opened as another kind, and the row's identity as associated
// data, so a sealed value moved to another row does not open.
type sealer struct {
	root  []byte
	salt  []byte
	mu    sync.Mutex
	aeads map[string]cipher.AEAD
}

func newSealer(key, salt []byte) *sealer {
	return &sealer{root: key, salt: salt, aeads: map[string]cipher.AEAD{}}
}

func (s *sealer) derive(info string, n int) []byte {
	k, err := hkdf.Key(sha256.New, s.root, s.salt, "polyglot whatsapp store: "+info, n)
	if err != nil {
		// Only for n beyond 255 hash lengths, which no caller asks for.
		panic(err)
	}
	return k
}

func (s *sealer) aead(purpose string) cipher.AEAD {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.aeads[purpose]
	if !ok {
		var err error
		a, err = chacha20poly1305.NewX(s.derive("seal "+purpose, chacha20poly1305.KeySize))
		if err != nil {
			panic(err) // the key has the right size by construction
		}
		s.aeads[purpose] = a
	}
	return a
}

// seal encrypts plain with XChaCha20-Poly1305 (random nonce) as version ||
// nonce || ciphertext. Nil stays nil: whatsmeow stores NULL for "none".
func (s *sealer) seal(purpose, ad string, plain []byte) []byte {
	if plain == nil {
		return nil
	}
	a := s.aead(purpose)
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return a.Seal(out, out[1:], plain, []byte(ad))
}

// open reverses seal; a value that does not open (another key, another
// row, damage) is an error, never garbage handed to whatsmeow.
func (s *sealer) open(purpose, ad string, sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	a := s.aead(purpose)
	if len(sealed) < 1+a.NonceSize()+a.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("whatsapp store: a %s is not sealed (written by an older Polyglot or damaged)", purpose)
	}
	n := 1 + a.NonceSize()
	plain, err := a.Open(nil, sealed[1:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("whatsapp store: a sealed %s does not open with this account's store key (damaged, or moved)", purpose)
	}
	if plain == nil {
		plain = []byte{}
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
