package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// fastWF keeps scrypt cheap in tests; production uses DefaultScryptWorkFactor.
const fastWF = 10

// prompt returns a Passphrase func that answers pass and records calls.
func prompt(pass string, calls *[]bool) func(bool) ([]byte, error) {
	return func(confirm bool) ([]byte, error) {
		*calls = append(*calls, confirm)
		return []byte(pass), nil
	}
}

func openFileStore(t *testing.T, dir, pass string) Store {
	t.Helper()
	var calls []bool
	s, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt(pass, &calls), ScryptWorkFactor: fastWF})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestFileCreateAskConfirmOnceThenUnlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "polyglot")
	var calls []bool
	s, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("correct horse", &calls), ScryptWorkFactor: fastWF})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || !calls[0] {
		t.Fatalf("creating must ask once with confirm=true, got %v", calls)
	}
	if s.Backend() != "file" {
		t.Fatalf("backend %q", s.Backend())
	}
	if err := s.Set("account/x/password", []byte("hunter2")); err != nil {
		t.Fatal(err)
	}
	// Permissions: dir 0700, file 0600.
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	// Never plaintext on disk.
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, []byte("hunter2")) || bytes.Contains(raw, []byte("account/x")) {
		t.Fatal("secret or its name found in plaintext on disk")
	}
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) {
		t.Fatalf("not an age file: %q", raw[:20])
	}

	// A second run asks once, without confirm, and sees the secret.
	calls = nil
	s2, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("correct horse", &calls), ScryptWorkFactor: fastWF})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] {
		t.Fatalf("unlocking must ask once with confirm=false, got %v", calls)
	}
	v, err := s2.Get("account/x/password")
	if err != nil || string(v) != "hunter2" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if _, err := s2.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing name: %v, want ErrNotFound", err)
	}
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openFileStore(t, dir, "right")
	if err := s.Set("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	before, _ := os.ReadFile(path)
	st0, _ := os.Stat(path)
	time.Sleep(20 * time.Millisecond) // a rewrite would show in mtime

	var calls []bool
	_, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("wrong", &calls), ScryptWorkFactor: fastWF})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("err = %v, want ErrWrongPassphrase", err)
	}
	if !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("unclear message: %v", err)
	}
	after, _ := os.ReadFile(path)
	st1, _ := os.Stat(path)
	if !bytes.Equal(before, after) || !st0.ModTime().Equal(st1.ModTime()) {
		t.Fatal("wrong passphrase modified the secrets file")
	}
	// Still opens with the right one.
	s2 := openFileStore(t, dir, "right")
	if v, err := s2.Get("a"); err != nil || string(v) != "1" {
		t.Fatalf("Get after wrong attempt = %q, %v", v, err)
	}
}

func TestDamagedFileIsReportedAndKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	junk := []byte("this is not an age file\n")
	os.WriteFile(path, junk, 0o600)
	var calls []bool
	_, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("x", &calls), ScryptWorkFactor: fastWF})
	if err == nil || errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("err = %v, want a damaged-file error", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, junk) {
		t.Fatal("damaged file was overwritten")
	}
}

func TestPassphraseFileAndEmptyRefused(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("from-file\n"), 0o600)
	s, err := Open(Options{Dir: dir, Backend: BackendFile, PassphraseFile: pf, ScryptWorkFactor: fastWF,
		Passphrase: func(bool) ([]byte, error) { t.Fatal("prompted despite passphrase file"); return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	s.Set("k", []byte("v"))
	// The trailing newline was stripped: the prompt with the bare word unlocks.
	s2 := openFileStore(t, dir, "from-file")
	if v, _ := s2.Get("k"); string(v) != "v" {
		t.Fatalf("got %q", v)
	}

	_, err = Open(Options{Dir: t.TempDir(), Backend: BackendFile, ScryptWorkFactor: fastWF,
		Passphrase: func(bool) ([]byte, error) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "empty passphrase") {
		t.Fatalf("empty passphrase: %v", err)
	}
	_, err = Open(Options{Dir: t.TempDir(), Backend: BackendFile})
	if err == nil {
		t.Fatal("no prompt and no file must fail clearly")
	}
}

func TestSetDeleteAndTwoProcessesDoNotLoseWrites(t *testing.T) {
	dir := t.TempDir()
	a := openFileStore(t, dir, "pw")
	b := openFileStore(t, dir, "pw") // a second polyglot process
	if err := a.Set("from-a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set("from-b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []Store{a, b, openFileStore(t, dir, "pw")} {
		for name, want := range map[string]string{"from-a": "1", "from-b": "2"} {
			if v, err := s.Get(name); err != nil || string(v) != want {
				t.Fatalf("%s = %q, %v", name, v, err)
			}
		}
	}
	if err := a.Delete("from-b"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete("never-there"); err != nil {
		t.Fatalf("deleting a missing name: %v", err)
	}
	if _, err := b.Get("from-b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted in a, still in b: %v", err)
	}
	names, _ := a.(Lister).Names("from-")
	if strings.Join(names, ",") != "from-a" {
		t.Fatalf("names %v", names)
	}
}

func TestGetReturnsCopy(t *testing.T) {
	s := openFileStore(t, t.TempDir(), "pw")
	s.Set("k", []byte("abc"))
	v, _ := s.Get("k")
	v[0] = 'X'
	if w, _ := s.Get("k"); string(w) != "abc" {
		t.Fatalf("caller mutated the store: %q", w)
	}
}

func TestPickleKeyStableAndConcurrent(t *testing.T) {
	s := openFileStore(t, t.TempDir(), "pw")
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := PickleKey(s, "matrix:@me:example.org")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("concurrent callers got different pickle keys")
		}
	}
	if len(keys[0]) != 32 || bytes.Equal(keys[0], make([]byte, 32)) {
		t.Fatalf("bad key %x", keys[0])
	}
	other, _ := PickleKey(s, "xmpp:me@example.org")
	if bytes.Equal(other, keys[0]) {
		t.Fatal("two accounts share a pickle key")
	}
	stored, _ := s.Get(AccountSecret("matrix:@me:example.org", PickleKeyKind))
	if !bytes.Equal(stored, keys[0]) {
		t.Fatal("pickle key not kept in the store")
	}
}

func TestFileStoreStringHidesSecrets(t *testing.T) {
	s := openFileStore(t, t.TempDir(), "topsecretpass")
	s.Set("k", []byte("topsecretvalue"))
	str := s.(interface{ String() string }).String()
	if strings.Contains(str, "topsecret") {
		t.Fatalf("String leaks: %q", str)
	}
}

func TestBackendSelection(t *testing.T) {
	// Without a session bus, auto falls back to the file and an explicit
	// "keyring" fails clearly (keyring_real_test.go does this against a
	// real, stopped, locked and frozen Secret Service). The environment
	// hides the developer's own session bus so the result is the same on
	// a desktop and in CI.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	{
		var calls []bool
		s, err := Open(Options{Dir: t.TempDir(), Passphrase: prompt("p", &calls), ScryptWorkFactor: fastWF, KeyringProbeTimeout: time.Second})
		if err != nil || s.Backend() != "file" {
			t.Fatalf("auto without keyring: %v, %v", s, err)
		}
		_, err = Open(Options{Dir: t.TempDir(), Backend: "keyring", KeyringProbeTimeout: time.Second})
		if !errors.Is(err, ErrKeyringUnavailable) {
			t.Fatalf("explicit keyring: %v", err)
		}
	}
	if _, err := Open(Options{Dir: t.TempDir(), Backend: "vault"}); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Fatalf("bad backend: %v", err)
	}
}

