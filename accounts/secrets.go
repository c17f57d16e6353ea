package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"polyglot/keystore"
)

// Secret kinds an account may hold. Connectors may use other kinds too;
// every kind written through a SecretSource is remembered so Remove finds it.
const (
	SecretPassword = "password"
	SecretToken    = "token"
)

// SecretSource is an account's corner of the keystore, handed to the
// connector factory. Get returns an error wrapping keystore.ErrNotFound
// when the kind is absent.
type SecretSource interface {
	Get(kind string) ([]byte, error)
	Set(kind string, v []byte) error
	Delete(kind string) error
	// PickleKey is the account's stable 32-byte crypto pickle key.
	PickleKey() ([]byte, error)
}

// kindsIndex is the secret that lists the kinds an account has written,
// because OS keyrings cannot enumerate.
const kindsIndex = "_kinds"

// storeSecrets maps kinds onto keystore names "account/<id>/<kind>".
type storeSecrets struct {
	mu    sync.Mutex
	store keystore.Store
	id    string
}

// Secrets returns the SecretSource of account id backed by store.
func Secrets(store keystore.Store, id string) SecretSource {
	return &storeSecrets{store: store, id: id}
}

func (s *storeSecrets) Get(kind string) ([]byte, error) {
	return s.store.Get(keystore.AccountSecret(s.id, kind))
}

func (s *storeSecrets) Set(kind string, v []byte) error {
	if kind == "" || kind == kindsIndex || strings.Contains(kind, "/") {
		return fmt.Errorf("accounts: bad secret kind %q", kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.remember(kind); err != nil {
		return err
	}
	return s.store.Set(keystore.AccountSecret(s.id, kind), v)
}

func (s *storeSecrets) Delete(kind string) error {
	return s.store.Delete(keystore.AccountSecret(s.id, kind))
}

func (s *storeSecrets) PickleKey() ([]byte, error) {
	s.mu.Lock()
	err := s.remember(keystore.PickleKeyKind)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return keystore.PickleKey(s.store, s.id)
}

func (s *storeSecrets) kinds() ([]string, error) {
	raw, err := s.store.Get(keystore.AccountSecret(s.id, kindsIndex))
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(raw)), nil
}

func (s *storeSecrets) remember(kind string) error {
	ks, err := s.kinds()
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k == kind {
			return nil
		}
	}
	ks = append(ks, kind)
	sort.Strings(ks)
	return s.store.Set(keystore.AccountSecret(s.id, kindsIndex), []byte(strings.Join(ks, "\n")))
}

// deleteAll removes every secret the account wrote, then the index.
func (s *storeSecrets) deleteAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, err := s.kinds()
	if err != nil {
		return err
	}
	ks = append(ks, SecretPassword, SecretToken, keystore.PickleKeyKind)
	if l, ok := s.store.(keystore.Lister); ok {
		names, err := l.Names(keystore.AccountSecret(s.id, ""))
		if err == nil {
			for _, n := range names {
				ks = append(ks, strings.TrimPrefix(n, keystore.AccountSecret(s.id, "")))
			}
		}
	}
	var errs []error
	for _, k := range ks {
		if k == kindsIndex {
			continue
		}
		if err := s.store.Delete(keystore.AccountSecret(s.id, k)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, s.store.Delete(keystore.AccountSecret(s.id, kindsIndex)))
	}
	return errors.Join(errs...)
}

// pendingSecrets serves a login check from memory: the connector may read
// the offered password and write a token, but nothing reaches the keystore
// until the check succeeds and commit runs.
type pendingSecrets struct {
	mu     sync.Mutex
	values map[string][]byte
	pickle []byte
	order  []string
}

func newPending(initial map[string][]byte) *pendingSecrets {
	p := &pendingSecrets{values: map[string][]byte{}}
	for k, v := range initial {
		p.values[k] = bytes.Clone(v)
		p.order = append(p.order, k)
	}
	sort.Strings(p.order)
	return p
}

func (p *pendingSecrets) Get(kind string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.values[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", keystore.ErrNotFound, kind)
	}
	return bytes.Clone(v), nil
}

func (p *pendingSecrets) Set(kind string, v []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.values[kind]; !ok {
		p.order = append(p.order, kind)
	}
	p.values[kind] = bytes.Clone(v)
	return nil
}

func (p *pendingSecrets) Delete(kind string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.values, kind)
	return nil
}

func (p *pendingSecrets) PickleKey() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pickle == nil {
		mem := keystore.NewMemory()
		k, err := keystore.PickleKey(mem, "pending")
		if err != nil {
			return nil, err
		}
		p.pickle = k
	}
	return bytes.Clone(p.pickle), nil
}

// commit writes everything the check produced into dst.
func (p *pendingSecrets) commit(dst SecretSource) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.order {
		if v, ok := p.values[k]; ok {
			if err := dst.Set(k, v); err != nil {
				return err
			}
		}
	}
	if p.pickle != nil {
		// Keep the key the connector already used to pickle its state.
		if err := dst.Set(keystore.PickleKeyKind, p.pickle); err != nil {
			return err
		}
	}
	return nil
}
