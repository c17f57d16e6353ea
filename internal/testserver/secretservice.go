package testserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// SecretServiceCollection is the collection gnome-keyring creates when it is
// started with --unlock; go-keyring stores into it.
const SecretServiceCollection = "/org/freedesktop/secrets/collection/login"

// SecretServicePassword unlocks the test keyring. It guards nothing: the
// keyring lives in a temporary directory and dies with the test.
const SecretServicePassword = "polyglot-test-keyring"

// SecretService is a real Secret Service (gnome-keyring-daemon, secrets
// component only) on a private D-Bus session bus: a dbus-daemon of its own
// with no service activation, so nothing else is ever started on it and the
// developer's own session bus is never touched. The keyring's files, the
// bus socket and the daemons' logs live in one temporary directory that the
// cleanup removes after stopping both daemons.
type SecretService struct {
	// Address is the bus address to put in DBUS_SESSION_BUS_ADDRESS.
	Address string

	t   testing.TB
	dir string
	env []string // the daemons' environment, also used for secret-tool

	mu      sync.Mutex
	bus     *exec.Cmd
	busDone chan struct{}
	gk      *exec.Cmd
	gkDone  chan struct{}
}

// StartSecretService starts dbus-daemon and gnome-keyring-daemon with an
// unlocked "login" collection and returns once the service answers on the
// bus. Missing programs fail the test with the hint to run
// scripts/test-deps.sh. The test itself must point its clients at Address
// (t.Setenv("DBUS_SESSION_BUS_ADDRESS", ss.Address) or a child's env).
func StartSecretService(t testing.TB) *SecretService {
	t.Helper()
	NeedBinary(t, "dbus-daemon")
	NeedBinary(t, "gnome-keyring-daemon")
	NeedBinary(t, "secret-tool")
	// A short path: a unix socket path must fit in 108 bytes, and
	// t.TempDir() carries the (long) test name.
	dir, err := os.MkdirTemp("", "pgss-")
	if err != nil {
		t.Fatal(err)
	}
	s := &SecretService{t: t, dir: dir}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	for _, d := range []string{"home", "data", "config", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.startBus()
	s.env = append(cleanEnv(),
		"DBUS_SESSION_BUS_ADDRESS="+s.Address,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
	)
	s.startKeyring()
	return s
}

// cleanEnv is the test's environment without anything that points at a
// session, keyring or display of the developer.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR",
			"DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK":
			continue
		}
		out = append(out, kv)
	}
	return out
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- written by internal/testserver: a private session bus without service
     activation, so only the daemons the test starts live on it -->
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

func (s *SecretService) startBus() {
	t := s.t
	t.Helper()
	cfg := filepath.Join(s.dir, "bus.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, busConfig, filepath.Join(s.dir, "bus")), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(s.dir, "dbus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--print-address")
	cmd.Env = cleanEnv()
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testserver: start dbus-daemon: %v", err)
	}
	done := make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.mu.Lock()
	s.bus, s.busDone = cmd, done
	s.mu.Unlock()
	select {
	case a := <-addr:
		if a == "" {
			<-done
			t.Fatalf("testserver: dbus-daemon printed no address:\n%s", s.readLog("dbus.log"))
		}
		s.Address = a
	case <-time.After(10 * time.Second):
		t.Fatalf("testserver: dbus-daemon did not start in 10 s:\n%s", s.readLog("dbus.log"))
	}
}

func (s *SecretService) startKeyring() {
	t := s.t
	t.Helper()
	logf, err := os.Create(filepath.Join(s.dir, "gnome-keyring.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--components=secrets", "--unlock",
		"--control-directory="+filepath.Join(s.dir, "run", "keyring"))
	cmd.Env = s.env
	cmd.Dir = s.dir
	// --unlock reads the password from stdin until EOF and creates the
	// login collection with it.
	cmd.Stdin = strings.NewReader(SecretServicePassword)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testserver: start gnome-keyring-daemon: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.mu.Lock()
	s.gk, s.gkDone = cmd, done
	s.mu.Unlock()

	// Ready when the login collection is on the bus.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("testserver: gnome-keyring-daemon exited:\n%s", s.readLog("gnome-keyring.log"))
		default:
		}
		cols, err := s.collections()
		if err == nil && contains(cols, SecretServiceCollection) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: no %s on the bus after 10 s (last: %v, %v):\n%s",
				SecretServiceCollection, cols, err, s.readLog("gnome-keyring.log"))
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func contains(list []dbus.ObjectPath, p dbus.ObjectPath) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

