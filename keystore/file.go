package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/rs/zerolog"
)

// fileStore keeps every secret in one age file (FileName) encrypted to a
// random X25519 identity; the identity itself sits in KeyFileName,
// age-encrypted under the passphrase (scrypt). So a run derives the
// passphrase key once, to unwrap the identity, and every later write is a
// fast X25519 encryption instead of another second of scrypt. The whole map
// is re-encrypted on each change, which is fine for the handful of secrets
// a chat client holds. A file written by an older polyglot (FileName under
// scrypt, no KeyFileName) is moved to this layout on its first unlock.
type fileStore struct {
	mu         sync.Mutex
	path       string
	keyPath    string
	lockPath   string
	identity   *age.X25519Identity // never written anywhere unencrypted
	workFactor int
	maxFactor  int
	entries    map[string][]byte
	seen       fileStamp // the on-disk version entries came from
	foreign    fileStamp // a version under another passphrase (see ChangePassphrase)
	log        zerolog.Logger
}

// fileStamp detects writes by another polyglot process.
type fileStamp struct {
	size  int64
	mtime time.Time
}

// payload is the plaintext inside the age envelope.
type payload struct {
	Version int               `json:"version"`
	Secrets map[string][]byte `json:"secrets"`
}

func openFile(opts Options, log zerolog.Logger) (*fileStore, error) {
	if opts.Dir == "" {
		return nil, errors.New("keystore: no directory given for the secrets file")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	s := &fileStore{
		path:       filepath.Join(opts.Dir, FileName),
		keyPath:    filepath.Join(opts.Dir, KeyFileName),
		lockPath:   filepath.Join(opts.Dir, FileName+".lock"),
		workFactor: opts.ScryptWorkFactor,
		log:        log,
	}
	if s.workFactor <= 0 {
		s.workFactor = DefaultScryptWorkFactor
	}
	s.maxFactor = max(s.workFactor, DefaultScryptWorkFactor+4)

	unlock, err := lockFile(s.lockPath)
	if err != nil {
		return nil, fmt.Errorf("keystore: locking %s: %w", s.lockPath, err)
	}
	defer unlock()

	haveSecrets, err := exists(s.path)
	if err != nil {
		return nil, err
	}
	haveKey, err := exists(s.keyPath)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{s.path, s.keyPath} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn().Str("file", p).Msg("keystore: secrets file is readable by others; it stays encrypted, but consider chmod 600")
		}
	}
	pass, err := opts.passphrase(!haveSecrets && !haveKey)
	if err != nil {
		return nil, err
	}
	defer clear(pass)

	if haveKey {
		if s.identity, err = s.readKey(pass); err != nil {
			return nil, err
		}
	} else if !haveSecrets {
		// A new store: its identity first, so the secrets file is never
		// written to a key that is not on disk.
		if err := s.newKey(pass); err != nil {
			return nil, err
		}
	}
	if !haveSecrets {
		s.entries = map[string][]byte{}
		if err := s.save(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := s.unlockSecrets(pass); err != nil {
		return nil, err
	}
	return s, nil
}

// unlockSecrets reads the secrets file at open. A file still under the
// passphrase (an older polyglot's, or a move interrupted between its two
// writes) is read with it and re-encrypted to the identity; the old file
// stays in place until the new one atomically replaces it.
func (s *fileStore) unlockSecrets(pass []byte) error {
	scryptUsed, err := s.load(pass)
	if errors.Is(err, ErrWrongPassphrase) && s.identity != nil {
		// The passphrase opened the key file, so it is not the passphrase.
		return fmt.Errorf("keystore: %s is not encrypted to the key in %s (the passphrase is right); both were left untouched", s.path, s.keyPath)
	}
	if err != nil || !scryptUsed {
		return err
	}
	if s.identity == nil {
		if err := s.newKey(pass); err != nil {
			return err
		}
	}
	if err := s.save(); err != nil {
		return err
	}
	s.log.Info().Str("file", s.path).Msg("keystore: secrets file moved to a key that is unlocked once per run")
	return nil
}

// newKey makes a random identity and stores it under the passphrase.
func (s *fileStore) newKey(pass []byte) error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := s.writeKey(id, pass); err != nil {
		return err
	}
	s.identity = id
	return nil
}

// writeKey stores id age-encrypted under pass: the one key derivation of
// a run that creates the store (or changes its passphrase).
func (s *fileStore) writeKey(id *age.X25519Identity, pass []byte) error {
	rcp, err := age.NewScryptRecipient(string(pass))
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	rcp.SetWorkFactor(s.workFactor)
	s.derived("wrap the key")
	var buf bytes.Buffer
	if err := encryptTo(&buf, []byte(id.String()), rcp); err != nil {
		return err
	}
	releaseScryptMemory()
	if err := WriteFileAtomic(s.keyPath, buf.Bytes()); err != nil {
		return fmt.Errorf("keystore: writing %s: %w", s.keyPath, err)
	}
	return nil
}

