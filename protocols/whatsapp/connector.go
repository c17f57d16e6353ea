package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"polyglot/protocols"
)

// Config is one WhatsApp account.
type Config struct {
	// Account is the accounts ID, set on every Address this connector emits.
	Account string
	// DBPath is the account's whatsapp.db (whatsmeow's device store and
	// Polyglot's sent-ID table); created 0600.
	DBPath string
	// StoreKey (StoreKeySize bytes, from the keystore: StoreKeyKind)
	// seals the private keys and sessions in DBPath.
	StoreKey []byte
	// Accepted says whether the user accepted an address; read receipts
	// and typing go only to accepted senders. Nil: nobody.
	Accepted func(protocols.Address) bool
	Logger   zerolog.Logger
	// LatestVersion fetches WhatsApp Web's current version when the server
	// says ours is outdated (405). Nil: whatsmeow.GetLatestVersion.
	LatestVersion func(ctx context.Context) (*wastore.WAVersionContainer, error)
}

// Connector is the WhatsApp protocols.Connector. The supervisor builds a
// new one for each connection attempt; Events stays usable until Close.
type Connector struct {
	cfg    Config
	log    zerolog.Logger
	st     *store
	cli    *whatsmeow.Client
	events chan protocols.Event
	closed chan struct{}
	once   sync.Once
	ctx    context.Context // cancelled by Close: background work stops
	cancel context.CancelFunc

	mu        sync.Mutex
	online    bool
	waiting   chan error // set while Connect waits for the server's answer
	retried   bool       // a ClientOutdated was answered with a version update
	updating  bool       // that update (and its reconnect) is under way
	groups    map[types.JID]string
	compared  map[string][32]byte                // phone number → identity key whose code the user compared
	codes     map[codeKey]string                 // security codes computed (securitycode.go)
	retries   map[string]chan *events.MediaRetry // media-retry answers awaited, by message ID
	reconnect func(ctx context.Context) error    // test seam: what a version update retries
	// sendHook replaces whatsmeow's SendMessage in tests.
	sendHook func(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error)
	// lookupHook replaces whatsmeow's IsOnWhatsApp in tests (find.go).
	lookupHook func(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error)
	// uploadHook replaces whatsmeow's Upload in tests.
	uploadHook func(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error)

	history     chan *historyJob
	histReceipt func(ctx context.Context, id types.MessageID) error // test seam
}

var _ interface {
	protocols.Connector
	protocols.Editor
	protocols.Reactor
	protocols.Retractor
	protocols.Downloader
	protocols.Logouter
	protocols.CodeComparer
} = (*Connector)(nil)

