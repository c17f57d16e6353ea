package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"polyglot/config"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"polyglot/accounts"
	"polyglot/inbox"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/protocols/whatsapp"
	"polyglot/remote"
	"polyglot/tui"
)

// profileDB is the store of the user's real accounts.
const profileDB = "polyglot.db"

// runtime is a started client: store, keystore and account supervisors.
type runtime struct {
	inbox    *inbox.Inbox
	keys     keystore.Store
	accounts *accounts.Manager
	cancel   context.CancelFunc
	// unlock gives the data dir up on stop (the runtime took it).
	unlock func()
	// shared: the core's runtime lent to a command it runs; stop leaves
	// it running.
	shared bool
}

func (r *runtime) stop() {
	if r.shared {
		return
	}
	if r.unlock != nil {
		defer r.unlock()
	}
	if r.accounts != nil {
		r.accounts.Stop()
	}
	r.cancel()
	_ = r.inbox.Close()
}

// openKeystore unlocks the secrets once per run: POLYGLOT_PASSPHRASE_FILE
// for scripts, else a prompt on the terminal.
// Whoever opens it owns the data dir: two processes writing the secrets
// file would lose what one of them added.
func (a *app) openKeystore(cfg *config.Config) (keystore.Store, error) {
	if err := a.ownDataDir(": it holds the keystore and the accounts; change accounts from one of its screens (polyglot attach, then A), or stop it first"); err != nil {
		return nil, err
	}
	ks, err := keystore.Open(keystore.Options{
		Dir:            a.paths.Data,
		Backend:        cfg.Keystore,
		PassphraseFile: os.Getenv("POLYGLOT_PASSPHRASE_FILE"),
		Passphrase:     promptPassphrase,
		Logger:         &a.log,
	})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return ks, nil
}

// promptPassphrase asks on the controlling terminal, without echo.
func promptPassphrase(confirm bool) ([]byte, error) {
	intro := ""
	if confirm {
		intro = "Polyglot keeps your passwords and tokens in a file encrypted with a passphrase.\n"
	}
	p, err := askTTY(intro, "Keystore passphrase: ", confirm)
	if errors.Is(err, errNoTTY) {
		return nil, fmt.Errorf("%w to ask for the keystore passphrase: set POLYGLOT_PASSPHRASE_FILE", err)
	}
	return p, err
}

var errNoTTY = errors.New("no terminal")

// askTTY prints intro and asks for a secret on the controlling terminal
// without echo; twice asks again and refuses a mismatch or an empty one.
func askTTY(intro, prompt string, twice bool) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errNoTTY
	}
	defer tty.Close()
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return b, err
	}
	fmt.Fprint(tty, intro)
	p, err := ask(prompt)
	if err != nil || !twice {
		return p, err
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase refused")
	}
	again, err := ask("Repeat passphrase: ")
	if err != nil {
		return nil, err
	}
	if string(again) != string(p) {
		return nil, errors.New("the two passphrases differ")
	}
	return p, nil
}

// newManager builds the account manager over the keystore; sink and
// attacher may be nil for commands that only edit accounts.
func (a *app) newManager(cfg *config.Config, ks keystore.Store, in *inbox.Inbox) (*accounts.Manager, error) {
	opts := accounts.Options{
		Paths:      a.paths,
		ConfigFile: a.paths.ConfigFile(),
		Keystore:   ks,
		Backoff:    a.backoff,
		Logger:     &a.log,
		Registry:   registry(a.log, func(protocols.Address) bool { return false }),
	}
	if in != nil {
		opts.Registry = registry(a.log, in.Accepted)
		opts.Sink = func(account string, ev protocols.Event) {
			if err := in.Ingest(account, ev); err != nil {
				a.log.Warn().Err(err).Str("account", account).Msg("ingest")
			}
		}
		opts.Attacher = in
	}
	return accounts.New(cfg, opts)
}

