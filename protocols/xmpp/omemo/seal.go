package omemo

import (
	"errors"
	"fmt"

	"polyglot/internal/rowseal"
)

// KeySize is the length of the store key (Config key from the keystore)
// that seals private keys, sessions and cached plaintexts in omemo.db.
const KeySize = rowseal.KeySize

// NewKey returns a fresh random store key.
func NewKey() []byte { return rowseal.NewKey() }

// ErrWrongKey: omemo.db was sealed under another key than the one given.
var ErrWrongKey = errors.New("omemo.db is sealed with a different key than the keystore holds for this account")

// sealer seals omemo.db's secrets (package rowseal), with errors that name
// the store.
type sealer struct{ s *rowseal.Sealer }

func newSealer(key, salt []byte) *sealer {
	return &sealer{rowseal.New(key, salt, "polyglot omemo store")}
}

func (s *sealer) seal(purpose, ad string, plain []byte) []byte { return s.s.Seal(purpose, ad, plain) }

func (s *sealer) open(purpose, ad string, sealed []byte) ([]byte, error) {
	plain, err := s.s.Open(purpose, ad, sealed)
	switch {
	case errors.Is(err, rowseal.ErrNotSealed):
		return nil, fmt.Errorf("omemo store: a %s is not sealed (damaged)", purpose)
	case err != nil:
		return nil, fmt.Errorf("omemo store: a sealed %s does not open with this account's key (damaged, or moved)", purpose)
	}
	return plain, nil
}
