package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"polyglot/config"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"polyglot/keystore"
	"polyglot/protocols"
)

// Options are the Manager's injected dependencies.
type Options struct {
	Paths config.Paths
	// ConfigFile is where changes are saved; empty keeps them in memory
	// (demo mode, tests).
	ConfigFile string
	Registry   Registry
	Keystore   keystore.Store
	Sink       Sink
	Attacher   Attacher // optional
	Clock      Clock    // default RealClock
	Backoff    Backoff  // zero fields take DefaultBackoff's
	// ConnectTimeout bounds one Connect call of a supervisor (default 60 s).
	ConnectTimeout time.Duration
	// VerifyTimeout bounds Add's login check when ctx has no deadline
	// (default 30 s).
	VerifyTimeout time.Duration
	Logger        *zerolog.Logger
}

// Manager owns the accounts: config, one supervisor each, and the flows
// that add, remove, enable, disable and re-login. Safe for concurrent use.
type Manager struct {
	opts Options
	log  zerolog.Logger

	opMu sync.Mutex // serialises config changes and start/stop

	mu      sync.Mutex
	cfg     *config.Config
	ctx     context.Context
	started bool
	sups    map[string]*supervisor
	status  map[string]Status
	subs    map[chan Status]struct{}
}

// New prepares a Manager; nothing connects before Start.
func New(cfg *config.Config, opts Options) (*Manager, error) {
	if cfg == nil {
		cfg = config.Default()
	}
	if opts.Keystore == nil {
		return nil, errors.New("accounts: no keystore")
	}
	if opts.Clock == nil {
		opts.Clock = RealClock
	}
	opts.Backoff = opts.Backoff.withDefaults()
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = time.Minute
	}
	if opts.VerifyTimeout <= 0 {
		opts.VerifyTimeout = 30 * time.Second
	}
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	m := &Manager{opts: opts, log: log, cfg: cfg.Clone(),
		sups: map[string]*supervisor{}, status: map[string]Status{}, subs: map[chan Status]struct{}{}}
	for _, a := range m.cfg.Accounts {
		m.status[a.ID] = Status{Account: a.ID, Network: a.Network, Address: a.Address, State: StateStopped}
	}
	return m, nil
}

// Config returns a copy of the current configuration.
func (m *Manager) Config() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Clone()
}

// Account returns the configured account with its DataDir filled in.
func (m *Manager) Account(id string) (config.Account, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.cfg.Accounts {
		if a.ID == id {
			return m.withDir(a), true
		}
	}
	return config.Account{}, false
}

func (m *Manager) withDir(a config.Account) config.Account {
	if m.opts.Paths.Data != "" {
		a.DataDir = m.opts.Paths.AccountDir(a.ID)
	}
	return a
}

// Start launches a supervisor for every enabled account. The supervisors
// stop when ctx ends or Stop is called.
func (m *Manager) Start(ctx context.Context) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("accounts: already started")
	}
	m.started, m.ctx = true, ctx
	accs := append([]config.Account(nil), m.cfg.Accounts...)
	m.mu.Unlock()
	for _, a := range accs {
		m.startOne(a)
	}
	return nil
}

// Stop ends every supervisor and waits for their goroutines; each
// connector is closed and detached.
func (m *Manager) Stop() {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	m.mu.Lock()
	sups := m.sups
	m.sups = map[string]*supervisor{}
	m.started = false
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range sups {
		wg.Add(1)
		go func() { defer wg.Done(); s.stop() }()
	}
	wg.Wait()
}