// TestKeyringStore runs the keyring backend's own logic against
// go-keyring's in-memory provider; keyring_real_test.go runs it against a
// real Secret Service. MockInit replaces the provider for the whole
// process, so real-keyring tests run in child processes.
func TestKeyringStore(t *testing.T) {
	// The mock needs no bus, but the store refuses to call go-keyring
	// when no session bus is known (see sessionBusKnown).
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/mock-bus")
	keyring.MockInit()
	var calls []bool
	s, err := Open(Options{Backend: BackendAuto, Passphrase: prompt("unused", &calls)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend() != "keyring" || len(calls) != 0 {
		t.Fatalf("backend %q, prompts %v: a keyring needs no passphrase", s.Backend(), calls)
	}
	bin := []byte{0, 1, 2, 0xff}
	if err := s.Set("account/a/token", bin); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("account/a/token"); err != nil || !bytes.Equal(v, bin) {
		t.Fatalf("binary round trip: %x, %v", v, err)
	}
	if err := s.Delete("account/a/token"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("account/a/token"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Get("account/a/token"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	keyring.MockInitWithError(errors.New("dbus: no session"))
	if _, err := Open(Options{Backend: BackendKeyring}); !errors.Is(err, ErrKeyringUnavailable) {
		t.Fatalf("failing keyring: %v", err)
	}
}

// Changing the passphrase re-encrypts every secret: the old passphrase no
// longer opens the file, the new one does; another process that unlocked
// it before keeps reading what it has but refuses to write (a write would
// undo the change), with an error that says so.
func TestChangePassphrase(t *testing.T) {
	dir := t.TempDir()
	a := openFileStore(t, dir, "old pass")
	other := openFileStore(t, dir, "old pass") // a client still running
	if err := a.Set("xmpp/alice/password", []byte("hunter2")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get("xmpp/alice/password"); err != nil {
		t.Fatal(err)
	}
	pc, ok := a.(PassphraseChanger)
	if !ok {
		t.Fatal("the file store cannot change its passphrase")
	}
	if err := pc.ChangePassphrase(nil); err == nil {
		t.Fatal("empty new passphrase accepted")
	}
	if err := pc.ChangePassphrase([]byte("new pass")); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, []byte("hunter2")) {
		t.Fatal("plaintext secret in the re-encrypted file")
	}
	var calls []bool
	if _, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("old pass", &calls), ScryptWorkFactor: fastWF}); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after the change: %v", err)
	}
	if v, err := openFileStore(t, dir, "new pass").Get("xmpp/alice/password"); err != nil || string(v) != "hunter2" {
		t.Fatalf("new passphrase: %q, %v", v, err)
	}
	if err := a.Set("later", []byte("x")); err != nil {
		t.Fatalf("the changing process cannot write afterwards: %v", err)
	}

	if v, err := other.Get("xmpp/alice/password"); err != nil || string(v) != "hunter2" {
		t.Fatalf("a running client lost its secret: %q, %v", v, err)
	}
	if err := other.Set("stale", []byte("y")); !errors.Is(err, ErrPassphraseChanged) {
		t.Fatalf("a stale process wrote (or failed unclearly): %v", err)
	}
	if v, err := openFileStore(t, dir, "new pass").Get("later"); err != nil || string(v) != "x" {
		t.Fatalf("after the stale write attempt: %q, %v", v, err)
	}
}
