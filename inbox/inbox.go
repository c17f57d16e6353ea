package inbox

import (
	"context"
	"database/sql"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"polyglot/protocols"
)

// Inbox is the headless core. All methods are safe for concurrent use.
type Inbox struct {
	db   *sql.DB
	opts Options
	log  zerolog.Logger

	// wmu serializes write transactions: SQLite has one writer anyway and
	// queuing here avoids SQLITE_BUSY churn.
	wmu sync.Mutex
	// stmts are the ingest statements, prepared once per connection.
	stmts stmtCache

	mu       sync.Mutex
	conns    map[string]protocols.Connector
	states   map[string]AccountState
	typing   map[ConversationID]typingEntry
	inflight map[MessageID]bool
	// fresh are messages this process stored and has not yet handed to a
	// connector: their first attempt cannot be a duplicate. Any other
	// attempt is a resend (see protocols.OutgoingMessage.Resend).
	fresh  map[MessageID]bool
	outbox map[string]*outboxRun // per account
	// known are the user's configured accounts, so a person stays routable
	// (and messages queue) while an account has no live connector.
	known  map[string]knownAccount
	verifs verifications
	// lost marks accounts where an event failed to be stored since the
	// connector's last (re)connect: their checkpoints are not committed,
	// so the connector fetches that range again.
	lost map[string]bool
	// history is each account's first-login history fill while it runs.
	history map[string]HistoryProgress
	// ups are the files going up now (Uploads).
	ups uploads
	// older is where each chat's history continues on the server
	// (LoadOlder), keyed by account and chat.
	older  map[chatKey]olderCursor
	subs   map[*subscriber]struct{}
	closed bool
	// reactCaps: the senders whose reaction cap was already logged.
	reactCaps reactionCaps
	// bridge is the client-side bridge's links and worker state.
	bridge bridgeRuntime
	// gramsDone is closed once older messages are all in the character
	// index (grams.go); nil for a read-only store.
	gramsDone chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type typingEntry struct {
	until time.Time
	timer *time.Timer
}

// Open opens (creating and migrating) the store at path.
func Open(path string, opts Options) (*Inbox, error) {
	opts.fill()
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	in := newInbox(db, opts)
	if err := in.startBackfill(); err != nil {
		in.Close()
		return nil, err
	}
	in.loadBridges()
	in.wg.Add(1)
	go in.bridgeLoop()
	in.kickBridge()
	return in, nil
}

func newInbox(db *sql.DB, opts Options) *Inbox {
	ctx, cancel := context.WithCancel(context.Background())
	return &Inbox{
		db:       db,
		opts:     opts,
		log:      opts.Logger,
		conns:    map[string]protocols.Connector{},
		states:   map[string]AccountState{},
		typing:   map[ConversationID]typingEntry{},
		inflight: map[MessageID]bool{},
		fresh:    map[MessageID]bool{},
		lost:     map[string]bool{},
		history:  map[string]HistoryProgress{},
		older:    map[chatKey]olderCursor{},
		outbox:   map[string]*outboxRun{},
		known:    map[string]knownAccount{},
		verifs:   verifications{},
		subs:     map[*subscriber]struct{}{},
		bridge:   bridgeRuntime{kick: make(chan struct{}, 1), paused: map[int64]string{}},
		ctx:      ctx,
		cancel:   cancel,
	}
}

// Close stops background sends, closes subscriptions and the store.
// Queued messages stay queued for the next Open.
func (in *Inbox) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	for _, t := range in.typing {
		t.timer.Stop()
	}
	subs := in.subs
	in.subs = map[*subscriber]struct{}{}
	in.mu.Unlock()
	in.cancel()
	in.wg.Wait()
	for s := range subs {
		s.close()
	}
	in.stmts.close()
	return in.db.Close()
}

// Attach registers a connector the router may send through for account.
// The account counts as online only after a ConnectionEvent says so; if it
// already did, its outbox resumes now.
func (in *Inbox) Attach(account string, c protocols.Connector) {
	in.mu.Lock()
	in.conns[account] = c
	st, ok := in.states[account]
	if !ok {
		in.states[account] = AccountState{Account: account, Network: c.Network(), State: protocols.ConnOffline}
	} else {
		st.Network = c.Network()
		in.states[account] = st
	}
	online := ok && st.State == protocols.ConnOnline
	in.mu.Unlock()
	in.publish(Change{Kind: ChangeAccounts})
	if online {
		in.kickOutbox(account)
	}
}

