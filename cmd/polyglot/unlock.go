package main

import (
	"context"
	"errors"
	"polyglot/config"
	"sync"

	"polyglot/inbox"
	"polyglot/internal/errtext"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/tui"
)

// errNotUnlocked refuses account changes before the supervisors run.
var errNotUnlocked = errors.New("the keystore is still unlocking; try again in a moment")

// lateAccounts is the TUI's accounts view while the keystore unlocks in
// the background: every row says "unlocking" until the supervisors run,
// then it is their statusView. A failed unlock stays on screen ("locked",
// with the reason) and is returned by stop for the exit code; nothing is
// connected or written after it.
type lateAccounts struct {
	cfg      *config.Config
	in       *inbox.Inbox
	networks []protocols.Network
	done     chan struct{}

	mu   sync.Mutex
	keys keystore.Store // set once unlocked
	view *statusView    // set once the accounts started
	err  error          // why the keystore did not open
}

var (
	_ tui.AccountsControl = (*lateAccounts)(nil)
	_ tui.AccountsAdder   = (*lateAccounts)(nil)
	_ tui.AccountsLinker  = (*lateAccounts)(nil)
	_ tui.AccountsRetrier = (*lateAccounts)(nil)
	// The status bar shows history fills from the inbox.
	_ tui.HistoryReporter = (*inbox.Inbox)(nil)
)

// unlockInBackground opens the keystore and starts the accounts without
// holding up the caller; ctx ending stops the accounts (see stop).
func (a *app) unlockInBackground(ctx context.Context, cfg *config.Config, in *inbox.Inbox) *lateAccounts {
	l := &lateAccounts{cfg: cfg, in: in, networks: addableNetworks(a), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		view, err := l.start(ctx, a)
		if err != nil {
			a.log.Error().Str("reason", errtext.Of(err)).Msg("keystore did not unlock; accounts stay offline")
		}
		l.mu.Lock()
		l.view, l.err = view, err
		l.mu.Unlock()
		in.AccountsChanged()
	}()
	return l
}

func (l *lateAccounts) start(ctx context.Context, a *app) (*statusView, error) {
	ks, err := a.openKeystore(l.cfg)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, nil // the user quit while it unlocked: connect nothing
	}
	l.mu.Lock()
	l.keys = ks
	l.mu.Unlock()
	m, err := a.startAccounts(ctx, l.cfg, ks, l.in)
	if err != nil {
		return nil, err
	}
	return &statusView{m: m, in: l.in, networks: l.networks, log: a.log, app: a}, nil
}

// stop waits for the unlock to end (at most one key derivation), stops
// the accounts it started and returns why the keystore did not open.
func (l *lateAccounts) stop() error {
	<-l.done
	if l.view != nil {
		l.view.m.Stop()
	}
	return l.err
}

// ready is the supervisors' view, or the error to refuse changes with.
func (l *lateAccounts) ready() (*statusView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.view != nil:
		return l.view, nil
	case l.err != nil:
		return nil, l.err
	}
	return nil, errNotUnlocked
}

func (l *lateAccounts) AccountStatuses() []tui.AccountStatus {
	l.mu.Lock()
	view, failed := l.view, l.err
	l.mu.Unlock()
	if view != nil {
		return view.AccountStatuses()
	}
	out := make([]tui.AccountStatus, 0, len(l.cfg.Accounts))
	for _, acc := range l.cfg.Accounts {
		st := tui.AccountStatus{Account: acc.ID, Network: acc.Network, Address: acc.Address, State: tui.AccountUnlocking}
		switch {
		case !acc.Enabled:
			st.State = tui.AccountDisabled
		case failed != nil:
			st.State, st.Detail = tui.AccountLocked, errtext.Of(failed)+" — accounts stay offline"
		}
		out = append(out, st)
	}
	return out
}

func (l *lateAccounts) Enable(id string) error {
	return l.do(func(v *statusView) error { return v.Enable(id) })
}
func (l *lateAccounts) Disable(id string) error {
	return l.do(func(v *statusView) error { return v.Disable(id) })
}
func (l *lateAccounts) Remove(id string) error {
	return l.do(func(v *statusView) error { return v.Remove(id) })
}
func (l *lateAccounts) Relogin(id string, secret []byte) error {
	return l.do(func(v *statusView) error { return v.Relogin(id, secret) })
}

func (l *lateAccounts) ReconnectNow() int {
	if v, err := l.ready(); err == nil {
		return v.ReconnectNow()
	}
	return 0
}

func (l *lateAccounts) AddNetworks() []protocols.Network { return l.networks }

func (l *lateAccounts) CheckAdd(req tui.AddAccountRequest) error {
	return l.do(func(v *statusView) error { return v.CheckAdd(req) })
}

func (l *lateAccounts) AddAccount(ctx context.Context, req tui.AddAccountRequest, secret []byte) (string, error) {
	v, err := l.ready()
	if err != nil {
		return "", err
	}
	return v.AddAccount(ctx, req, secret)
}

func (l *lateAccounts) LinkAccount(ctx context.Context, req tui.LinkRequest, prompt func(tui.LinkPrompt)) (string, error) {
	v, err := l.ready()
	if err != nil {
		return "", err
	}
	return v.LinkAccount(ctx, req, prompt)
}

func (l *lateAccounts) do(f func(*statusView) error) error {
	v, err := l.ready()
	if err != nil {
		return err
	}
	return f(v)
}