// startOne runs under opMu.
func (m *Manager) startOne(a config.Account) {
	a = m.withDir(a)
	base := Status{Account: a.ID, Network: a.Network, Address: a.Address, Since: m.opts.Clock.Now()}
	if !a.Enabled {
		base.State = StateDisabled
		m.publish(base)
		return
	}
	f := m.opts.Registry[a.Network]
	if f == nil {
		base.State, base.Detail = StateDisabled, fmt.Sprintf("this build has no %s connector", a.Network)
		m.publish(base)
		return
	}
	s := &supervisor{
		acc: a, factory: f, secrets: Secrets(m.opts.Keystore, a.ID), sink: m.opts.Sink, attach: m.opts.Attacher,
		clock: m.opts.Clock, backoff: m.opts.Backoff, connectTimeout: m.opts.ConnectTimeout, log: m.log,
		onStatus: m.publish, kick: make(chan struct{}, 1), wake: make(chan struct{}, 1), status: base,
	}
	m.mu.Lock()
	m.sups[a.ID] = s
	ctx := m.ctx
	m.mu.Unlock()
	s.start(ctx)
}

// stopOne runs under opMu.
func (m *Manager) stopOne(id string) {
	m.mu.Lock()
	s := m.sups[id]
	delete(m.sups, id)
	m.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// Statuses lists every account in config order.
func (m *Manager) Statuses() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.cfg.Accounts))
	for _, a := range m.cfg.Accounts {
		if st, ok := m.status[a.ID]; ok {
			out = append(out, st)
		}
	}
	return out
}

// Subscribe returns a channel of status changes and a func to cancel. The
// Manager never blocks on a slow reader: when the buffer is full the
// oldest change is dropped, so the newest is always delivered.
func (m *Manager) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 32)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, ch)
			m.mu.Unlock()
		})
	}
}

func (m *Manager) publish(st Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.State == StateStopped && st.Detail == "" {
		// A supervisor ending because its account was removed must not
		// resurrect the entry.
		if _, ok := m.status[st.Account]; !ok {
			return
		}
	}
	m.status[st.Account] = st
	for ch := range m.subs {
		select {
		case ch <- st:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- st:
			default:
			}
		}
	}
}

// update changes the configuration: the file is re-read (so edits made by
// hand meanwhile are kept), f applied, and the result saved atomically. A
// file that does not load is not overwritten.
func (m *Manager) update(f func(*config.Config) error) error {
	var cfg *config.Config
	if m.opts.ConfigFile != "" {
		c, err := config.Load(m.opts.ConfigFile)
		if err != nil {
			return fmt.Errorf("config not changed: %w", err)
		}
		cfg = c
	} else {
		cfg = m.Config()
	}
	if err := f(cfg); err != nil {
		return err
	}
	if m.opts.ConfigFile != "" {
		if err := config.SaveLogged(m.opts.ConfigFile, cfg, m.log); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.cfg = cfg
	m.mu.Unlock()
	return nil
}

func indexOf(cfg *config.Config, id string) int {
	for i, a := range cfg.Accounts {
		if a.ID == id {
			return i
		}
	}
	return -1
}

// Enable turns an account on, saves that, and connects it if started.
func (m *Manager) Enable(id string) error { return m.setEnabled(id, true) }

// Disable saves enabled = false and disconnects the account.
func (m *Manager) Disable(id string) error { return m.setEnabled(id, false) }

func (m *Manager) setEnabled(id string, on bool) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	var acc config.Account
	err := m.update(func(c *config.Config) error {
		i := indexOf(c, id)
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrUnknownAccount, id)
		}
		c.Accounts[i].Enabled = on
		acc = c.Accounts[i]
		return nil
	})
	if err != nil {
		return err
	}
	m.stopOne(id)
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if started {
		m.startOne(acc)
	} else if !on {
		m.publish(Status{Account: id, Network: acc.Network, Address: acc.Address, State: StateDisabled, Since: m.opts.Clock.Now()})
	}
	return nil
}