// New opens the account's device store (made by Link); it does not connect.
func New(cfg Config) (*Connector, error) {
	if cfg.DBPath == "" {
		return nil, errors.New("whatsapp: no DBPath")
	}
	// Only linking makes a store: an account without one is not linked.
	if _, err := os.Stat(cfg.DBPath); errors.Is(err, os.ErrNotExist) {
		return nil, loginNeeded("this computer is not linked to the phone (no whatsapp.db)")
	}
	log := cfg.Logger.With().Str("whatsapp", cfg.Account).Logger()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := openStore(ctx, cfg.DBPath, cfg.StoreKey, log)
	if errors.Is(err, ErrWrongStoreKey) {
		cancel()
		return nil, &linkError{detail: err.Error(), cause: err}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	dev, err := st.container.firstDevice(ctx)
	if err != nil {
		st.close()
		cancel()
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	c := &Connector{
		cfg:      cfg,
		log:      log,
		st:       st,
		events:   make(chan protocols.Event, 1024),
		closed:   make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		groups:   map[types.JID]string{},
		compared: map[string][32]byte{},
		codes:    map[codeKey]string{},
		retries:  map[string]chan *events.MediaRetry{},
		history:  make(chan *historyJob, 64),
	}
	if err := c.loadCompared(ctx); err != nil {
		st.close()
		cancel()
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	c.cli = whatsmeow.NewClient(dev, wmLog(log, "whatsmeow"))
	// The supervisor reconnects (with backoff, visible on the accounts
	// screen); whatsmeow's own loop would hide outages from it.
	c.cli.EnableAutoReconnect = false
	// History is downloaded and acknowledged by us, once it is stored (a
	// short session such as the login check must not consume it).
	c.cli.ManualHistorySyncDownload = true
	c.cli.DisableManualHistorySyncReceipt = true
	c.histReceipt = c.sendHistReceipt
	c.reconnect = func(ctx context.Context) error {
		c.cli.Disconnect()
		return c.cli.ConnectContext(ctx)
	}
	c.cli.AddEventHandlerWithSuccessStatus(c.handle)
	// Plaintext of a message whose handler failed is kept (sealed), so the
	// redelivery decrypts again.
	c.cli.EnableDecryptedEventBuffer = true
	go c.historyLoop()
	return c, nil
}

func (c *Connector) Network() protocols.Network { return protocols.WhatsApp }

// Capabilities: no Presence — contacts' presence needs a subscription
// and our own "online", which Polyglot never announces (consent); a
// presence WhatsApp sends anyway is still reported.
func (c *Connector) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{
		E2EE: true, Verify: true, Receipts: true, ReadMarkers: true, Typing: true,
		Edits: true, Reactions: true, Retractions: true, Replies: true, Groups: true,
		Attachments: true, MaxBody: 65536,
	}
}

func (c *Connector) Events() <-chan protocols.Event { return c.events }

// PeerEncryption: WhatsApp encrypts every message end to end (Signal
// protocol); a contact whose security code the user compared is verified
// (securitycode.go). A group counts as unverified.
func (c *Connector) PeerEncryption(peer protocols.Address) protocols.Encryption {
	j, err := ParseAddress(peer.ID)
	if err != nil {
		return protocols.EncE2EE
	}
	return c.peerClass(j)
}

// Linked reports whether the store holds a linked device.
func (c *Connector) Linked() bool { return c.cli.Store.ID != nil }

// ErrNotLinked is Connect's answer when the store holds no linked device
// (never linked, or WhatsApp logged it out and whatsmeow deleted it).
var ErrNotLinked = errors.New("not linked to a phone")

// linkError is an auth failure whose text is what the accounts screen
// shows (Detail), not "the server rejected the password".
type linkError struct {
	detail string
	cause  error // what else it is (ErrWrongStoreKey), if anything
}

func (e *linkError) Error() string  { return e.detail }
func (e *linkError) Detail() string { return e.detail }
func (e *linkError) Unwrap() []error {
	if e.cause != nil {
		return []error{protocols.ErrAuthFailed, ErrNotLinked, e.cause}
	}
	return []error{protocols.ErrAuthFailed, ErrNotLinked}
}

// loginNeeded reads after the account state "login needed".
func loginNeeded(why string) error {
	return &linkError{detail: "link again with `polyglot account add whatsapp`: " + why}
}

// Connect connects and returns once WhatsApp accepted the session.
func (c *Connector) Connect(ctx context.Context) error {
	if !c.Linked() {
		return loginNeeded("this device is not linked")
	}
	wait := make(chan error, 1)
	c.mu.Lock()
	c.waiting = wait
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiting = nil
		c.mu.Unlock()
	}()
	// whatsmeow ties the socket's life to the context it connects with:
	// that is the connector's, and ctx only bounds the wait.
	dialed := make(chan error, 1)
	go func() { dialed <- c.cli.ConnectContext(c.ctx) }()
	select {
	case err := <-dialed:
		if err != nil {
			return fmt.Errorf("connecting to WhatsApp: %w", err)
		}
	case <-ctx.Done():
		go c.cli.Disconnect()
		return fmt.Errorf("WhatsApp's servers did not answer in time: %w", ctx.Err())
	case <-c.closed:
		return protocols.ErrNotConnected
	}
	select {
	case err := <-wait:
		if err != nil {
			c.cli.Disconnect()
			return err
		}
	case <-ctx.Done():
		c.cli.Disconnect()
		return fmt.Errorf("WhatsApp did not accept the session in time: %w", ctx.Err())
	case <-c.closed:
		return protocols.ErrNotConnected
	}
	c.mu.Lock()
	c.online = true
	c.mu.Unlock()
	return nil
}

// settle reports a connection outcome: to a waiting Connect while
// connecting, else as a ConnectionEvent.
func (c *Connector) settle(ev protocols.ConnectionEvent) {
	c.mu.Lock()
	wait := c.waiting
	if ev.State != protocols.ConnOnline && ev.State != protocols.ConnConnecting {
		c.online = false
	}
	c.mu.Unlock()
	if wait != nil && ev.State != protocols.ConnConnecting {
		var err error
		if ev.State != protocols.ConnOnline {
			err = ev.Err
			if err == nil {
				err = errors.New(ev.Detail)
			}
		}
		select {
		case wait <- err:
			return
		default:
		}
	}
	c.emit(ev)
}

func (c *Connector) emit(ev protocols.Event) {
	select {
	case c.events <- ev:
	case <-c.closed:
	}
}

func (c *Connector) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online && c.cli.IsConnected()
}