// readKey unwraps the identity with pass: the one key derivation of a
// run that unlocks an existing store.
func (s *fileStore) readKey(pass []byte) (*age.X25519Identity, error) {
	raw, err := os.ReadFile(s.keyPath)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	id, err := s.scryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(raw), id)
	// Also after a wrong passphrase: the TUI stays up, saying so.
	releaseScryptMemory()
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("keystore: %s is not a readable key file (%v); it was left untouched", s.keyPath, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s is damaged (%v); it was left untouched", s.keyPath, err)
	}
	defer clear(plain)
	key, err := age.ParseX25519Identity(strings.TrimSpace(string(plain)))
	if err != nil {
		return nil, fmt.Errorf("keystore: %s decrypts but holds no key; it was left untouched", s.keyPath)
	}
	return key, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("keystore: %w", err)
}

func (s *fileStore) Backend() string { return BackendFile }

// String names the file, never its contents.
func (s *fileStore) String() string { return "keystore file " + s.path }

func (s *fileStore) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readable(); err != nil {
		return nil, err
	}
	v, ok := s.entries[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return bytes.Clone(v), nil
}

func (s *fileStore) Set(name string, v []byte) error {
	if name == "" {
		return errors.New("keystore: empty secret name")
	}
	return s.mutate(func(m map[string][]byte) bool {
		if old, ok := m[name]; ok && bytes.Equal(old, v) {
			return false
		}
		m[name] = bytes.Clone(v)
		return true
	})
}

func (s *fileStore) Delete(name string) error {
	return s.mutate(func(m map[string][]byte) bool {
		if _, ok := m[name]; !ok {
			return false
		}
		delete(m, name)
		return true
	})
}

// Names lists the stored names with the given prefix, sorted.
func (s *fileStore) Names(prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readable(); err != nil {
		return nil, err
	}
	var out []string
	for k := range s.entries {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

// mutate applies f under the cross-process lock to the freshest on-disk
// state, and writes only if f changed something. On a failed write the
// in-memory map is restored from disk so memory never claims more than
// the file holds.
func (s *fileStore) mutate(f func(map[string][]byte) bool) error {
	return s.fresh(func() error {
		if !f(s.entries) {
			return nil
		}
		if err := s.save(); err != nil {
			s.seen = fileStamp{} // force a reload next time
			if _, lerr := s.load(nil); lerr != nil {
				s.log.Warn().Err(lerr).Msg("keystore: reload after failed write")
			}
			return err
		}
		return nil
	})
}

// ChangePassphrase implements PassphraseChanger. It also replaces the
// identity, so whoever kept the old key file and knew the old passphrase
// cannot read what is saved from now on. Three writes, each atomic, so a
// crash between any two leaves a key file that opens the secrets file: the
// secrets go to both identities, then the new key file, then the secrets
// to the new identity alone.
func (s *fileStore) ChangePassphrase(newPass []byte) error {
	if len(newPass) == 0 {
		return errors.New("keystore: empty passphrase refused")
	}
	return s.fresh(func() error {
		next, err := age.GenerateX25519Identity()
		if err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
		if err := s.saveTo(s.identity.Recipient(), next.Recipient()); err != nil {
			return err
		}
		if err := s.writeKey(next, newPass); err != nil {
			return err
		}
		s.identity = next
		return s.save()
	})
}

// fresh runs f under both locks (this process's and the cross-process
// file lock) on the freshest on-disk state.
func (s *fileStore) fresh(f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(s.lockPath)
	if err != nil {
		return fmt.Errorf("keystore: locking %s: %w", s.lockPath, err)
	}
	defer unlock()
	if err := s.refresh(); err != nil {
		return err
	}
	return f()
}

// readable refreshes for a read. When another process changed the
// passphrase, the secrets this run unlocked stay readable (they were
// valid; a running client must not lose its accounts over it).
func (s *fileStore) readable() error {
	if err := s.refresh(); !errors.Is(err, ErrPassphraseChanged) {
		return err
	}
	return nil
}

// refresh reloads when another process replaced the file.
func (s *fileStore) refresh() error {
	st, err := os.Stat(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Removed under us: keep what we have; the next write restores it.
			return nil
		}
		return fmt.Errorf("keystore: %w", err)
	}
	stamp := fileStamp{st.Size(), st.ModTime()}
	switch stamp {
	case s.seen:
		return nil
	case s.foreign:
		return ErrPassphraseChanged // known
	}
	if _, err := s.load(nil); err != nil {
		if errors.Is(err, ErrWrongPassphrase) && s.entries != nil {
			s.foreign = stamp
			s.log.Warn().Msg("keystore: " + ErrPassphraseChanged.Error())
			return ErrPassphraseChanged
		}
		return err
	}
	return nil
}

// load reads the secrets file with the identity and, when pass is given
// (at open only), with the passphrase too; scryptUsed says the file was
// still under the passphrase. Without pass a file the identity does not
// open is ErrWrongPassphrase: nothing derives a key after the unlock.
func (s *fileStore) load(pass []byte) (scryptUsed bool, err error) {
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return false, fmt.Errorf("keystore: %w", err)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return false, fmt.Errorf("keystore: %w", err)
	}
	var ids []age.Identity
	if s.identity != nil {
		ids = append(ids, s.identity)
	}
	var byPass *scryptIdentity
	if pass != nil {
		if byPass, err = s.scryptIdentity(pass); err != nil {
			return false, err
		}
		ids = append(ids, byPass)
	}
	if len(ids) == 0 {
		return false, ErrWrongPassphrase
	}
	r, err := age.Decrypt(bytes.NewReader(raw), ids...)
	scryptUsed = byPass != nil && byPass.ran
	if scryptUsed {
		releaseScryptMemory()
	}
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return false, ErrWrongPassphrase
		}
		return false, fmt.Errorf("keystore: %s is not a readable secrets file (%v); it was left untouched", s.path, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return false, fmt.Errorf("keystore: %s is damaged (%v); it was left untouched", s.path, err)
	}
	defer clear(plain)
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return false, fmt.Errorf("keystore: %s decrypts but its contents are damaged: %v", s.path, err)
	}
	if p.Version != 1 {
		return false, fmt.Errorf("keystore: %s has format version %d; this polyglot reads version 1", s.path, p.Version)
	}
	if p.Secrets == nil {
		p.Secrets = map[string][]byte{}
	}
	s.entries = p.Secrets
	s.seen = fileStamp{st.Size(), st.ModTime()}
	return scryptUsed, nil
}