// Remove disconnects the account, deletes it from the config, deletes its
// secrets and its connector state directory. Messages in the inbox stay.
func (m *Manager) Remove(id string) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if _, ok := m.Account(id); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAccount, id)
	}
	m.stopOne(id)
	acc, _ := m.Account(id)
	logoutErr := m.logout(acc)
	err := m.update(func(c *config.Config) error {
		if i := indexOf(c, id); i >= 0 {
			c.Accounts = append(c.Accounts[:i], c.Accounts[i+1:]...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.status, id)
	m.mu.Unlock()
	var errs []error
	if err := Secrets(m.opts.Keystore, id).(*storeSecrets).deleteAll(); err != nil {
		errs = append(errs, fmt.Errorf("deleting secrets: %w", err))
	}
	if m.opts.Paths.Data != "" {
		if err := os.RemoveAll(m.opts.Paths.AccountDir(id)); err != nil {
			errs = append(errs, err)
		}
	}
	m.publish(Status{Account: id, State: StateStopped, Detail: "removed", Since: m.opts.Clock.Now()})
	m.mu.Lock()
	delete(m.status, id)
	m.mu.Unlock()
	if len(errs) == 0 && logoutErr != nil {
		return &LogoutError{Account: id, Err: logoutErr}
	}
	return errors.Join(append(errs, logoutErr)...)
}

// LogoutError reports an account that was removed here while its session
// stays on the server (the server was unreachable): the device remains in
// the user's device list there until removed from another client.
type LogoutError struct {
	Account string
	Err     error
}

func (e *LogoutError) Error() string {
	return fmt.Sprintf("%s removed here, but the server still lists this device (log it out from another client): %v", e.Account, e.Err)
}

func (e *LogoutError) Unwrap() error { return e.Err }

// Partial says the removal itself succeeded.
func (e *LogoutError) Partial() bool { return true }

// logoutTimeout bounds Remove's attempt to end the session on the server.
const logoutTimeout = 15 * time.Second

// logout ends the account's server-side session (a Matrix device) with the
// secrets still in the keystore; connectors without one are left alone.
func (m *Manager) logout(acc config.Account) error {
	f := m.opts.Registry[acc.Network]
	if f == nil {
		return nil
	}
	conn, err := f(acc, Secrets(m.opts.Keystore, acc.ID))
	if err != nil {
		return nil // no usable secrets: nothing to log out with
	}
	defer conn.Close()
	lo, ok := conn.(protocols.Logouter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), logoutTimeout)
	defer cancel()
	if err := lo.Logout(ctx); err != nil {
		m.log.Warn().Str("account", acc.ID).Err(err).Msg("logout on removal failed")
		return err
	}
	m.log.Info().Str("account", acc.ID).Msg("logged out on removal")
	return nil
}

// ReconnectNow ends the back-off wait of every account that is waiting to
// retry, so each connects at once (the user is looking: a key on the
// accounts screen, the terminal regaining focus). Online, connecting,
// disabled and login-needed accounts are left alone. It returns how many
// accounts were woken.
func (m *Manager) ReconnectNow() int {
	m.mu.Lock()
	sups := make([]*supervisor, 0, len(m.sups))
	for _, s := range m.sups {
		sups = append(sups, s)
	}
	m.mu.Unlock()
	n := 0
	for _, s := range sups {
		if s.wakeUp() {
			n++
		}
	}
	return n
}

// Relogin stores a new password (dropping the stored token, which is what
// the server refused) and reconnects the account at once.
func (m *Manager) Relogin(id string, secret []byte) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	acc, ok := m.Account(id)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAccount, id)
	}
	src := Secrets(m.opts.Keystore, id)
	if secret != nil {
		if err := src.Delete(SecretToken); err != nil {
			return err
		}
		if err := src.Set(SecretPassword, secret); err != nil {
			return err
		}
	}
	m.mu.Lock()
	s := m.sups[id]
	started := m.started
	m.mu.Unlock()
	if s != nil {
		s.reconnect()
	} else if started && acc.Enabled {
		m.startOne(acc)
	}
	return nil
}

// Add checks that acc can log in with secret (the password; nil for
// networks that pair instead), and only then saves the account and the
// secrets the login produced. On failure nothing is saved and the error is
// a *LoginError saying whether the credentials, the network or TLS failed.
func (m *Manager) Add(ctx context.Context, acc config.Account, secret []byte) (config.Account, error) {
	initial := map[string][]byte{}
	if secret != nil {
		initial[SecretPassword] = secret
	}
	return m.AddWithSecrets(ctx, acc, initial)
}

