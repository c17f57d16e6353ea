package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"

	"polyglot/accounts"
	"polyglot/internal/qrblock"
	"polyglot/protocols"
	"polyglot/protocols/whatsapp"
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
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if phone != "" {
		if id := accounts.DefaultID(protocols.WhatsApp, "+"+phone); hasAccount(cfg, id) {
			return withCode(exitUsage, fmt.Errorf("%w: %q", accounts.ErrExists, id))
		}
	}

	// The device store is made in a scratch directory and moved under the
	// account's directory only once the phone confirmed.
	tmp, err := os.MkdirTemp(a.paths.Data, ".whatsapp-link-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	lo := whatsapp.LinkOptions{
		DBPath: filepath.Join(tmp, "whatsapp.db"),
		Phone:  phone,
		Logger: a.log,
	}
	screen := newQRScreen(a.io.out, isTerminalWriter(a.io.out))
	defer screen.stop()
	lo.QR = screen.show
	lo.PairCode = func(code string) {
		fmt.Fprintf(a.io.out, "On the phone with +%s: WhatsApp → Settings → Linked devices → Link a device →\n"+
			"Link with phone number instead, and type this code:\n\n    %s\n\nWaiting for the phone… (ctrl+c to stop)\n", phone, code)
	}
	if path := os.Getenv(testQREnv); path != "" {
		codes, err := testQRCodes(ctx, path, os.Getenv(testQREveryEnv))
		if err != nil {
			return withCode(exitUsage, err)
		}
		lo.Codes = codes
	}
	if phone == "" {
		fmt.Fprintln(a.io.err, "connecting to WhatsApp for a QR code…")
	} else {
		fmt.Fprintf(a.io.err, "connecting to WhatsApp for a pairing code for +%s…\n", phone)
	}
	jid, err := whatsapp.Link(ctx, lo)
	screen.stop()
	if err != nil {
		if errors.Is(err, whatsapp.ErrUnreachable) {
			return withCode(exitUnavailable, fmt.Errorf("%w; check this computer's internet connection (nothing was saved)", err))
		}
		return fmt.Errorf("%w (nothing was saved)", err)
	}

	o.address = "+" + jid.User
	acc := o.account()
	if hasAccount(cfg, acc.ID) {
		return withCode(exitUsage, fmt.Errorf("%w: %q (the phone shows a new linked device; remove it there)", accounts.ErrExists, acc.ID))
	}
	dir := a.paths.AccountDir(acc.ID)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("keeping the linked device: %w", err)
	}
	ks, err := a.openKeystore(cfg)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	m, err := a.newManager(cfg, ks, nil)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	fmt.Fprintf(a.io.err, "linked to +%s; checking the session…\n", jid.User)
	added, err := m.AddWithSecrets(ctx, acc, nil)
	if err != nil {
		os.RemoveAll(dir)
		var le *accounts.LoginError
		if errors.As(err, &le) && le.Reason == accounts.ReasonAuth {
			return withCode(exitAuth, err)
		}
		return err
	}
	fmt.Fprintf(a.io.out, "added %s (%s); the phone lists this computer under Linked devices\n", added.ID, added.Network)
	return nil
}

func hasAccount(cfg *accounts.Config, id string) bool {
	for _, acc := range cfg.Accounts {
		if acc.ID == id || accounts.DefaultID(acc.Network, acc.Address) == id {
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