// startClient opens store and keystore and starts every enabled account.
// Inside a running core it is the core's own (see core.go); elsewhere
// this process must own the data dir, or no second set of connections is
// made.
func (a *app) startClient(ctx context.Context, cfg *config.Config) (*runtime, error) {
	if rt := a.hosted; rt != nil {
		return rt, nil
	}
	owned := a.owner != nil || a.lock != nil
	if err := a.ownDataDir("and is not answering yet; try again in a moment"); err != nil {
		return nil, err
	}
	ks, err := a.openKeystore(cfg)
	if err != nil {
		return nil, err
	}
	in, err := a.openClientInbox(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m, err := a.startAccounts(ctx, cfg, ks, in)
	if err != nil {
		cancel()
		in.Close()
		return nil, err
	}
	rt := &runtime{inbox: in, keys: ks, accounts: m, cancel: cancel}
	if !owned {
		rt.unlock = a.releaseDataDir // the data dir is free again when it stops
	}
	return rt, nil
}

// connectForCommand starts the accounts for a one-shot command (send,
// contact find) and waits until they settled or ctx ends; a refused login
// is exitAuth. The caller stops the runtime.
func (a *app) connectForCommand(ctx context.Context, cfg *config.Config) (*runtime, error) {
	if len(cfg.Accounts) == 0 {
		return nil, withCode(exitCannot, errors.New("no account configured: add one with `polyglot account add`"))
	}
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rt.waitSettled(ctx)
	if err := rt.authFailure(); err != nil {
		rt.stop()
		return nil, withCode(exitAuth, err)
	}
	return rt, nil
}

// openClientInbox opens the store (it holds no secret) and tells it about
// the configured accounts, so their routes rank and sends queue before
// any of them connects.
func (a *app) openClientInbox(cfg *config.Config) (*inbox.Inbox, error) {
	in, err := a.openInbox(profileDB)
	if err != nil {
		return nil, err
	}
	for _, acc := range cfg.Accounts {
		if err := in.SetReachability(acc.ID, reachability(acc.Reachability)); err != nil {
			in.Close()
			return nil, err
		}
		in.RegisterAccount(acc.ID, acc.Network, linkFloor(acc))
	}
	return in, nil
}

// startAccounts starts a supervisor for every enabled account over the
// unlocked keystore; the caller stops the Manager.
func (a *app) startAccounts(ctx context.Context, cfg *config.Config, ks keystore.Store, in *inbox.Inbox) (*accounts.Manager, error) {
	m, err := a.newManager(cfg, ks, in)
	if err != nil {
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// linkFloor is the least class an account's messages get, known while it
// is offline: verified TLS on XMPP, unless certificate checks are off; end
// to end on WhatsApp, which has no other kind.
func linkFloor(acc config.Account) protocols.Encryption {
	if acc.Network == protocols.XMPP && !acc.InsecureTLS {
		return protocols.EncTransport
	}
	if acc.Network == protocols.WhatsApp {
		return protocols.EncE2EE // every WhatsApp message is end-to-end encrypted
	}
	return protocols.EncNone
}

func reachability(r config.Reachability) inbox.Reachability {
	switch r {
	case config.ReachContacts:
		return inbox.ContactsOnly
	case config.ReachOwnServer:
		return inbox.OwnServerOnly
	}
	return inbox.Everyone
}

// waitSettled waits until no enabled account is still connecting (online,
// backing off or auth failed), or ctx ends.
func (r *runtime) waitSettled(ctx context.Context) {
	updates, unsubscribe := r.accounts.Subscribe()
	defer unsubscribe()
	for {
		if r.settled() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-updates:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// settled: every account is online, refused, disabled, or has failed to
// connect twice. One failure is given its retry (due within a few seconds)
// so a blip does not queue a script's message.
func (r *runtime) settled() bool {
	// The supervisor says online a moment before the inbox has the
	// account's "online" event; a send routed in between would be queued.
	heard := map[string]bool{}
	if r.inbox != nil {
		for _, st := range r.inbox.AccountStates() {
			heard[st.Account] = st.State == protocols.ConnOnline
		}
	}
	for _, st := range r.accounts.Statuses() {
		switch {
		case st.State == accounts.StateConnecting, st.State == accounts.StateStopped:
			return false
		case st.State == accounts.StateOnline && r.inbox != nil && !heard[st.Account]:
			return false
		case st.State == accounts.StateBackingOff && st.Attempt < 2 && time.Until(st.NextRetry) < 5*time.Second:
			return false
		}
	}
	return true
}

// authFailure reports the first account whose login was refused.
func (r *runtime) authFailure() error {
	for _, st := range r.accounts.Statuses() {
		if st.State == accounts.StateAuthFailed {
			return errors.New(authProblem(st))
		}
	}
	return nil
}

// authProblem says why an account cannot log in and how to fix it: a
// password missing from the keystore is not a refused login.
func authProblem(st accounts.Status) string {
	if st.NoSecret {
		return fmt.Sprintf("%s has no password in the keystore, so it cannot log in (nothing was sent to the server); "+
			"enter it in polyglot: press A, select the account, press L", st.Account)
	}
	return fmt.Sprintf("%s: login refused: %s (fix it with `polyglot account remove %s`, then `polyglot account add %s %s` with the right password)",
		st.Account, st.Detail, st.Account, st.Network, st.Address)
}

// runClient runs the TUI over the profile's accounts. The first frame does
// not wait for the keystore: when nothing has to be typed (a passphrase
// file or the OS keyring), the inbox is drawn at once and the keystore
// unlocks (scrypt: a second or more) and the accounts start behind it. A
// prompt needs the terminal before the TUI takes it, so then the TUI
// starts right after the prompt.
func (a *app) runClient(ctx context.Context, cfg *config.Config) error {
	if err := a.checkStartup(cfg, false); err != nil {
		return err
	}
	// A core already runs (serve, or polyglot in another terminal): this
	// terminal becomes one more of its screens.
	if c, err := a.dialCore(ctx, "tui"); err == nil {
		return a.attach(ctx, c)
	} else if !errors.Is(err, remote.ErrNoCore) {
		return err
	}
	// Else this process is the core: a `polyglot send` beside it runs here.
	host, err := a.hostCore(ctx, "tui", cfg)
	if err != nil {
		return err
	}
	defer host.close()
	if !unlocksUnattended(cfg) {
		rt, err := a.startClient(ctx, cfg)
		if err != nil {
			return err
		}
		defer rt.stop()
		host.setRuntime(rt, rt.control(a))
		return a.runTUI(ctx, cfg, rt.inbox, rt.control(a))
	}
	in, err := a.openClientInbox(cfg)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(ctx)
	late := a.unlockInBackground(ctx, cfg, in)
	go func() {
		<-late.done
		if v, _ := late.ready(); v != nil {
			late.mu.Lock()
			ks := late.keys
			late.mu.Unlock()
			host.setRuntime(&runtime{inbox: in, keys: ks, accounts: v.m}, late)
		}
	}()
	err = a.runTUI(ctx, cfg, in, late)
	cancel()
	// A keystore that failed to unlock is the exit code, even when the
	// user quit without reading the screen.
	if uerr := late.stop(); err == nil {
		err = uerr
	}
	return err
}

// unlocksUnattended: the keystore opens without asking anyone.
func unlocksUnattended(cfg *config.Config) bool {
	return os.Getenv("POLYGLOT_PASSPHRASE_FILE") != "" || strings.EqualFold(strings.TrimSpace(cfg.Keystore), keystore.BackendKeyring)
}

// control is what the TUI's accounts screen drives.
func (r *runtime) control(a *app) statusView {
	return statusView{m: r.accounts, in: r.inbox, networks: addableNetworks(a), log: a.log, app: a}
}

// addableNetworks lists the networks the add form can add: this build has
// a connector for them (WhatsApp links by QR or pairing code, which the
// form shows too).
func addableNetworks(a *app) []protocols.Network {
	reg := registry(a.log, func(protocols.Address) bool { return false })
	var out []protocols.Network
	for _, n := range protocols.Networks {
		if reg[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// statusView shows the supervisors' richer states in the status bar and
// lets the accounts screen change and add accounts through the Manager.
type statusView struct {
	m *accounts.Manager
	// in learns about accounts added at run time, as startClient tells it
	// about the configured ones.
	in       *inbox.Inbox
	networks []protocols.Network
	log      zerolog.Logger
	// app links WhatsApp devices (its data dir, logger and test seam).
	app *app
}

var (
	_ tui.AccountsControl = statusView{}
	_ tui.AccountsAdder   = statusView{}
	_ tui.AccountsLinker  = statusView{}
	_ tui.AccountsRetrier = statusView{}
)

func (v statusView) AccountStatuses() []tui.AccountStatus {
	sts := v.m.Statuses()
	out := make([]tui.AccountStatus, 0, len(sts))
	for _, st := range sts {
		// The TUI counts down to NextRetry itself, against its own clock.
		out = append(out, tui.AccountStatus{Account: st.Account, Network: st.Network, Address: st.Address,
			State: screenState(st.State), Detail: st.Detail, NextRetry: st.NextRetry})
	}
	return out
}

// screenState is the supervisor's state as the screens name it.
func screenState(s accounts.State) tui.AccountState {
	switch s {
	case accounts.StateConnecting:
		return tui.AccountConnecting
	case accounts.StateOnline:
		return tui.AccountOnline
	case accounts.StateBackingOff:
		return tui.AccountRetrying
	case accounts.StateAuthFailed:
		return tui.AccountLoginNeeded
	case accounts.StateDisabled:
		return tui.AccountDisabled
	}
	return tui.AccountOffline
}

func (v statusView) Enable(id string) error                 { return v.m.Enable(id) }
func (v statusView) Disable(id string) error                { return v.m.Disable(id) }
func (v statusView) Remove(id string) error                 { return v.remove(id) }
func (v statusView) Relogin(id string, secret []byte) error { return v.m.Relogin(id, secret) }
func (v statusView) ReconnectNow() int                      { return v.m.ReconnectNow() }

func (v statusView) AddNetworks() []protocols.Network { return v.networks }

// CheckAdd applies Account.Validate (the config.toml rules `account add`
// also meets) to the account the form describes.
func (v statusView) CheckAdd(req tui.AddAccountRequest) error {
	acc := addRequestOptions(req).account()
	if err := acc.Validate(); err != nil {
		return fieldError(err)
	}
	if _, ok := v.m.Account(acc.ID); ok {
		return &tui.AddFieldError{Field: "address", Err: fmt.Errorf("%s is already added", acc.ID)}
	}
	return nil
}

// AddAccount is `polyglot account add` from the TUI: Manager.Add checks
// the login, saves, and starts the supervisor (its Sink and Attacher feed
// this inbox). The inbox is then told about the account the way
// startClient tells it about configured ones, so its routes rank while it
// is offline; until then nothing is lost, as ingesting needs no
// registration and reachability defaults to everyone.
func (v statusView) AddAccount(ctx context.Context, req tui.AddAccountRequest, secret []byte) (string, error) {
	if req.Network == protocols.WhatsApp {
		return "", errWhatsAppFormLink
	}
	acc, err := v.m.Add(ctx, addRequestOptions(req).account(), secret)
	var le *accounts.LoginError
	switch {
	case errors.Is(err, accounts.ErrExists):
		return "", &tui.AddFieldError{Field: "address", Err: err}
	case errors.As(err, &le):
		// The form puts the cursor where the fix goes.
		return "", &tui.AddFieldError{Field: loginErrorField(le.Reason), Err: err}
	case err != nil:
		return "", err
	}
	v.registered(acc)
	return acc.ID, nil
}

// remove removes the account; once it is gone from the config the inbox
// forgets it as a route (nothing queues on it any more), and every screen
// of the core re-reads the account list.
func (v statusView) remove(id string) error {
	err := v.m.Remove(id)
	if v.in != nil {
		if _, still := v.m.Account(id); !still {
			v.in.ForgetAccount(id)
		}
		v.in.AccountsChanged()
	}
	return err
}

// registered tells the inbox about an account added at run time.
func (v statusView) registered(acc config.Account) {
	if v.in == nil {
		return
	}
	if err := v.in.SetReachability(acc.ID, reachability(acc.Reachability)); err != nil {
		v.log.Warn().Err(err).Str("account", acc.ID).Msg("storing reachability of an added account")
	}
	v.in.RegisterAccount(acc.ID, acc.Network, linkFloor(acc))
}

// errWhatsAppFormLink: WhatsApp takes no password; the form links it.
var errWhatsAppFormLink = errors.New("WhatsApp links to your phone by QR code or pairing code, not a password")

// LinkAccount is `polyglot account add whatsapp [--phone]` from the TUI's
// form: the same link (test seam included) and, once the phone confirmed,
// the account is added to the running Manager, which connects it.
func (v statusView) LinkAccount(ctx context.Context, req tui.LinkRequest, prompt func(tui.LinkPrompt)) (string, error) {
	if req.Network != protocols.WhatsApp || v.app == nil {
		return "", &tui.AddFieldError{Field: "network", Err: fmt.Errorf("%s accounts are not linked to a phone", req.Network)}
	}
	phone := ""
	if req.Phone != "" {
		if phone = whatsapp.PhoneDigits(req.Phone); phone == "" {
			return "", &tui.AddFieldError{Field: "phone", Err: fmt.Errorf("%q is not a phone number: write it in international form, e.g. +4915123456789", req.Phone)}
		}
		if id := config.DefaultID(protocols.WhatsApp, "+"+phone); v.has(id) {
			return "", &tui.AddFieldError{Field: "phone", Err: fmt.Errorf("%s is already added", id)}
		}
	}
	qr := func(code string, valid time.Duration) { prompt(tui.LinkPrompt{QR: code, Valid: valid}) }
	pair := func(code string) { prompt(tui.LinkPrompt{PairCode: code}) }
	dev, err := v.app.linkWhatsApp(ctx, phone, qr, pair)
	if err != nil {
		return "", err
	}
	defer dev.discard()
	o := &addOptions{network: protocols.WhatsApp, address: dev.address()}
	acc := o.account()
	if v.has(acc.ID) {
		return "", fmt.Errorf("%w: %q (the phone shows a new linked device; remove it there)", accounts.ErrExists, acc.ID)
	}
	added, err := dev.adopt(ctx, v.m, acc)
	if err != nil {
		return "", err
	}
	v.registered(added)
	return added.ID, nil
}

// has says an account with this ID (or address) is configured.
func (v statusView) has(id string) bool {
	if _, ok := v.m.Account(id); ok {
		return true
	}
	return hasAccount(v.m.Config(), id)
}

// loginErrorField is the form field a refused login most likely needs
// changed: the password, the server override, or the CA file.
func loginErrorField(r accounts.Reason) string {
	switch r {
	case accounts.ReasonTLS:
		return "ca_file"
	case accounts.ReasonUnreachable, accounts.ReasonTimeout:
		return "server"
	}
	return "password"
}

func addRequestOptions(req tui.AddAccountRequest) *addOptions {
	return &addOptions{network: req.Network, address: req.Address, server: req.Server, caFile: req.CAFile}
}

// fieldError names the form field of Validate's first problem; its
// messages start with the config key ("address: …", "ca_file: …").
func fieldError(err error) error {
	first := err
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		first = j.Unwrap()[0]
	}
	key, _, _ := strings.Cut(first.Error(), ": ")
	field := key
	switch key {
	case "network", "address", "server", "ca_file":
	case "insecure_tls":
		field = "server"
	default:
		field = "address"
	}
	return &tui.AddFieldError{Field: field, Err: errors.New(strings.TrimPrefix(err.Error(), key+": "))}
}