// AddWithSecrets is Add with the login's secrets by kind, e.g. a Matrix
// access token (SecretToken) instead of a password.
func (m *Manager) AddWithSecrets(ctx context.Context, acc config.Account, initial map[string][]byte) (config.Account, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	acc.Enabled = true
	acc.DataDir = ""
	if err := acc.Validate(); err != nil {
		return config.Account{}, fmt.Errorf("invalid account: %w", err)
	}
	if _, exists := m.Account(acc.ID); exists {
		return config.Account{}, fmt.Errorf("%w: %q", ErrExists, acc.ID)
	}
	f := m.opts.Registry[acc.Network]
	if f == nil {
		return config.Account{}, fmt.Errorf("%w: %s", ErrNoConnector, acc.Network)
	}
	acc = m.withDir(acc)

	createdDir := false
	if acc.DataDir != "" {
		if _, err := os.Stat(acc.DataDir); errors.Is(err, os.ErrNotExist) {
			createdDir = true
		}
	}
	undoDir := func() {
		if createdDir {
			os.RemoveAll(acc.DataDir)
		}
	}
	pending := newPending(initial)
	contacts, err := m.verify(ctx, f, acc, pending)
	if err != nil {
		undoDir()
		return config.Account{}, &LoginError{Account: acc.ID, Reason: Classify(err), Err: err}
	}

	src := Secrets(m.opts.Keystore, acc.ID)
	if err := pending.commit(src); err != nil {
		src.(*storeSecrets).deleteAll()
		undoDir()
		return config.Account{}, fmt.Errorf("saving secrets: %w", err)
	}
	err = m.update(func(c *config.Config) error {
		if indexOf(c, acc.ID) >= 0 {
			return fmt.Errorf("%w: %q", ErrExists, acc.ID)
		}
		saved := acc
		saved.DataDir = ""
		c.Accounts = append(c.Accounts, saved)
		return nil
	})
	if err != nil {
		src.(*storeSecrets).deleteAll()
		undoDir()
		return config.Account{}, err
	}
	m.mu.Lock()
	m.status[acc.ID] = Status{Account: acc.ID, Network: acc.Network, Address: acc.Address, State: StateStopped}
	started := m.started
	m.mu.Unlock()
	// The contact list the login check saw is the account's first
	// content: kept, the first start shows it before it even connects.
	if m.opts.Sink != nil {
		for _, ev := range contacts {
			m.opts.Sink(acc.ID, ev)
		}
	}
	if started {
		m.startOne(acc)
	}
	return acc, nil
}

// maxCheckContacts bounds what a login check keeps (a hostile server's
// endless roster costs memory, not the add).
const maxCheckContacts = 100_000

// verify logs in once and disconnects. Contact events produced meanwhile
// are returned (the account's contact list, idempotent to store); every
// other event is dropped: the account does not exist yet, and a message
// kept from here would move no catch-up position.
func (m *Manager) verify(ctx context.Context, f Factory, acc config.Account, secrets SecretSource) ([]protocols.Event, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.opts.VerifyTimeout)
		defer cancel()
	}
	conn, err := f(acc, secrets)
	if err != nil {
		return nil, err
	}
	var contacts []protocols.Event
	done := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-done:
				return
			case ev, ok := <-conn.Events():
				if !ok {
					return
				}
				if c, isContact := ev.(protocols.ContactEvent); isContact && len(contacts) < maxCheckContacts {
					contacts = append(contacts, c)
				}
			}
		}
	}()
	err = conn.Connect(ctx)
	close(done)
	cerr := conn.Close()
	<-drained
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && Classify(err) == ReasonOther {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return nil, err
	}
	if cerr != nil {
		m.log.Debug().Err(cerr).Str("account", acc.ID).Msg("close after login check")
	}
	return contacts, nil
}
