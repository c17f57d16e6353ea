// Package keystore keeps secrets (passwords, access tokens, crypto pickle
// keys) at rest: in the OS keyring when a Secret Service answers, otherwise
// in one age-encrypted file under a passphrase. Values never reach the disk
// in plaintext and are never logged.
package keystore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Store is a small name → secret map.
type Store interface {
	// Get returns a copy of the secret, or an error wrapping ErrNotFound.
	Get(name string) ([]byte, error)
	// Set stores (or replaces) the secret durably before returning.
	Set(name string, v []byte) error
	// Delete removes the secret; deleting a missing name is not an error.
	Delete(name string) error
	// Backend names where secrets live: "keyring" or "file".
	Backend() string
}

// PassphraseChanger is a Store whose secrets sit under a passphrase (the
// encrypted file; the OS keyring has none of ours).
type PassphraseChanger interface {
	Store
	// ChangePassphrase re-encrypts every secret under newPass in one
	// atomic replace: a failure leaves the file as it was.
	ChangePassphrase(newPass []byte) error
}

var (
	// ErrPassphraseChanged is returned when another process changed the
	// secrets file's passphrase: this run keeps reading the secrets it
	// unlocked, but cannot write without overwriting the change.
	ErrPassphraseChanged = errors.New("the secrets file was re-encrypted under a new passphrase by another polyglot; restart this one to unlock it")
	// ErrNotFound is returned by Get for an unknown name.
	ErrNotFound = errors.New("secret not found")
	// ErrWrongPassphrase is returned by Open when the passphrase does not
	// decrypt the secrets file. Nothing on disk is changed.
	ErrWrongPassphrase = errors.New("wrong passphrase: it does not unlock the secrets file (nothing was changed; try again)")
	// ErrKeyringUnavailable is returned when Backend "keyring" is asked for
	// and no keyring service answers.
	ErrKeyringUnavailable = errors.New("no OS keyring (Secret Service) answered")
)

// Backend choices for Options.Backend.
const (
	BackendAuto    = "auto"
	BackendKeyring = "keyring"
	BackendFile    = "file"
)

// FileName is the secrets file inside Options.Dir.
const FileName = "secrets.age"

// KeyFileName, beside FileName, holds the random key the secrets file is
// encrypted to, itself encrypted under the passphrase.
const KeyFileName = "secrets.key.age"

// DefaultScryptWorkFactor is age's own default (log2 of scrypt N): about a
// second of work per unlock on a laptop.
const DefaultScryptWorkFactor = 18

// Options says where and how to open the store.
type Options struct {
	// Dir holds the secrets file: $XDG_DATA_HOME/polyglot.
	Dir string
	// Backend is "auto" (keyring if one answers, else file), "keyring" or
	// "file". Empty means auto.
	Backend string
	// Passphrase prompts the user; confirm is true when a new file is being
	// created (ask twice). Called at most once per Open.
	Passphrase func(confirm bool) ([]byte, error)
	// PassphraseFile, when set, is read instead of prompting (the cmd passes
	// $POLYGLOT_PASSPHRASE_FILE). One trailing newline is stripped.
	PassphraseFile string
	// ScryptWorkFactor overrides DefaultScryptWorkFactor for new writes
	// (tests lower it to stay fast). Files written with a higher factor than
	// DefaultScryptWorkFactor+4 are refused when reading.
	ScryptWorkFactor int
	// KeyringService is the service name in the OS keyring ("polyglot").
	KeyringService string
	// KeyringProbeTimeout bounds the keyring probe (default 2 s); a locked
	// or absent Secret Service must not hang the start-up.
	KeyringProbeTimeout time.Duration
	// KeyringCallTimeout bounds each later keyring call (default 30 s: long
	// enough to answer a desktop unlock prompt, short enough that a frozen
	// service gives an error instead of a hung client).
	KeyringCallTimeout time.Duration
	// Logger receives non-secret diagnostics only.
	Logger *zerolog.Logger
}

// Open returns the store Options ask for. With the file backend the
// passphrase is asked now: to unlock an existing file, or (confirmed) to
// create a new, empty one.
func Open(opts Options) (Store, error) {
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	if opts.KeyringService == "" {
		opts.KeyringService = "polyglot"
	}
	if opts.KeyringProbeTimeout <= 0 {
		opts.KeyringProbeTimeout = 2 * time.Second
	}
	if opts.KeyringCallTimeout <= 0 {
		opts.KeyringCallTimeout = 30 * time.Second
	}
	ring := &keyringStore{service: opts.KeyringService, timeout: opts.KeyringCallTimeout}
	switch strings.ToLower(strings.TrimSpace(opts.Backend)) {
	case "", BackendAuto:
		// Info, not debug: a user who expects the keyring learns from the
		// log why a passphrase is asked for instead.
		if err := probeKeyring(opts.KeyringService, opts.KeyringProbeTimeout); err == nil {
			log.Info().Str("service", opts.KeyringService).Msg("keystore: using the OS keyring (Secret Service)")
			return ring, nil
		} else {
			log.Info().Err(err).Msg("keystore: no OS keyring answered; using the encrypted secrets file")
		}
		return openFile(opts, log)
	case BackendKeyring:
		if err := probeKeyring(opts.KeyringService, opts.KeyringProbeTimeout); err != nil {
			return nil, fmt.Errorf("%w: %v (set keystore = \"file\" or \"auto\" in config.toml to use an encrypted file instead)", ErrKeyringUnavailable, err)
		}
		log.Info().Str("service", opts.KeyringService).Msg("keystore: using the OS keyring (Secret Service)")
		return ring, nil
	case BackendFile:
		return openFile(opts, log)
	default:
		return nil, fmt.Errorf("keystore: unknown backend %q (want auto, keyring or file)", opts.Backend)
	}
}

// passphrase obtains the passphrase from the file or the prompt.
func (o Options) passphrase(confirm bool) ([]byte, error) {
	if o.PassphraseFile != "" {
		return ReadPassphraseFile(o.PassphraseFile)
	}
	if o.Passphrase == nil {
		return nil, errors.New("keystore: a passphrase is needed but there is no way to ask for one (set POLYGLOT_PASSPHRASE_FILE or run in a terminal)")
	}
	b, err := o.Passphrase(confirm)
	if err != nil {
		return nil, fmt.Errorf("keystore: reading passphrase: %w", err)
	}
	if len(b) == 0 {
		return nil, errors.New("keystore: empty passphrase refused")
	}
	return b, nil
}

// ReadPassphraseFile reads a passphrase kept in a file for scripts: one
// trailing newline is stripped and an empty one refused.
func ReadPassphraseFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: reading passphrase file: %w", err)
	}
	b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("keystore: passphrase file %s is empty", path)
	}
	return b, nil
}

// WriteFileAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync the directory. Mode 0600. A crash leaves either the
// old file or the new one, never half of either.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
