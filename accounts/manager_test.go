package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"polyglot/config"
	"testing"
	"time"

	"polyglot/keystore"
	"polyglot/protocols"
)

// realManager uses a real config file and a real age-encrypted keystore.
func realManager(t *testing.T, sc *script) (*Manager, string, keystore.Store, config.Paths) {
	t.Helper()
	root := t.TempDir()
	paths := config.Paths{Config: filepath.Join(root, "config"), Data: filepath.Join(root, "data"), State: filepath.Join(root, "state")}
	if err := paths.EnsureDirs(); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(keystore.Options{Dir: paths.Data, Backend: keystore.BackendFile, ScryptWorkFactor: 10,
		Passphrase: func(bool) ([]byte, error) { return []byte("pw"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := paths.ConfigFile()
	os.WriteFile(cfgFile, []byte("# my notes\ntheme = \"dark\"\n"), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	m, err := New(cfg, Options{Paths: paths, ConfigFile: cfgFile, Registry: Registry{protocols.XMPP: sc.factory},
		Keystore: ks, Sink: rec.sink, Attacher: rec, Clock: newFakeClock(), VerifyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m, cfgFile, ks, paths
}

// loginNeeds makes the fake server accept only password "right", then
// hand out a token, and create connector state in the account's dir.
func loginNeeds(dataDir func() string) func(SecretSource) error {
	return func(sec SecretSource) error {
		if tok, err := sec.Get(SecretToken); err == nil && string(tok) == "tok-1" {
			return nil
		}
		pw, err := sec.Get(SecretPassword)
		if err != nil {
			return err
		}
		if string(pw) != "right" {
			return fmt.Errorf("SASL PLAIN: not-authorized: %w", protocols.ErrAuthFailed)
		}
		if _, err := sec.PickleKey(); err != nil {
			return err
		}
		os.MkdirAll(dataDir(), 0o700)
		return sec.Set(SecretToken, []byte("tok-1"))
	}
}

func TestAddFailureSavesNothing(t *testing.T) {
	sc := &script{}
	m, cfgFile, ks, paths := realManager(t, sc)
	acc := config.Account{Network: protocols.XMPP, Address: "me@example.org"}
	sc.onLogin = loginNeeds(func() string { return paths.AccountDir("xmpp:me@example.org") })
	cfgBefore, _ := os.ReadFile(cfgFile)

	_, err := m.Add(context.Background(), acc, []byte("wrong"))
	var le *LoginError
	if !errors.As(err, &le) || le.Reason != ReasonAuth || !errors.Is(err, protocols.ErrAuthFailed) {
		t.Fatalf("err = %v, want an auth LoginError", err)
	}
	sc.onLogin = func(SecretSource) error {
		return fmt.Errorf("dial: %w", &os.SyscallError{Syscall: "connect", Err: errors.New("connection refused")})
	}
	_, err = m.Add(context.Background(), acc, []byte("right"))
	if !errors.As(err, &le) || le.Reason != ReasonUnreachable {
		t.Fatalf("err = %v, want unreachable", err)
	}
	sc.onLogin = func(s SecretSource) error {
		return fmt.Errorf("tls: %w", errors.New("x509: certificate signed by unknown authority"))
	}
	_, err = m.Add(context.Background(), acc, []byte("right"))
	if !errors.As(err, &le) || le.Reason != ReasonTLS {
		t.Fatalf("err = %v, want TLS", err)
	}
	sc.onLogin = nil
	sc.errs = []error{nil, nil, nil, context.DeadlineExceeded}
	_, err = m.Add(context.Background(), acc, []byte("right"))
	if !errors.As(err, &le) || le.Reason != ReasonTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}

	if got, _ := os.ReadFile(cfgFile); !bytes.Equal(got, cfgBefore) {
		t.Fatalf("config changed by a failed add:\n%s", got)
	}
	if names, _ := ks.(keystore.Lister).Names("account/"); len(names) != 0 {
		t.Fatalf("secrets saved by a failed add: %v", names)
	}
	if _, err := os.Stat(paths.AccountDir("xmpp:me@example.org")); !os.IsNotExist(err) {
		t.Fatal("connector state dir left behind")
	}
	if len(m.Statuses()) != 0 {
		t.Fatalf("statuses: %+v", m.Statuses())
	}
}

func TestAddSuccessThenRemove(t *testing.T) {
	sc := &script{}
	m, cfgFile, ks, paths := realManager(t, sc)
	id := "xmpp:me@example.org"
	sc.onLogin = loginNeeds(func() string { return paths.AccountDir(id) })

	acc, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "me@example.org"}, []byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	if acc.ID != id || acc.DataDir != paths.AccountDir(id) {
		t.Fatalf("added %+v", acc)
	}
	// Saved: config (hand-set theme kept), password, token, pickle key.
	cfg, err := config.Load(cfgFile)
	if err != nil || len(cfg.Accounts) != 1 || cfg.Accounts[0].ID != id || cfg.Theme != "dark" {
		t.Fatalf("config after add: %+v, %v", cfg, err)
	}
	for _, kind := range []string{SecretPassword, SecretToken, keystore.PickleKeyKind} {
		if _, err := ks.Get(keystore.AccountSecret(id, kind)); err != nil {
			t.Fatalf("%s not saved: %v", kind, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(paths.Data, keystore.FileName))
	if bytes.Contains(raw, []byte("right")) || bytes.Contains(raw, []byte("tok-1")) {
		t.Fatal("secret in plaintext on disk")
	}
	// The supervisor started and logged in with the stored token.
	waitFor(t, "online", func() bool { st := m.Statuses(); return len(st) == 1 && st[0].State == StateOnline })

	if err := m.Remove(id); err != nil {
		t.Fatal(err)
	}
	cfg, _ = config.Load(cfgFile)
	if len(cfg.Accounts) != 0 || cfg.Theme != "dark" {
		t.Fatalf("config after remove: %+v", cfg)
	}
	if names, _ := ks.(keystore.Lister).Names("account/"); len(names) != 0 {
		t.Fatalf("secrets left after remove: %v", names)
	}
	if _, err := os.Stat(paths.AccountDir(id)); !os.IsNotExist(err) {
		t.Fatal("account dir left after remove")
	}
	if len(m.Statuses()) != 0 {
		t.Fatalf("status left: %+v", m.Statuses())
	}
	if err := m.Remove(id); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("second remove: %v", err)
	}
	// Duplicate add is refused before any login.
	if _, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "me@example.org"}, []byte("right")); err != nil {
		t.Fatalf("re-add after remove: %v", err)
	}
	// The re-added account's supervisor connects on its own; count the
	// logins once it has, so only the duplicate add's could follow.
	waitFor(t, "the re-added account online", func() bool {
		sts := m.Statuses()
		return len(sts) == 1 && sts[0].State == StateOnline
	})
	calls := sc.Calls()
	if _, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "me@example.org"}, []byte("right")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if sc.Calls() != calls {
		t.Fatal("duplicate add tried to log in")
	}
}

func TestEnableDisablePersistAndSubscribe(t *testing.T) {
	sc := &script{}
	m, cfgFile, _, _ := realManager(t, sc)
	sc.onLogin = nil
	ch, cancel := m.Subscribe()
	defer cancel()
	acc, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "me@example.org"}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "online", func() bool { return m.Statuses()[0].State == StateOnline })
	if err := m.Disable(acc.ID); err != nil {
		t.Fatal(err)
	}
	if st := m.Statuses()[0]; st.State != StateDisabled {
		t.Fatalf("after disable: %v", st.State)
	}
	if cfg, _ := config.Load(cfgFile); cfg.Accounts[0].Enabled {
		t.Fatal("disable not saved")
	}
	if !sc.last().isClosed() {
		t.Fatal("disabled account still connected")
	}
	if err := m.Enable(acc.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "online again", func() bool { return m.Statuses()[0].State == StateOnline })
	if cfg, _ := config.Load(cfgFile); !cfg.Accounts[0].Enabled {
		t.Fatal("enable not saved")
	}
	// The subscriber saw the sequence; its channel never blocked the manager.
	seen := map[State]bool{}
	for len(ch) > 0 {
		seen[(<-ch).State] = true
	}
	for _, s := range []State{StateConnecting, StateOnline, StateDisabled} {
		if !seen[s] {
			t.Fatalf("subscriber missed %v (saw %v)", s, seen)
		}
	}
	// A broken config on disk stops changes instead of being overwritten.
	os.WriteFile(cfgFile, []byte("[[account\n"), 0o600)
	if err := m.Disable(acc.ID); err == nil {
		t.Fatal("disable overwrote a broken config")
	}
	if got, _ := os.ReadFile(cfgFile); string(got) != "[[account\n" {
		t.Fatal("broken config changed")
	}
}

func TestSlowSubscriberNeverBlocks(t *testing.T) {
	m, err := New(config.Default(), Options{Keystore: keystore.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := m.Subscribe()
	defer cancel()
	for i := 0; i < 1000; i++ {
		m.publish(Status{Account: "a", Attempt: i})
	}
	var last Status
	for len(ch) > 0 {
		last = <-ch
	}
	if last.Attempt != 999 {
		t.Fatalf("newest status lost: %+v", last)
	}
}

func TestUnknownNetworkShownNotFatal(t *testing.T) {
	cfg := config.Default()
	cfg.Accounts = []config.Account{{ID: "wa", Network: protocols.WhatsApp, Address: "+4915123456789", Enabled: true}}
	m, _ := New(cfg, Options{Keystore: keystore.NewMemory(), Registry: Registry{}})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	st := m.Statuses()[0]
	if st.State != StateDisabled || st.Detail == "" {
		t.Fatalf("%+v", st)
	}
	if _, err := m.Add(context.Background(), config.Account{Network: protocols.WhatsApp, Address: "+4915100000000"}, nil); !errors.Is(err, ErrNoConnector) {
		t.Fatalf("add without connector: %v", err)
	}
}

// TestRemoveLogsOut: removing an account ends its server session with the
// stored token before the secrets go; a server that cannot be reached does
// not stop the removal, and says what stays behind.
func TestRemoveLogsOut(t *testing.T) {
	sc := &script{}
	m, cfgFile, ks, paths := realManager(t, sc)
	id := "xmpp:me@example.org"
	sc.onLogin = loginNeeds(func() string { return paths.AccountDir(id) })
	if _, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "me@example.org"}, []byte("right")); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(id); err != nil {
		t.Fatal(err)
	}
	if sc.logouts != 1 || sc.loggedOutWith[0] == "" {
		t.Fatalf("logouts %d with tokens %q, want one with the stored token", sc.logouts, sc.loggedOutWith)
	}

	if _, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "me@example.org"}, []byte("right")); err != nil {
		t.Fatal(err)
	}
	sc.logoutErr = errors.New("dial tcp: connection refused")
	err := m.Remove(id)
	var le *LogoutError
	if !errors.As(err, &le) || le.Account != id || !le.Partial() {
		t.Fatalf("remove with the server down: %v, want a LogoutError", err)
	}
	cfg, _ := config.Load(cfgFile)
	if len(cfg.Accounts) != 0 {
		t.Fatalf("account kept after a failed logout: %+v", cfg.Accounts)
	}
	if names, _ := ks.(keystore.Lister).Names("account/"); len(names) != 0 {
		t.Fatalf("secrets kept after a failed logout: %v", names)
	}
}
