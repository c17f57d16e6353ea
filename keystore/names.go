package keystore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
)

// AccountSecret is the store name of one secret of one account, e.g.
// AccountSecret("matrix:@me:example.org", "password"). Every package uses
// this one spelling so removing an account finds all its secrets.
func AccountSecret(account, kind string) string {
	return "account/" + account + "/" + kind
}

// PickleKeyKind is the secret kind of an account's crypto pickle key.
const PickleKeyKind = "pickle-key"

var pickleMu sync.Mutex

// PickleKey returns the account's 32-byte key for pickling crypto state
// (mautrix's Olm/Megolm store), creating and storing a random one on first
// use so it is the same on every run.
func PickleKey(s Store, account string) ([]byte, error) {
	pickleMu.Lock()
	defer pickleMu.Unlock()
	name := AccountSecret(account, PickleKeyKind)
	k, err := s.Get(name)
	if err == nil {
		if len(k) != 32 {
			return nil, fmt.Errorf("keystore: stored pickle key for %s has %d bytes, want 32", account, len(k))
		}
		return k, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if err := s.Set(name, k); err != nil {
		return nil, err
	}
	return k, nil
}

// Lister is implemented by stores that can enumerate names (the file
// store; OS keyrings cannot).
type Lister interface {
	Names(prefix string) ([]string, error)
}
