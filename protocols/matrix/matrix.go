// Package matrix is Polyglot's Matrix connector on mautrix-go: login
// (password or token, .well-known discovery), a persisted sync loop, rooms as
// chats (DMs via m.direct), end-to-end encryption with mautrix's pure-Go
// Olm/Megolm (build with -tags goolm), cross-signing and SAS verification.
// A message whose key is late is shown undecryptable and re-emitted decrypted
// when the key comes (latekeys.go); a contact's new, changed or removed
// device becomes a KeyChangeEvent (crypto.go afterSync).
//
// Everything a remote party sends is kept raw here (the TUI sanitizes at draw
// time) but bounded: huge bodies are cut and deep or huge HTML is dropped,
// each with a Notice.
package matrix

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/verificationhelper"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"

	"polyglot/protocols"
)

// Config is what the accounts layer hands the connector.
type Config struct {
	UserID string // @alice:example.org
	// Homeserver overrides .well-known discovery (e.g. http://127.0.0.1:8008).
	Homeserver string
	// Password logs in a new device (or the one the crypto store remembers).
	Password string
	// AccessToken + DeviceID resume an existing login (token login).
	AccessToken string
	DeviceID    string
	// DBPath is the SQLite file for the crypto store, state and sync token.
	DBPath string
	// PickleKey encrypts the Olm account and sessions at rest; from the keystore.
	PickleKey []byte
	// CAFile is an extra PEM CA to trust (test servers).
	CAFile string
	// DeviceName is shown in the user's device list ("Polyglot" if empty).
	DeviceName string
	// IdentityServer is the identity server contact lookups ask (e.g.
	// https://vector.im); empty: the one the homeserver's .well-known names.
	IdentityServer string
	// Account is the accounts ID set on addresses found by FindContact.
	Account string
	Logger  zerolog.Logger
}

// Session is the login the accounts layer keeps in the keystore.
type Session struct {
	Homeserver  string
	UserID      string
	AccessToken string
	DeviceID    string
}

// Connector is one Matrix account.
type Connector struct {
	cfg Config
	log zerolog.Logger

	events    chan protocols.Event
	closed    chan struct{}
	closeOnce sync.Once

	mu        sync.RWMutex
	cli       *mautrix.Client
	db        *sql.DB
	st        *store
	mach      *crypto.OlmMachine
	verifier  *verificationhelper.VerificationHelper
	cancel    context.CancelFunc
	runCtx    context.Context
	wg        sync.WaitGroup
	online    bool
	trusted   map[id.UserID]bool // cached verification state per user
	typing    map[id.RoomID]map[id.UserID]bool
	verifyTxn map[string]verifyInfo
	// verifyMu serialises the user's verification answers with incoming
	// verification events; confirmed and heldMAC (guarded by it) hold a
	// peer's MAC until the user confirmed (see syncer.OnEventType).
	verifyMu  sync.Mutex
	confirmed map[string]bool
	heldMAC   map[string][]func()
	dirty     map[id.RoomID]bool // rooms whose ChatEvent is due after this sync
	invites   map[id.RoomID]bool // invites whose RequestEvent is due
	// batch is held while a sync response is handled (see ProcessResponse).
	batch chan struct{}
	// firstSync is set while the account's first sync (no token yet) is
	// handled: its timelines are history from before this client, shown
	// but neither unread nor notified, as XMPP's first-login archive page.
	firstSync atomic.Bool
	// selfName is the user's display name from their own membership.
	selfName string
	// upLimit is the server's upload limit, asked once in a while.
	upLimit limitCache
}

var (
	_ protocols.Connector        = (*Connector)(nil)
	_ protocols.Editor           = (*Connector)(nil)
	_ protocols.Reactor          = (*Connector)(nil)
	_ protocols.Retractor        = (*Connector)(nil)
	_ protocols.RequestResponder = (*Connector)(nil)
	_ protocols.Verifier         = (*Connector)(nil)
)

// New checks the config; nothing touches the network or disk until Connect.
func New(cfg Config) (*Connector, error) {
	if _, _, err := id.UserID(cfg.UserID).Parse(); err != nil || !strings.HasPrefix(cfg.UserID, "@") {
		return nil, fmt.Errorf("matrix: %q is not a Matrix user ID (want @name:server)", cfg.UserID)
	}
	if cfg.Password == "" && cfg.AccessToken == "" {
		return nil, errors.New("matrix: need a password or an access token")
	}
	if len(cfg.PickleKey) < 16 {
		return nil, errors.New("matrix: pickle key missing or shorter than 16 bytes")
	}
	if cfg.DBPath == "" {
		return nil, errors.New("matrix: DBPath is required")
	}
	if cfg.DeviceName == "" {
		cfg.DeviceName = "Polyglot"
	}
	return &Connector{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("network", "matrix").Str("user", cfg.UserID).Logger(),
		events:    make(chan protocols.Event, 1024),
		closed:    make(chan struct{}),
		trusted:   map[id.UserID]bool{},
		typing:    map[id.RoomID]map[id.UserID]bool{},
		verifyTxn: map[string]verifyInfo{},
		confirmed: map[string]bool{},
		heldMAC:   map[string][]func(){},
		batch:     make(chan struct{}, 1),
	}, nil
}

