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
	"time"

	"filippo.io/age"
	"github.com/rs/zerolog"
)

// fileStore keeps every secret in one age file encrypted to an scrypt
// (passphrase) recipient. The whole map is re-encrypted on each change,
// which is fine for the handful of secrets a chat client holds.
type fileStore struct {
	mu         sync.Mutex
	path       string
	lockPath   string
	passphrase []byte
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

	st, err := os.Stat(s.path)
	switch {
	case err == nil:
		if st.Mode().Perm()&0o077 != 0 {
			log.Warn().Str("file", s.path).Msg("keystore: secrets file is readable by others; it stays encrypted, but consider chmod 600")
		}
		pass, err := opts.passphrase(false)
		if err != nil {
			return nil, err
		}
		s.passphrase = pass
		if err := s.load(); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		pass, err := opts.passphrase(true)
		if err != nil {
			return nil, err
		}
		s.passphrase = pass
		s.entries = map[string][]byte{}
		if err := s.save(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return s, nil
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
			if lerr := s.load(); lerr != nil {
				s.log.Warn().Err(lerr).Msg("keystore: reload after failed write")
			}
			return err
		}
		return nil
	})
}

// ChangePassphrase implements PassphraseChanger.
func (s *fileStore) ChangePassphrase(newPass []byte) error {
	if len(newPass) == 0 {
		return errors.New("keystore: empty passphrase refused")
	}
	return s.fresh(func() error {
		old := s.passphrase
		s.passphrase = bytes.Clone(newPass)
		if err := s.save(); err != nil {
			s.passphrase = old
			return err
		}
		clear(old)
		return nil
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
		return ErrPassphraseChanged // known; no second scrypt run
	}
	if err := s.load(); err != nil {
		if errors.Is(err, ErrWrongPassphrase) && s.entries != nil {
			s.foreign = stamp
			s.log.Warn().Msg("keystore: " + ErrPassphraseChanged.Error())
			return ErrPassphraseChanged
		}
		return err
	}
	return nil
}

func (s *fileStore) load() error {
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	id, err := age.NewScryptIdentity(string(s.passphrase))
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	id.SetMaxWorkFactor(s.maxFactor)
	r, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return ErrWrongPassphrase
		}
		return fmt.Errorf("keystore: %s is not a readable secrets file (%v); it was left untouched", s.path, err)
	}
	plain, err := io.ReadAll(r)
	releaseScryptMemory()
	if err != nil {
		return fmt.Errorf("keystore: %s is damaged (%v); it was left untouched", s.path, err)
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return fmt.Errorf("keystore: %s decrypts but its contents are damaged: %v", s.path, err)
	}
	clear(plain)
	if p.Version != 1 {
		return fmt.Errorf("keystore: %s has format version %d; this polyglot reads version 1", s.path, p.Version)
	}
	if p.Secrets == nil {
		p.Secrets = map[string][]byte{}
	}
	s.entries = p.Secrets
	s.seen = fileStamp{st.Size(), st.ModTime()}
	return nil
}

func (s *fileStore) save() error {
	plain, err := json.Marshal(payload{Version: 1, Secrets: s.entries})
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer clear(plain)
	rcp, err := age.NewScryptRecipient(string(s.passphrase))
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	rcp.SetWorkFactor(s.workFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcp)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	releaseScryptMemory()
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

// releaseScryptMemory gives scrypt's working memory (256 MiB at work
// factor 18) back to the operating system at once. Go would keep it as
// idle heap for minutes, so a client that unlocked its secrets sat at
// ~290 MB resident doing nothing.
func releaseScryptMemory() { debug.FreeOSMemory() }