// save writes the secrets to the identity.
func (s *fileStore) save() error { return s.saveTo(s.identity.Recipient()) }

func (s *fileStore) saveTo(rcps ...age.Recipient) error {
	plain, err := json.Marshal(payload{Version: 1, Secrets: s.entries})
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer clear(plain)
	var buf bytes.Buffer
	if err := encryptTo(&buf, plain, rcps...); err != nil {
		return err
	}
	if err := WriteFileAtomic(s.path, buf.Bytes()); err != nil {
		return fmt.Errorf("keystore: writing %s: %w", s.path, err)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	s.seen = fileStamp{st.Size(), st.ModTime()}
	return nil
}

func encryptTo(dst io.Writer, plain []byte, rcps ...age.Recipient) error {
	w, err := age.Encrypt(dst, rcps...)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// derivations counts this process's passphrase key derivations.
var derivations atomic.Int64

// Derivations is how many passphrase key derivations (scrypt runs, about a
// second each at the default work factor) this process has done. Tests
// hold it to one per run; each is also logged, without the passphrase.
func Derivations() int64 { return derivations.Load() }

func (s *fileStore) derived(why string) {
	n := derivations.Add(1)
	s.log.Info().Str("for", why).Int64("in_this_run", n).Msg("keystore: passphrase key derivation (scrypt)")
}

// scryptIdentity is age's passphrase identity, counting the derivations
// it really runs (age calls it for any file; it derives only for a
// passphrase-encrypted one).
type scryptIdentity struct {
	*age.ScryptIdentity
	s   *fileStore
	ran bool
}

func (s *fileStore) scryptIdentity(pass []byte) (*scryptIdentity, error) {
	id, err := age.NewScryptIdentity(string(pass))
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	id.SetMaxWorkFactor(s.maxFactor)
	return &scryptIdentity{ScryptIdentity: id, s: s}, nil
}

func (i *scryptIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	if len(stanzas) == 1 && stanzas[0].Type == "scrypt" {
		i.ran = true
		i.s.derived("unlock")
	}
	return i.ScryptIdentity.Unwrap(stanzas)
}

// releaseScryptMemory gives scrypt's working memory (256 MiB at work
// factor 18) back to the operating system at once. Go would keep it as
// idle heap for minutes, so a client that unlocked its secrets sat at
// ~290 MB resident doing nothing.
func releaseScryptMemory() { debug.FreeOSMemory() }