// knownAccount is a configured account as the router sees it offline.
type knownAccount struct {
	network protocols.Network
	floor   protocols.Encryption // the class its link gives at least (e.g. verified TLS)
}

// RegisterAccount declares one of the user's accounts before (or without)
// a connector: while it is offline its routes still rank, with the last
// known class of each identity but at least floor, and messages queue on it.
func (in *Inbox) RegisterAccount(account string, n protocols.Network, floor protocols.Encryption) {
	in.mu.Lock()
	in.known[account] = knownAccount{network: n, floor: floor}
	in.mu.Unlock()
}

// ForgetAccount undoes RegisterAccount for an account removed at run
// time: it is no route any more, not even an offline one to queue on.
func (in *Inbox) ForgetAccount(account string) {
	in.mu.Lock()
	delete(in.known, account)
	in.mu.Unlock()
}

// AccountsChanged tells screens that account states changed outside the
// inbox (the keystore unlocking before any connector exists), so they
// re-read them.
func (in *Inbox) AccountsChanged() { in.publish(Change{Kind: ChangeAccounts}) }

// Detach forgets the connector of account; its routes disappear.
func (in *Inbox) Detach(account string) {
	in.mu.Lock()
	delete(in.conns, account)
	delete(in.states, account)
	delete(in.history, account)
	in.mu.Unlock()
	in.publish(Change{Kind: ChangeAccounts})
}

// AccountStates lists every attached or reported account, sorted by name.
func (in *Inbox) AccountStates() []AccountState {
	in.mu.Lock()
	out := make([]AccountState, 0, len(in.states))
	for _, s := range in.states {
		out = append(out, s)
	}
	in.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out
}

func (in *Inbox) connector(account string) (protocols.Connector, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.conns[account]
	if !ok {
		return nil, false
	}
	return c, in.states[account].State == protocols.ConnOnline
}

// setState records an account's link state; it reports whether the
// account just came online, and whether its state changed at all.
func (in *Inbox) setState(account string, ev protocols.ConnectionEvent, fallback protocols.Network) (wentOnline, changed bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	st, known := in.states[account]
	was := st.State
	st.Account = account
	if c, ok := in.conns[account]; ok {
		st.Network = c.Network()
	} else if st.Network == "" {
		st.Network = fallback
	}
	st.State = ev.State
	st.Detail = ev.Detail
	if st.Detail == "" && ev.Err != nil {
		st.Detail = ev.Err.Error()
	}
	in.states[account] = st
	return ev.State == protocols.ConnOnline && was != protocols.ConnOnline, !known || was != ev.State
}

// write runs fn in one write transaction.
func (in *Inbox) write(fn func(tx *sql.Tx) error) error {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	tx, err := in.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (in *Inbox) now() time.Time { return in.opts.Now() }

// --- typing (in memory only: it is worthless after a few seconds) ---

func (in *Inbox) setTyping(conv ConversationID, typing bool) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	old, had := in.typing[conv]
	if had {
		old.timer.Stop()
		delete(in.typing, conv)
	}
	if typing {
		// until is taken before the timer starts, so when it fires the
		// entry is due (else a timer firing promptly found it "not yet"
		// and typing never ended).
		exp := in.opts.TypingExpiry
		until := in.opts.Now().Add(exp)
		t := time.AfterFunc(exp, func() {
			in.mu.Lock()
			cur, ok := in.typing[conv]
			expired := ok && !in.opts.Now().Before(cur.until)
			if expired {
				delete(in.typing, conv)
			}
			in.mu.Unlock()
			if expired {
				in.publish(Change{Kind: ChangeTyping, Conversation: conv})
			}
		})
		in.typing[conv] = typingEntry{until: until, timer: t}
	}
	in.mu.Unlock()
	if had || typing {
		in.publish(Change{Kind: ChangeTyping, Conversation: conv})
	}
}

func (in *Inbox) isTyping(conv ConversationID) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, ok := in.typing[conv]
	return ok
}
