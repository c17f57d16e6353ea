package keystore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

// keyringStore keeps each secret as one OS keyring item (service, name).
// Values are base64 because keyrings store strings.
type keyringStore struct{ service string }

func (k *keyringStore) Backend() string { return BackendKeyring }

func (k *keyringStore) String() string { return "OS keyring, service " + k.service }

func (k *keyringStore) Get(name string) ([]byte, error) {
	s, err := keyring.Get(k.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: keyring: %w", err)
	}
	v, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("keystore: keyring item %q is not ours (not base64)", name)
	}
	return v, nil
}

func (k *keyringStore) Set(name string, v []byte) error {
	if name == "" {
		return errors.New("keystore: empty secret name")
	}
	if err := keyring.Set(k.service, name, base64.StdEncoding.EncodeToString(v)); err != nil {
		return fmt.Errorf("keystore: keyring: %w", err)
	}
	return nil
}

func (k *keyringStore) Delete(name string) error {
	err := keyring.Delete(k.service, name)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("keystore: keyring: %w", err)
}

// probeName is looked up to see whether a keyring answers at all.
const probeName = "polyglot-probe"

// probeKeyring asks the keyring for a name that is normally absent: "not
// found" proves a working service. A locked collection may pop up an
// unlock prompt or hang, hence the timeout (the stuck goroutine is left to
// finish on its own; it holds no secret).
func probeKeyring(service string, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		_, err := keyring.Get(service, probeName)
		if errors.Is(err, keyring.ErrNotFound) {
			err = nil
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("keyring did not answer within %s", timeout)
	}
}
