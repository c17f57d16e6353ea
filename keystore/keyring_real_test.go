package keystore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"polyglot/internal/testserver"
)

// These tests run the keyring backend against a real Secret Service
// (gnome-keyring on a private bus, internal/testserver). The part that
// talks to the keyring runs in a child test process: godbus keeps one
// process-wide session-bus connection (dbus.SessionBus) and reuses it while
// it stays connected, whatever DBUS_SESSION_BUS_ADDRESS says later, and
// TestKeyringStore's MockInit swaps go-keyring's provider for the whole
// process. A fresh process per scenario sees exactly the bus it is given.

// childEnv marks the child half of a test; childDir passes it a directory.
const (
	childEnv = "POLYGLOT_KEYSTORE_CHILD"
	childDir = "POLYGLOT_KEYSTORE_CHILD_DIR"
)

func isChild() bool { return os.Getenv(childEnv) != "" }

// inChild re-runs the calling test alone in a fresh test process with env
// added, and fails t with the child's output unless it passed.
func inChild(t *testing.T, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=1"}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	t.Logf("child process:\n%s", out)
}

// noPrompt fails the test if the store asks for a passphrase: the keyring
// needs none.
func noPrompt(t *testing.T) func(bool) ([]byte, error) {
	return func(bool) ([]byte, error) {
		t.Error("asked for a passphrase although a keyring answers")
		return nil, errors.New("no passphrase in this test")
	}
}

// TestRealKeyringRoundTrip: with a Secret Service answering, "auto" picks
// it; secrets round-trip, replace and delete; another client (secret-tool)
// sees them under service "polyglot" and the secret's name as "username",
// base64-encoded; nothing is written under the data directory.
func TestRealKeyringRoundTrip(t *testing.T) {
	if !isChild() {
		ss := testserver.StartSecretService(t)
		dir := filepath.Join(t.TempDir(), "polyglot")
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+ss.Address, childDir+"="+dir)

		// What the child left behind, seen by libsecret, not by our code.
		got, ok := ss.Lookup("service", "polyglot", "username", "account/xmpp:me@localhost/password")
		if !ok {
			t.Fatalf("secret-tool finds no item; all polyglot items:\n%s", ss.Search("service", "polyglot"))
		}
		if want := base64.StdEncoding.EncodeToString([]byte("hunter2-replaced")); got != want {
			t.Fatalf("secret-tool lookup = %q, want %q (base64 of the replaced value)", got, want)
		}
		items := ss.Search("service", "polyglot", "username", "account/xmpp:me@localhost/password")
		if n := strings.Count(items, "label = "); n != 1 {
			t.Fatalf("replacing made %d items, want 1:\n%s", n, items)
		}
		if _, ok := ss.Lookup("service", "polyglot", "username", "account/xmpp:me@localhost/token"); ok {
			t.Fatal("deleted secret is still in the keyring")
		}
		// The data directory holds no secrets file and nothing with the
		// secret in it (it may not even exist).
		filepath.WalkDir(filepath.Dir(dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if d.Name() == FileName {
				t.Errorf("%s written although the keyring answered", p)
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("hunter2")) {
				t.Errorf("secret in plaintext in %s", p)
			}
			return nil
		})
		return
	}

	var logs bytes.Buffer
	log := zerolog.New(&logs)
	dir := os.Getenv(childDir)
	s, err := Open(Options{Dir: dir, Passphrase: noPrompt(t), Logger: &log})
	if err != nil {
		t.Fatalf("Open auto: %v", err)
	}
	if s.Backend() != BackendKeyring {
		t.Fatalf("auto chose %q with a Secret Service answering; log:\n%s", s.Backend(), logs.String())
	}
	if !strings.Contains(logs.String(), "using the OS keyring") {
		t.Errorf("no log line says the keyring is used:\n%s", logs.String())
	}
	const pw = "account/xmpp:me@localhost/password"
	const tok = "account/xmpp:me@localhost/token"
	if _, err := s.Get(pw); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on an empty keyring: %v, want ErrNotFound", err)
	}
	if err := s.Set(pw, []byte("hunter2")); err != nil {
		t.Fatal(err)
	}
	bin := []byte{0, 1, 2, 0xff, '\n'}
	if err := s.Set(tok, bin); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(pw, []byte("hunter2-replaced")); err != nil {
		t.Fatal(err)
	}
	// A second Open (as the next polyglot run would) reads what was stored.
	s2, err := Open(Options{Dir: dir, Backend: BackendKeyring})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Get(pw); err != nil || string(v) != "hunter2-replaced" {
		t.Fatalf("Get after replace = %q, %v", v, err)
	}
	if v, err := s2.Get(tok); err != nil || !bytes.Equal(v, bin) {
		t.Fatalf("binary round trip = %x, %v", v, err)
	}
	if err := s.Set("empty", nil); err != nil {
		t.Fatalf("empty value: %v", err)
	}
	if v, err := s2.Get("empty"); err != nil || len(v) != 0 {
		t.Fatalf("empty value round trip = %q, %v", v, err)
	}
	if err := s.Delete(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(tok); err != nil {
		t.Fatalf("deleting a missing name: %v", err)
	}
	if _, err := s2.Get(tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v, want ErrNotFound", err)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Fatal("a secret reached the log")
	}
}

