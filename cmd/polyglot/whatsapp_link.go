package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"polyglot/config"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"polyglot/accounts"
	"polyglot/internal/qrblock"
	"polyglot/protocols"
	"polyglot/protocols/whatsapp"
	"polyglot/remote"
)

// testQREnv names a file of QR codes (one per line) shown instead of
// WhatsApp's, each for testQREveryEnv (default 2s): a test seam, since no
// WhatsApp server can run in tests. The link then ends unlinked.
const (
	testQREnv      = "POLYGLOT_TEST_WHATSAPP_QR_FILE"
	testQREveryEnv = "POLYGLOT_TEST_WHATSAPP_QR_EVERY"
)

// accountAddWhatsApp links Polyglot as a device of the user's phone (QR
// code, or a pairing code with --phone), then adds the account. Nothing is
// written to config.toml or the account's directory until the phone
// confirmed; a failed link leaves no whatsapp.db behind.
func (a *app) accountAddWhatsApp(ctx context.Context, o *addOptions) error {
	if o.server != "" || o.caFile != "" || o.passwordFile != "" || o.tokenFile != "" || o.insecureTLS {
		return withCode(exitUsage, errors.New("WhatsApp accounts take no server, CA file, password or token: they link to your phone"))
	}
	if o.address != "" {
		// The account is the phone's number, learnt when it confirms.
		return withCode(exitUsage, errors.New("WhatsApp takes no ADDRESS: run `polyglot account add whatsapp` for a QR code, or add --phone +NUMBER for a code to type on the phone"))
	}
	phone := ""
	if o.phone != "" {
		if phone = whatsapp.PhoneDigits(o.phone); phone == "" {
			return withCode(exitUsage, fmt.Errorf("%q is not a phone number: write it in international form, e.g. +4915123456789", o.phone))
		}
	}
	rt := a.hosted
	if rt == nil {
		// A running core links the phone itself, its codes shown here,
		// and connects the account at once.
		if code, ok := runInCore(ctx, "account add", remote.Run{Args: o.coreArgs()}, a.io); ok {
			return ranInCoreErr(code)
		}
		// Else this process owns the data dir for the whole link: a core
		// started meanwhile could not let it save what the phone confirmed.
		// Taken already (a core still starting, another command): say so
		// before the user scans anything.
		if err := a.ownDataDir("and does not answer on its socket yet; try again in a moment"); err != nil {
			return err
		}
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if phone != "" {
		if id := config.DefaultID(protocols.WhatsApp, "+"+phone); hasAccount(cfg, id) {
			return withCode(exitUsage, fmt.Errorf("%w: %q", accounts.ErrExists, id))
		}
	}

	screen := newQRScreen(a.io.out, a.io.outIsTerminal())
	defer screen.stop()
	pair := func(code string) {
		fmt.Fprintf(a.io.out, "On the phone with +%s: WhatsApp → Settings → Linked devices → Link a device →\n"+
			"Link with phone number instead, and type this code:\n\n    %s\n\nWaiting for the phone… (ctrl+c to stop)\n", phone, qrblock.PairCode(code))
	}
	if phone == "" {
		fmt.Fprintln(a.io.err, "connecting to WhatsApp for a QR code…")
	} else {
		fmt.Fprintf(a.io.err, "connecting to WhatsApp for a pairing code for +%s…\n", phone)
	}
	dev, err := a.linkWhatsApp(ctx, phone, screen.show, pair)
	screen.stop()
	if err != nil {
		return err
	}
	defer dev.discard()

	o.address = dev.address()
	acc := o.account()
	if hasAccount(cfg, acc.ID) {
		return withCode(exitUsage, fmt.Errorf("%w: %q (the phone shows a new linked device; remove it there)", accounts.ErrExists, acc.ID))
	}
	var m *accounts.Manager
	if rt != nil {
		m = rt.accounts
	} else {
		ks, err := a.openKeystore(cfg)
		if err != nil {
			return err
		}
		if m, err = a.newManager(cfg, ks, nil); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.io.err, "linked to %s; checking the session…\n", o.address)
	added, err := dev.adopt(ctx, m, acc)
	if err != nil {
		var le *accounts.LoginError
		if errors.As(err, &le) && le.Reason == accounts.ReasonAuth {
			return withCode(exitAuth, err)
		}
		return err
	}
	fmt.Fprintf(a.io.out, "added %s (%s); the phone lists this computer under Linked devices\n", added.ID, added.Network)
	if rt != nil {
		statusView{m: rt.accounts, in: rt.inbox, log: a.log}.registered(added)
		rt.inbox.AccountsChanged()
		fmt.Fprintf(a.io.err, "the running Polyglot core (pid %d) connects it now\n", os.Getpid())
	}
	return nil
}

// linkedDevice is a device the phone confirmed, its store still in a
// scratch directory until adopt moves it under the account's directory.
type linkedDevice struct {
	jid   types.JID
	tmp   string
	key   []byte // the store key its whatsapp.db is sealed under
	paths config.Paths
}

func (d *linkedDevice) address() string { return "+" + d.jid.User }

// discard removes the scratch directory (nothing once adopted).
func (d *linkedDevice) discard() { os.RemoveAll(d.tmp) }

// adopt moves the device store under acc's directory and adds acc through
// m (which checks the session, saves config.toml and, if m runs, starts
// it). On failure the store is removed: the phone then lists a device
// that no longer exists, which it drops by itself.
func (d *linkedDevice) adopt(ctx context.Context, m *accounts.Manager, acc config.Account) (config.Account, error) {
	dir := d.paths.AccountDir(acc.ID)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return config.Account{}, err
	}
	if err := os.Rename(d.tmp, dir); err != nil {
		return config.Account{}, fmt.Errorf("keeping the linked device: %w", err)
	}
	// The store key reaches the keystore with the account, not before.
	added, err := m.AddWithSecrets(ctx, acc, map[string][]byte{whatsapp.StoreKeyKind: d.key})
	if err != nil {
		os.RemoveAll(dir)
		return config.Account{}, err
	}
	return added, nil
}