// Close disconnects and closes the store.
func (c *Connector) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		c.cancel()
		c.cli.Disconnect()
		c.cli.RemoveEventHandlers()
		err = c.st.close()
	})
	return err
}

// Logout unlinks this device from the phone (it disappears from the
// phone's linked devices) and deletes the device store.
func (c *Connector) Logout(ctx context.Context) error {
	if !c.Linked() {
		return nil
	}
	if !c.connected() {
		// Bounded by ctx, as Connect is: an unanswered dial must not hold
		// up the removal.
		if err := c.Connect(ctx); err != nil {
			return fmt.Errorf("unlinking from WhatsApp (unlink it on the phone instead): %w", err)
		}
	}
	if err := c.cli.Logout(ctx); err != nil {
		return fmt.Errorf("unlinking from WhatsApp (unlink it on the phone instead): %w", err)
	}
	return nil
}

// clientOutdated answers a 405 (client outdated) once per connector: fetch
// WhatsApp Web's current version, use it, and connect again. The flag is
// set before the server's disconnect is handled, which the retry covers.
func (c *Connector) clientOutdated() {
	c.mu.Lock()
	again := c.retried
	c.retried = true
	c.updating = !again
	c.mu.Unlock()
	go c.updateVersion(again)
}

func (c *Connector) updateVersion(again bool) {
	defer func() {
		c.mu.Lock()
		c.updating = false
		c.mu.Unlock()
	}()
	if again {
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline,
			Err:    errors.New("WhatsApp refuses this client version (405) even after updating it: update Polyglot"),
			Detail: "WhatsApp refuses this client version (405) even after updating it: update Polyglot"})
		return
	}
	latest := c.cfg.LatestVersion
	if latest == nil {
		latest = func(ctx context.Context) (*wastore.WAVersionContainer, error) {
			return whatsmeow.GetLatestVersion(ctx, &http.Client{Timeout: 15 * time.Second})
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	v, err := latest(ctx)
	if err != nil {
		d := "WhatsApp says this client version is outdated (405), and fetching the current one failed: " + err.Error()
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: errors.New(d), Detail: d})
		return
	}
	wastore.SetWAVersion(*v)
	c.log.Info().Str("version", v.String()).Msg("WhatsApp client version updated after 405; connecting again")
	if err := c.reconnect(ctx); err != nil {
		d := "connecting again after a client version update: " + err.Error()
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: errors.New(d), Detail: d})
	}
}