// TestRealKeyringForeignItem: an item another program stored under our
// service with a value that is not base64 gives a clear error, not garbage.
func TestRealKeyringForeignItem(t *testing.T) {
	if !isChild() {
		ss := testserver.StartSecretService(t)
		ss.Store("not ours", "plain text!", "service", "polyglot", "username", "account/x/password")
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
		return
	}
	s, err := Open(Options{Backend: BackendKeyring})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("account/x/password"); err == nil || !strings.Contains(err.Error(), "not ours") {
		t.Fatalf("foreign item: %v", err)
	}
}

// fallbackChild is the child half shared by the "no keyring" scenarios:
// auto falls back to the file with a log line saying why, within bound;
// forced "keyring" fails with ErrKeyringUnavailable within bound; why (a
// substring of both) names the cause.
func fallbackChild(t *testing.T, why string, bound time.Duration) {
	t.Helper()
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	dir := filepath.Join(t.TempDir(), "polyglot")
	start := time.Now()
	s, err := Open(Options{Dir: dir, Passphrase: func(bool) ([]byte, error) { return []byte("pw"), nil },
		ScryptWorkFactor: fastWF, Logger: &log, KeyringProbeTimeout: time.Second})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("auto without a keyring: %v", err)
	}
	t.Logf("auto fell back in %s", took)
	if s.Backend() != BackendFile || took > bound {
		t.Fatalf("auto: backend %q after %s (bound %s)", s.Backend(), took, bound)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("fallback wrote no secrets file: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "no OS keyring answered; using the encrypted secrets file") || !strings.Contains(l, why) {
		t.Fatalf("fallback log line missing or without the cause %q:\n%s", why, l)
	}

	start = time.Now()
	_, err = Open(Options{Dir: t.TempDir(), Backend: BackendKeyring, KeyringProbeTimeout: time.Second})
	took = time.Since(start)
	t.Logf("forced keyring failed in %s: %v", took, err)
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), why) || took > bound {
		t.Fatalf("forced keyring: %v after %s, want ErrKeyringUnavailable naming %q within %s", err, took, why, bound)
	}
	if !strings.Contains(err.Error(), `keystore = "file"`) {
		t.Fatalf("forced keyring error gives no way out: %v", err)
	}
}

// TestRealKeyringStopped: the bus lives but the keyring daemon is gone (it
// crashed, or was never started).
func TestRealKeyringStopped(t *testing.T) {
	if !isChild() {
		ss := testserver.StartSecretService(t)
		ss.StopKeyring()
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
		return
	}
	fallbackChild(t, "org.freedesktop.secrets", 1500*time.Millisecond)
}

// TestRealKeyringDeadBus: the bus address points at a socket nobody
// listens on (a stale address from an ended session).
func TestRealKeyringDeadBus(t *testing.T) {
	if !isChild() {
		inChild(t, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "gone"))
		return
	}
	fallbackChild(t, "no such file or directory", 1500*time.Millisecond)
}

// TestRealKeyringFrozen: the bus routes calls to a keyring that never
// answers (SIGSTOP). The probe timeout bounds Open; the call timeout bounds
// an operation on a store opened before the service froze.
func TestRealKeyringFrozen(t *testing.T) {
	if !isChild() {
		ss := testserver.StartSecretService(t)
		ss.FreezeKeyring()
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
		return
	}
	fallbackChild(t, "did not answer within 1s", 3*time.Second)
	k := &keyringStore{service: "polyglot", timeout: 500 * time.Millisecond}
	start := time.Now()
	err := k.Set("account/x/password", []byte("pw"))
	if took := time.Since(start); err == nil || took > 2500*time.Millisecond || !strings.Contains(err.Error(), "did not answer within 500ms") {
		t.Fatalf("Set on a frozen keyring: %v after %s", err, took)
	}
}

// TestRealKeyringNoSession: no bus address and no user bus socket. go-keyring
// must not be asked, because godbus would run dbus-launch and leave a bus
// daemon behind; a dbus-launch on PATH records whether it ran.
func TestRealKeyringNoSession(t *testing.T) {
	if !isChild() {
		bin := t.TempDir()
		mark := filepath.Join(t.TempDir(), "dbus-launch-ran")
		script := "#!/bin/sh\ntouch " + mark + "\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		inChild(t, "DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR="+t.TempDir(),
			"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		if _, err := os.Stat(mark); err == nil {
			t.Fatal("opening the keystore ran dbus-launch")
		}
		return
	}
	fallbackChild(t, "no D-Bus session", 1500*time.Millisecond)
}

// TestRealKeyringLocked: the login collection is locked and there is no
// prompter to unlock it (a headless session, or a dismissed prompt).
// Open falls back / fails with a message that says "locked", and a store
// opened earlier fails its calls with the same advice, at once.
func TestRealKeyringLocked(t *testing.T) {
	if !isChild() {
		ss := testserver.StartSecretService(t)
		ss.Store("earlier", base64.StdEncoding.EncodeToString([]byte("old")), "service", "polyglot", "username", "account/x/password")
		ss.Lock()
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+ss.Address)
		return
	}
	fallbackChild(t, "collection is locked", 1500*time.Millisecond)
	k := &keyringStore{service: "polyglot", timeout: 5 * time.Second}
	start := time.Now()
	if _, err := k.Get("account/x/password"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Get from a locked keyring: %v", err)
	}
	if err := k.Set("account/x/password", []byte("new")); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Set into a locked keyring: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("locked keyring took %s to refuse", took)
	}
}