func (c *Connector) Network() protocols.Network { return protocols.Matrix }

func (c *Connector) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{
		E2EE: true, Verify: true, Receipts: false, ReadMarkers: true, Typing: true,
		Edits: true, Reactions: true, Retractions: true, Replies: true, History: true,
		Groups: true, Attachments: true, MaxBody: maxBodyBytes,
	}
}

func (c *Connector) Events() <-chan protocols.Event { return c.events }

// emit hands an event to the core; it blocks (back-pressure on the sync loop)
// but never after Close.
func (c *Connector) emit(ev protocols.Event) {
	select {
	case c.events <- ev:
	case <-c.closed:
	}
}

// Session returns the current login, for the keystore. Empty before Connect.
func (c *Connector) Session() Session {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cli == nil {
		return Session{}
	}
	return Session{Homeserver: c.cli.HomeserverURL.String(), UserID: c.cli.UserID.String(),
		AccessToken: c.cli.AccessToken, DeviceID: c.cli.DeviceID.String()}
}

func (c *Connector) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.cfg.CAFile != "" {
		pem, err := os.ReadFile(c.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("matrix: reading CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("matrix: no certificate in %s", c.cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// The sync long-poll is 30 s; give it headroom but never hang forever.
	return &http.Client{Transport: tr, Timeout: 90 * time.Second}, nil
}

// homeserverURL is the override or the .well-known answer for the user's server.
func (c *Connector) homeserverURL(ctx context.Context, hc *http.Client) (string, error) {
	if c.cfg.Homeserver != "" {
		return c.cfg.Homeserver, nil
	}
	_, server, _ := id.UserID(c.cfg.UserID).Parse()
	wk, err := mautrix.DiscoverClientAPIWithClient(ctx, hc, server)
	if err != nil {
		return "", fmt.Errorf("matrix: .well-known discovery for %s failed (set the homeserver URL by hand): %w", server, err)
	}
	if wk == nil || wk.Homeserver.BaseURL == "" {
		return "https://" + server, nil
	}
	return wk.Homeserver.BaseURL, nil
}

// Connect logs in, loads or creates the E2EE state, runs the first sync and
// starts the sync loop. Bad credentials return protocols.ErrAuthFailed.
func (c *Connector) Connect(ctx context.Context) error {
	select {
	case <-c.closed:
		return errors.New("matrix: connector closed")
	default:
	}
	c.mu.RLock()
	running := c.cancel != nil
	c.mu.RUnlock()
	if running {
		return nil
	}
	c.emit(protocols.ConnectionEvent{State: protocols.ConnConnecting})
	err := c.connect(ctx)
	if err != nil {
		state := protocols.ConnOffline
		if errors.Is(err, protocols.ErrAuthFailed) {
			state = protocols.ConnAuthFailed
		}
		c.emit(protocols.ConnectionEvent{State: state, Err: err, Detail: err.Error()})
		c.teardown()
	}
	return err
}

// newClient is a mautrix client for the configured homeserver (found by
// discovery unless overridden) over our HTTP client, logging to our log.
func (c *Connector) newClient(ctx context.Context, accessToken string) (*mautrix.Client, error) {
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	hs, err := c.homeserverURL(ctx, hc)
	if err != nil {
		return nil, err
	}
	cli, err := mautrix.NewClient(hs, id.UserID(c.cfg.UserID), accessToken)
	if err != nil {
		return nil, fmt.Errorf("matrix: homeserver URL %q: %w", hs, err)
	}
	cli.Client = hc
	cli.Log = c.log.With().Str("component", "mautrix").Logger()
	return cli, nil
}

func (c *Connector) connect(ctx context.Context) error {
	cli, err := c.newClient(ctx, "")
	if err != nil {
		return err
	}
	cli.DefaultHTTPRetries = 0 // the outbox retries with the same txnId
	cli.SyncPresence = "offline"

	db, err := openDB(c.cfg.DBPath)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.db, c.cli = db, cli
	c.mu.Unlock()

	st, err := newStore(ctx, db, cli.UserID)
	if err != nil {
		return err
	}
	mdb, err := dbutil.NewWithDB(db, "sqlite")
	if err != nil {
		return fmt.Errorf("matrix: wrapping database: %w", err)
	}
	stateStore := sqlstatestore.NewSQLStateStore(mdb, dbutil.ZeroLogger(c.log.With().Str("db", "state").Logger()), false)
	if err := stateStore.Upgrade(ctx); err != nil {
		return fmt.Errorf("matrix: state store: %w", err)
	}
	cli.StateStore = stateStore

	// The crypto store remembers our device; logging in again reuses it so
	// Olm sessions and the identity key survive.
	probe := crypto.NewSQLCryptoStore(mdb, dbutil.ZeroLogger(c.log), c.cfg.UserID, "", c.cfg.PickleKey)
	if err := probe.DB.Upgrade(ctx); err != nil {
		return fmt.Errorf("matrix: crypto store: %w", err)
	}
	storedDevice, err := probe.FindDeviceID(ctx)
	if err != nil {
		return fmt.Errorf("matrix: crypto store: %w", err)
	}
	if err := c.login(ctx, cli, storedDevice); err != nil {
		return err
	}
	if storedDevice != "" && storedDevice != cli.DeviceID {
		return fmt.Errorf("matrix: this database belongs to device %s but the login is device %s; use a fresh data file for a new device", storedDevice, cli.DeviceID)
	}
	cryptoStore := crypto.NewSQLCryptoStore(mdb, dbutil.ZeroLogger(c.log.With().Str("db", "crypto").Logger()), c.cfg.UserID, cli.DeviceID, c.cfg.PickleKey)

	syncer := newSyncer(c, st)
	cli.Syncer = syncer
	cli.Store = syncStore{st}

	mach := crypto.NewOlmMachine(cli, &c.log, cryptoStore, stateStore)
	if err := mach.Load(ctx); err != nil {
		return fmt.Errorf("matrix: loading Olm account: %w", err)
	}
	mach.SessionReceived = c.onSession
	cli.Crypto = &cryptoGlue{c: c, mach: mach}
	c.mu.Lock()
	c.st, c.mach = st, mach
	c.mu.Unlock()
	if err := c.ensureDeviceKeys(ctx); err != nil {
		return err
	}
	if err := c.setupCrossSigning(ctx); err != nil {
		// Not fatal: E2EE works, only user verification is unavailable.
		c.log.Warn().Err(err).Msg("cross-signing unavailable")
	}
	vh := verificationhelper.NewVerificationHelper(cli, mach, nil, &verifyCallbacks{c}, false, false, true)
	c.mu.Lock()
	c.verifier = vh
	c.mu.Unlock()

	syncer.register(mach, vh)
	if err := vh.Init(ctx); err != nil {
		return fmt.Errorf("matrix: verification: %w", err)
	}
	if err := syncer.ensureFilter(ctx); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.cancel, c.runCtx = cancel, runCtx
	c.mu.Unlock()
	mach.SetBackgroundCtx(runCtx)
	// Keys stored by an earlier run just before it stopped may already open
	// messages still waiting.
	c.retryUndecrypted(ctx, "", "")
	c.wg.Add(1)
	go c.syncLoop(runCtx)

	select {
	case <-syncer.firstSync:
	case err := <-syncer.firstErr:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	c.refreshTrust(ctx)
	return nil
}

// login authenticates with a token (checked by whoami) or a password.
func (c *Connector) login(ctx context.Context, cli *mautrix.Client, storedDevice id.DeviceID) error {
	if c.cfg.AccessToken != "" {
		// A token alone (from another client or an SSO login) names its
		// device through whoami; a stored session also brings its own.
		cli.AccessToken, cli.DeviceID = c.cfg.AccessToken, id.DeviceID(c.cfg.DeviceID)
		who, err := cli.Whoami(ctx)
		if err == nil && who.UserID == cli.UserID {
			if who.DeviceID != "" {
				if c.cfg.DeviceID != "" && who.DeviceID != cli.DeviceID {
					return fmt.Errorf("%w: the access token belongs to device %s, not %s", protocols.ErrAuthFailed, who.DeviceID, cli.DeviceID)
				}
				cli.DeviceID = who.DeviceID
			}
			if cli.DeviceID == "" {
				return errors.New("matrix: the server did not name the access token's device; log in with a password")
			}
			return nil
		}
		if err == nil {
			return fmt.Errorf("%w: the access token belongs to %s, not %s", protocols.ErrAuthFailed, who.UserID, cli.UserID)
		}
		if err != nil && !isAuthError(err) {
			return fmt.Errorf("matrix: checking token: %w", err)
		}
		if c.cfg.Password == "" {
			return fmt.Errorf("%w: access token rejected", protocols.ErrAuthFailed)
		}
		cli.AccessToken, cli.DeviceID = "", ""
	}
	localpart, _, _ := cli.UserID.Parse()
	_, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:                 c.cfg.Password,
		DeviceID:                 storedDevice,
		InitialDeviceDisplayName: c.cfg.DeviceName,
		StoreCredentials:         true,
	})
	if err != nil {
		if isAuthError(err) {
			return fmt.Errorf("%w: %v", protocols.ErrAuthFailed, err)
		}
		return fmt.Errorf("matrix: login: %w", err)
	}
	return nil
}

func isAuthError(err error) bool {
	return errors.Is(err, mautrix.MForbidden) || errors.Is(err, mautrix.MUnknownToken) ||
		errors.Is(err, mautrix.MMissingToken) || errors.Is(err, mautrix.MUserDeactivated)
}

// syncLoop runs mautrix's long-poll loop until Close; transient failures are
// retried inside it (see syncer.OnFailedSync).
func (c *Connector) syncLoop(ctx context.Context) {
	defer c.wg.Done()
	c.mu.RLock()
	cli := c.cli
	c.mu.RUnlock()
	for ctx.Err() == nil {
		err := cli.SyncWithContext(ctx)
		if ctx.Err() != nil {
			return
		}
		if isAuthError(err) {
			c.emit(protocols.ConnectionEvent{State: protocols.ConnAuthFailed, Err: protocols.ErrAuthFailed, Detail: err.Error()})
			return
		}
		c.log.Warn().Err(err).Msg("sync stopped; restarting")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (c *Connector) setOnline(on bool, err error) {
	c.mu.Lock()
	changed := c.online != on
	c.online = on
	c.mu.Unlock()
	if !changed {
		return
	}
	if on {
		c.emit(protocols.ConnectionEvent{State: protocols.ConnOnline})
	} else {
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		c.emit(protocols.ConnectionEvent{State: protocols.ConnConnecting, Err: err, Detail: detail})
	}
}

// Close stops syncing and releases the database; the session stays valid.
func (c *Connector) Close() error {
	c.teardown()
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// closeGrace bounds how long Close waits for a sync batch in progress.
const closeGrace = 3 * time.Second

func (c *Connector) teardown() {
	c.mu.Lock()
	cancel := c.cancel
	c.cancel = nil
	c.mu.Unlock()
	if cancel != nil {
		// Let a sync batch being handled finish first; bounded, since its
		// handlers may wait on a consumer that has stopped reading.
		select {
		case c.batch <- struct{}{}:
			cancel()
			<-c.batch
		case <-time.After(closeGrace):
			cancel()
		}
	}
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != nil {
		_ = c.db.Close()
		c.db = nil
	}
	c.online = false
}

// Logout removes this device from the account on the server (its keys go
// with it) and stops the connector. Not connected, it logs out the stored
// session (the access token in Config). The local database is left for the
// caller to delete with the account. A token the server no longer knows
// counts as logged out.
func (c *Connector) Logout(ctx context.Context) error {
	c.mu.RLock()
	cli := c.cli
	c.mu.RUnlock()
	if cli == nil || cli.AccessToken == "" {
		if c.cfg.AccessToken == "" {
			return nil // never logged in: nothing on the server
		}
		var err error
		if cli, err = c.newClient(ctx, c.cfg.AccessToken); err != nil {
			return fmt.Errorf("matrix: logout: %w", err)
		}
	}
	_, err := cli.Logout(ctx)
	_ = c.Close()
	if err != nil && !isAuthError(err) {
		return fmt.Errorf("matrix: logout: %w", err)
	}
	return nil
}

var _ protocols.Logouter = (*Connector)(nil)

// client returns the live client and machine or ErrNotConnected.
func (c *Connector) client() (*mautrix.Client, *crypto.OlmMachine, *store, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cli == nil || c.mach == nil || c.cancel == nil {
		return nil, nil, nil, protocols.ErrNotConnected
	}
	return c.cli, c.mach, c.st, nil
}

func userAddress(u id.UserID) protocols.Address {
	_, server, _ := u.Parse()
	return protocols.Address{Network: protocols.Matrix, ID: u.String(), Server: server}
}

// directPeer is the other party of a DM room, or zero for a group.
func directPeer(u id.UserID) protocols.Address {
	if u == "" {
		return protocols.Address{}
	}
	return userAddress(u)
}
