package keystore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// keyringStore keeps each secret as one OS keyring item: in the Secret
// Service, attributes service=<service> and username=<name>. Values are
// base64 because keyrings store strings.
type keyringStore struct {
	service string
	// timeout bounds each call: go-keyring waits without limit for an
	// unlock prompt to finish or a frozen service to answer.
	timeout time.Duration
}

func (k *keyringStore) Backend() string { return BackendKeyring }

func (k *keyringStore) String() string { return "OS keyring, service " + k.service }

func (k *keyringStore) Get(name string) ([]byte, error) {
	var s string
	err := k.bounded(func() (err error) { s, err = keyring.Get(k.service, name); return err })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
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
	enc := base64.StdEncoding.EncodeToString(v)
	return k.bounded(func() error { return keyring.Set(k.service, name, enc) })
}

func (k *keyringStore) Delete(name string) error {
	err := k.bounded(func() error { return keyring.Delete(k.service, name) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

// bounded runs one keyring call with the store's time limit and words its
// errors for the user. A call that overruns is left to finish on its own
// goroutine; it holds no secret of ours but the one it was given.
func (k *keyringStore) bounded(call func() error) error {
	err := withTimeout(call, k.timeout)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return err
	}
	return fmt.Errorf("keystore: OS keyring: %w", explainKeyringError(err))
}

func withTimeout(call func() error, timeout time.Duration) error {
	if err := sessionBusKnown(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("the Secret Service did not answer within %s (a stuck service, or an unlock prompt nobody answered)", timeout)
	}
}

// explainKeyringError turns go-keyring's wording for a locked collection
// (its unlock prompt was dismissed, or no prompter exists on a headless
// session) into advice. The wording is go-keyring v0.2.6's own;
// TestRealKeyringLocked notices if an upgrade changes it.
func explainKeyringError(err error) error {
	if strings.Contains(err.Error(), "failed to unlock correct collection") {
		return fmt.Errorf("the keyring collection is locked and no unlock prompt succeeded (unlock it in your desktop session): %w", err)
	}
	return err
}

// sessionBusKnown refuses before go-keyring is asked when there is no
// session bus to ask: godbus would otherwise run dbus-launch, which starts
// a fresh bus daemon that outlives polyglot, on every start of a headless
// machine. The places checked are godbus's own: DBUS_SESSION_BUS_ADDRESS,
// then $XDG_RUNTIME_DIR (or /run/user/<uid>) /bus and /dbus-session.
func sessionBusKnown() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = "/run/user/" + strconv.Itoa(os.Getuid())
	}
	for _, f := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil
		}
	}
	return errors.New("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset and there is no user bus socket)")
}

// probeName is looked up to see whether a keyring answers at all.
const probeName = "polyglot-probe"

// probeKeyring asks the keyring for a name that is normally absent: "not
// found" proves a working service. A locked collection may pop up an
// unlock prompt or hang, hence the timeout.
func probeKeyring(service string, timeout time.Duration) error {
	err := withTimeout(func() error {
		_, err := keyring.Get(service, probeName)
		return err
	}, timeout)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return explainKeyringError(err)
}