// linkWhatsApp runs one linking attempt, by QR code (qr is called with
// each) or, with phone (digits only), by pairing code (pair is called
// with it). The device store is made in a scratch directory, removed on
// any failure: nothing is written to config.toml or an account's
// directory here. No route to WhatsApp ends it within 15 s with an
// exitUnavailable error.
func (a *app) linkWhatsApp(ctx context.Context, phone string, qr func(string, time.Duration), pair func(string)) (*linkedDevice, error) {
	tmp, err := os.MkdirTemp(a.paths.Data, ".whatsapp-link-")
	if err != nil {
		return nil, err
	}
	key := whatsapp.NewStoreKey()
	lo := whatsapp.LinkOptions{
		DBPath:   filepath.Join(tmp, "whatsapp.db"),
		StoreKey: key,
		Phone:    phone,
		Logger:   a.log,
		QR:       qr,
		PairCode: pair,
	}
	if path := os.Getenv(testQREnv); path != "" {
		codes, err := testQRCodes(ctx, path, os.Getenv(testQREveryEnv))
		if err != nil {
			os.RemoveAll(tmp)
			return nil, withCode(exitUsage, err)
		}
		lo.Codes = codes
	}
	jid, err := whatsapp.Link(ctx, lo)
	if err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, whatsapp.ErrUnreachable) {
			return nil, withCode(exitUnavailable, fmt.Errorf("%w; check this computer's internet connection (nothing was saved)", err))
		}
		return nil, fmt.Errorf("%w (nothing was saved)", err)
	}
	return &linkedDevice{jid: jid, tmp: tmp, key: key, paths: a.paths}, nil
}

func hasAccount(cfg *config.Config, id string) bool {
	for _, acc := range cfg.Accounts {
		if acc.ID == id || config.DefaultID(acc.Network, acc.Address) == id {
			return true
		}
	}
	return false
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// qrScreen draws each QR code in half-blocks and, under it, how long it
// stays valid, counting down each second; a new code redraws the screen.
type qrScreen struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	until time.Time
	done  chan struct{}
	once  sync.Once
}

func newQRScreen(w io.Writer, tty bool) *qrScreen {
	s := &qrScreen{w: w, tty: tty, done: make(chan struct{})}
	if tty {
		go s.tick()
	}
	return s
}

func (s *qrScreen) show(code string, valid time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	s.until = time.Now().Add(valid)
	if s.tty {
		io.WriteString(s.w, "\x1b[H\x1b[2J")
	}
	io.WriteString(s.w, "Scan with the phone: WhatsApp → Settings → Linked devices → Link a device\n")
	lines, err := qrblock.Lines(code)
	if err != nil {
		io.WriteString(s.w, "WhatsApp sent a code too long to draw; wait for the next one\n")
	}
	for _, l := range lines {
		io.WriteString(s.w, l+"\n")
	}
	s.status()
}

// status writes the countdown line (in place on a terminal).
func (s *qrScreen) status() {
	left := time.Until(s.until).Round(time.Second)
	if left < 0 {
		left = 0
	}
	line := fmt.Sprintf("This code changes in %d s (ctrl+c to stop)", int(left/time.Second))
	if s.tty {
		fmt.Fprintf(s.w, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(s.w, line)
	}
}

func (s *qrScreen) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.mu.Lock()
			if !s.until.IsZero() {
				s.status()
			}
			s.mu.Unlock()
		}
	}
}

func (s *qrScreen) stop() {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.done)
		if s.tty && !s.until.IsZero() {
			io.WriteString(s.w, "\n")
		}
		s.mu.Unlock()
	})
}

// testQRCodes feeds the codes in path as WhatsApp's QR channel would,
// then ends the way an unscanned link ends.
func testQRCodes(ctx context.Context, path, every string) (<-chan whatsmeow.QRChannelItem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", testQREnv, err)
	}
	defer f.Close()
	var codes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			codes = append(codes, l)
		}
	}
	d := 2 * time.Second
	if every != "" {
		if d, err = time.ParseDuration(every); err != nil {
			return nil, fmt.Errorf("%s: %w", testQREveryEnv, err)
		}
	}
	ch := make(chan whatsmeow.QRChannelItem)
	go func() {
		defer close(ch)
		for _, c := range codes {
			select {
			case ch <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: c, Timeout: d}:
			case <-ctx.Done():
				return
			}
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		select {
		case ch <- whatsmeow.QRChannelTimeout:
		case <-ctx.Done():
		}
	}()
	return ch, nil
}
