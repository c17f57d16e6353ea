package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// derivedDuring runs f and returns how many passphrase key derivations it did.
func derivedDuring(t *testing.T, f func()) int64 {
	t.Helper()
	before := Derivations()
	f()
	return Derivations() - before
}

// TestOneDerivationPerUnlock: creating a store and unlocking one each run
// scrypt once; writes, deletes and reads after that run none (they used to
// run one per write).
func TestOneDerivationPerUnlock(t *testing.T) {
	dir := t.TempDir()
	var s Store
	if n := derivedDuring(t, func() {
		s = openFileStore(t, dir, "pw")
		for _, name := range []string{"account/a/password", "account/a/_kinds", "account/a/pickle-key"} {
			if err := s.Set(name, []byte("v-"+name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete("account/a/_kinds"); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("create + 3 writes + a delete derived %d keys, want 1", n)
	}
	if n := derivedDuring(t, func() {
		s = openFileStore(t, dir, "pw")
		if v, err := s.Get("account/a/password"); err != nil || string(v) != "v-account/a/password" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		if err := s.Set("account/b/token", []byte("t")); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("unlock + a write derived %d keys, want 1", n)
	}
	var calls []bool
	if n := derivedDuring(t, func() {
		_, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("wrong", &calls), ScryptWorkFactor: fastWF})
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("wrong passphrase: %v", err)
		}
	}); n != 1 {
		t.Fatalf("a wrong passphrase derived %d keys, want 1", n)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, KeyFileName))
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n-> scrypt ")) || bytes.Contains(raw, []byte("AGE-SECRET-KEY")) {
		t.Fatalf("the key file is not under the passphrase: %.60q", raw)
	}
	if st, err := os.Stat(filepath.Join(dir, KeyFileName)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
}

// writeOldFile writes secrets the way polyglot did before the key file:
// the whole secrets file under the passphrase.
func writeOldFile(t *testing.T, dir, pass string, secrets map[string][]byte) []byte {
	t.Helper()
	plain, _ := json.Marshal(payload{Version: 1, Secrets: secrets})
	rcp, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	rcp.SetWorkFactor(fastWF)
	var buf bytes.Buffer
	if err := encryptTo(&buf, plain, rcp); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, FileName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOldSecretsFileMovesOnFirstUnlock: an older polyglot's secrets file
// is refused unchanged with a wrong passphrase, opened with the right one
// (twice the derivation, that one time), moved to the key file layout
// without losing a secret, and from then on unlocks with one derivation.
func TestOldSecretsFileMovesOnFirstUnlock(t *testing.T) {
	dir := t.TempDir()
	old := writeOldFile(t, dir, "old pw", map[string][]byte{"account/x/password": []byte("hunter2"), "account/x/token": []byte("tok")})

	var calls []bool
	if _, err := Open(Options{Dir: dir, Backend: BackendFile, Passphrase: prompt("wrong", &calls), ScryptWorkFactor: fastWF}); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase on the old file: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, FileName)); !bytes.Equal(got, old) {
		t.Fatal("a wrong passphrase changed the old file")
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); err == nil {
		t.Fatal("a wrong passphrase wrote a key file")
	}

	var s Store
	if n := derivedDuring(t, func() { s = openFileStore(t, dir, "old pw") }); n != 2 {
		t.Fatalf("moving the old file derived %d keys, want 2 (read it, wrap the new key)", n)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, []byte("-> scrypt")) || !bytes.Contains(raw, []byte("-> X25519")) {
		t.Fatalf("the secrets file was not moved to the key: %.80q", raw)
	}
	for _, st := range []Store{s, nil} {
		if st == nil {
			if n := derivedDuring(t, func() { st = openFileStore(t, dir, "old pw") }); n != 1 {
				t.Fatalf("unlocking after the move derived %d keys, want 1", n)
			}
		}
		for name, want := range map[string]string{"account/x/password": "hunter2", "account/x/token": "tok"} {
			if v, err := st.Get(name); err != nil || string(v) != want {
				t.Fatalf("%s after the move = %q, %v", name, v, err)
			}
		}
	}
}

// TestInterruptedMoveIsFinished: a crash after the key file was written
// but before the secrets file was replaced leaves the old secrets file
// next to a key file; the next unlock reads it and finishes the move.
func TestInterruptedMoveIsFinished(t *testing.T) {
	dir := t.TempDir()
	s := openFileStore(t, dir, "pw") // writes a key file
	s.Set("gone", []byte("replaced below"))
	writeOldFile(t, dir, "pw", map[string][]byte{"account/x/password": []byte("hunter2")})
	s2 := openFileStore(t, dir, "pw")
	if v, err := s2.Get("account/x/password"); err != nil || string(v) != "hunter2" {
		t.Fatalf("after an interrupted move: %q, %v", v, err)
	}
	if n := derivedDuring(t, func() { s2 = openFileStore(t, dir, "pw") }); n != 1 {
		t.Fatalf("the move was not finished: %d derivations", n)
	}
}

// TestPassphraseChangeInterruptedAfterFirstWrite: ChangePassphrase first
// writes the secrets to both keys; a crash right then leaves the old key
// file, which must still open them with the old passphrase.
func TestPassphraseChangeInterruptedAfterFirstWrite(t *testing.T) {
	dir := t.TempDir()
	s := openFileStore(t, dir, "old").(*fileStore)
	s.Set("k", []byte("v"))
	next, _ := age.GenerateX25519Identity()
	if err := s.saveTo(s.identity.Recipient(), next.Recipient()); err != nil {
		t.Fatal(err)
	}
	if v, err := openFileStore(t, dir, "old").Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("old passphrase after the first write: %q, %v", v, err)
	}
}

// TestKeyFileThatDoesNotFitIsNotCalledAWrongPassphrase: a key file from
// another store next to this secrets file is reported as that, not as a
// wrong passphrase, and neither file is touched.
func TestKeyFileThatDoesNotFitIsNotCalledAWrongPassphrase(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	openFileStore(t, a, "pw").Set("k", []byte("v"))
	openFileStore(t, b, "pw")
	other, _ := os.ReadFile(filepath.Join(b, KeyFileName))
	os.WriteFile(filepath.Join(a, KeyFileName), other, 0o600)
	before, _ := os.ReadFile(filepath.Join(a, FileName))
	var calls []bool
	_, err := Open(Options{Dir: a, Backend: BackendFile, Passphrase: prompt("pw", &calls), ScryptWorkFactor: fastWF})
	if err == nil || errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), "not encrypted to the key") {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(a, FileName)); !bytes.Equal(before, after) {
		t.Fatal("the secrets file was rewritten")
	}
}