// call runs one method on the Secret Service through a private connection
// to this bus (never the process-wide session bus of godbus).
func (s *SecretService) call(path dbus.ObjectPath, method string, args ...any) (*dbus.Call, error) {
	conn, err := dbus.Connect(s.Address)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := conn.Object("org.freedesktop.secrets", path).CallWithContext(ctx, method, 0, args...)
	return c, c.Err
}

func (s *SecretService) collections() ([]dbus.ObjectPath, error) {
	c, err := s.call("/org/freedesktop/secrets", "org.freedesktop.DBus.Properties.Get",
		"org.freedesktop.Secret.Service", "Collections")
	if err != nil {
		return nil, err
	}
	var v dbus.Variant
	if err := c.Store(&v); err != nil {
		return nil, err
	}
	cols, _ := v.Value().([]dbus.ObjectPath)
	return cols, nil
}

// Lock locks the login collection, as a screen lock or `secret-tool lock`
// would. Unlocking it needs a prompt, and this bus has no prompter, so
// gnome-keyring dismisses every unlock request at once.
func (s *SecretService) Lock() {
	s.t.Helper()
	if _, err := s.call("/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		[]dbus.ObjectPath{SecretServiceCollection}); err != nil {
		s.t.Fatalf("testserver: locking the keyring: %v", err)
	}
}

// Lookup asks secret-tool (libsecret, a client independent of the code
// under test) for the secret stored under the attributes, given as
// name, value pairs. ok is false when no item matches.
func (s *SecretService) Lookup(attrs ...string) (secret string, ok bool) {
	s.t.Helper()
	out, err := s.secretTool(append([]string{"lookup"}, attrs...)...)
	if err != nil {
		// secret-tool exits 1 without output when nothing matches.
		if ee, isExit := err.(*exec.ExitError); isExit && ee.ExitCode() == 1 && len(bytes.TrimSpace(out)) == 0 {
			return "", false
		}
		s.t.Fatalf("testserver: secret-tool lookup %v: %v\n%s", attrs, err, out)
	}
	return string(out), true
}

// Search lists, through secret-tool, every item matching the attributes
// (name, value pairs) as secret-tool prints them: label, secret, and (on
// its stderr, merged here) "attribute.name = value" lines. It is empty when
// nothing matches.
func (s *SecretService) Search(attrs ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "secret-tool", append([]string{"search", "--all"}, attrs...)...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, isExit := err.(*exec.ExitError); isExit && ee.ExitCode() == 1 && len(bytes.TrimSpace(out)) == 0 {
			return ""
		}
		s.t.Fatalf("testserver: secret-tool search %v: %v\n%s", attrs, err, out)
	}
	return string(out)
}

// Store puts a secret in through secret-tool, as another program would.
func (s *SecretService) Store(label, secret string, attrs ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "secret-tool", append([]string{"store", "--label=" + label}, attrs...)...)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(secret)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("testserver: secret-tool store: %v\n%s", err, out)
	}
}

// secretTool runs secret-tool on this bus with a time limit (it waits
// forever on some bad arguments) and returns its stdout; stderr goes into
// the error.
func (s *SecretService) secretTool(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "secret-tool", args...)
	cmd.Env = s.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && stderr.Len() > 0 {
		return append(out, stderr.Bytes()...), err
	}
	return out, err
}

// Env is the environment for a child process that should use this bus:
// the caller's environment with DBUS_SESSION_BUS_ADDRESS replaced.
func (s *SecretService) Env(base []string) []string {
	out := make([]string, 0, len(base)+1)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			out = append(out, kv)
		}
	}
	return append(out, "DBUS_SESSION_BUS_ADDRESS="+s.Address)
}

// StopKeyring stops gnome-keyring-daemon but keeps the bus: clients then get
// "name has no owner" errors, as on a desktop whose keyring crashed.
func (s *SecretService) StopKeyring() {
	s.mu.Lock()
	cmd, done := s.gk, s.gkDone
	s.gk = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		terminate(cmd, done)
	}
}

// FreezeKeyring stops gnome-keyring-daemon with SIGSTOP: the bus still
// routes calls to it but no answer ever comes. The cleanup thaws and stops
// it.
func (s *SecretService) FreezeKeyring() {
	s.mu.Lock()
	cmd := s.gk
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Stop ends both daemons (keyring first). Safe to call twice.
func (s *SecretService) Stop() {
	s.StopKeyring()
	s.mu.Lock()
	cmd, done := s.bus, s.busDone
	s.bus = nil
	s.mu.Unlock()
	if cmd != nil {
		terminate(cmd, done)
	}
}

// KeyringLog is gnome-keyring-daemon's output so far, for failure messages.
func (s *SecretService) KeyringLog() string { return s.readLog("gnome-keyring.log") }

func (s *SecretService) readLog(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, name))
	return string(b)
}
