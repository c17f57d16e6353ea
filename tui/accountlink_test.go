package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/internal/qrblock"
	"polyglot/protocols"
)

// fakeLinker is an adder that can link to a phone: each LinkAccount runs
// the test's script, which shows codes through prompt and waits for the
// test between them.
type fakeLinker struct {
	*fakeAdder
	script func(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error)
	reqs   chan LinkRequest
	ended  chan error // what each LinkAccount returned
}

func newFakeLinker(script func(context.Context, LinkRequest, func(LinkPrompt)) (string, error)) *fakeLinker {
	a := newFakeAdder()
	a.networks = append(a.networks, protocols.WhatsApp)
	return &fakeLinker{fakeAdder: a, script: script, reqs: make(chan LinkRequest, 4), ended: make(chan error, 4)}
}

func (f *fakeLinker) LinkAccount(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error) {
	f.reqs <- req
	id, err := f.script(ctx, req, prompt)
	if err == nil {
		f.mu.Lock()
		f.sts = append(f.sts, AccountStatus{Account: id, Address: strings.TrimPrefix(id, "whatsapp:"), Network: protocols.WhatsApp, State: AccountConnecting})
		f.mu.Unlock()
	}
	f.ended <- err
	return id, err
}

// nextLinkMsg delivers the link's next code or its end, as the program's
// the program would; the harness skips that command.
func nextLinkMsg(h *harness, s *linkSession) {
	h.t.Helper()
	got := make(chan tea.Msg, 1)
	go func() { got <- s.next() }()
	select {
	case msg := <-got:
		h.send(msg)
	case <-time.After(5 * time.Second):
		h.t.Fatal("the link produced nothing within 5 s")
	}
}

// openWhatsApp opens the form on a tall screen and picks WhatsApp.
func openWhatsApp(t *testing.T, ctl AccountsControl, clk *clock) *harness {
	t.Helper()
	h := accountsHarness(t, ctl, nil, clk)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 50})
	h.keys("A", "a")
	shiftTab(h) // onto the network row
	h.keys("right", "right")
	h.mustShow("[WhatsApp]", "link by", "[QR code]", " phone number ", "nothing is saved until the phone confirms")
	h.mustNotShow("password", "CA file", "WhatsApp✗", "not available")
	return h
}

func qrText(t *testing.T, code string) []string {
	t.Helper()
	lines, err := qrblock.Lines(code)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestAddFormLinksWhatsAppByQRCode(t *testing.T) {
	first, second := "2@first-code,AAAA,BBBB,CCCC", "2@second-code,DDDD,EEEE,FFFF"
	step := make(chan struct{})
	ctl := newFakeLinker(func(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error) {
		prompt(LinkPrompt{QR: first, Valid: 60 * time.Second})
		<-step
		prompt(LinkPrompt{QR: second, Valid: 20 * time.Second})
		<-step
		return "whatsapp:+4915123456789", nil
	})
	clk := &clock{testNow}
	h := openWhatsApp(t, ctl, clk)
	f := h.m.acctView.form
	h.keys("enter") // network → link by
	if f.focus != fieldLinkWay {
		t.Fatalf("focus %d, want the link-by row", f.focus)
	}
	h.keys("enter") // the last row: links
	if req := <-ctl.reqs; req != (LinkRequest{Network: protocols.WhatsApp}) {
		t.Fatalf("LinkAccount got %+v, want a QR link", req)
	}
	s := f.link
	nextLinkMsg(h, s)
	h.mustShow("Scan with the phone", "This code changes in 60 s", "esc cancels; nothing is saved until the phone confirms")
	h.mustShow(qrText(t, first)...)
	if !h.m.acctView.needsTick() {
		t.Fatal("a QR code on screen should keep the countdown ticking")
	}
	// The countdown follows the clock.
	clk.t = clk.t.Add(25 * time.Second)
	h.send(accountsTickMsg{})
	h.mustShow("This code changes in 35 s")

	// Rotation: the second code replaces the first, with its own time.
	step <- struct{}{}
	nextLinkMsg(h, s)
	h.mustShow(qrText(t, second)...)
	h.mustShow("This code changes in 20 s")
	if v := h.view(); strings.Contains(v, qrText(t, first)[5]) || strings.Count(v, "Scan with the phone") != 1 {
		t.Fatalf("the first code is still drawn after the rotation:\n%s", v)
	}

	// The phone confirmed: the account is added and connects.
	step <- struct{}{}
	nextLinkMsg(h, s)
	if h.m.acctView.form != nil {
		t.Fatalf("form still open after the phone confirmed:\n%s", h.view())
	}
	h.mustShow("added whatsapp:+4915123456789; connecting", "+4915123456789")
	if err := <-ctl.ended; err != nil {
		t.Fatal(err)
	}
}

func TestAddFormWhatsAppEscCancelsTheLink(t *testing.T) {
	ctl := newFakeLinker(func(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error) {
		prompt(LinkPrompt{QR: "2@code", Valid: time.Minute})
		<-ctx.Done()
		return "", ctx.Err()
	})
	h := openWhatsApp(t, ctl, nil)
	h.keys("enter", "enter")
	<-ctl.reqs
	nextLinkMsg(h, h.m.acctView.form.link)
	h.mustShow("Scan with the phone")
	h.keys("esc")
	if h.m.acctView.form != nil {
		t.Fatal("esc should close the form")
	}
	select {
	case err := <-ctl.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the link ended with %v, want it cancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("esc did not stop the link")
	}
	h.mustShow("adding cancelled: nothing was saved")
	for _, st := range ctl.AccountStatuses() {
		if st.Network == protocols.WhatsApp {
			t.Fatalf("a cancelled link added %s", st.Account)
		}
	}
}

func TestAddFormLinksWhatsAppByPairingCode(t *testing.T) {
	unreachable := errors.New("cannot reach WhatsApp's servers: no answer from web.whatsapp.com within 12s; check this computer's internet connection (nothing was saved)")
	step := make(chan struct{})
	ctl := newFakeLinker(func(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error) {
		// A hostile server's code: only letters, digits and the dash show.
		prompt(LinkPrompt{PairCode: "ABCD-EFGH\x1b[2J\x1b]52;c;aGk=\x07"})
		<-step
		return "", unreachable
	})
	h := openWhatsApp(t, ctl, nil)
	f := h.m.acctView.form
	h.keys("enter", "right")
	h.mustShow("[phone number]", "phone", "+4915123456789 (the phone's own number)")
	h.keys("enter") // onto the phone row
	h.keys("enter") // empty: refused on the row, nothing started
	h.mustShow("phone: missing")
	if f.focus != fieldPhone || f.busy {
		t.Fatalf("focus %d busy %v after an empty phone", f.focus, f.busy)
	}
	h.typeText("+49 151 23456789")
	h.keys("enter")
	if req := <-ctl.reqs; req != (LinkRequest{Network: protocols.WhatsApp, Phone: "+49 151 23456789"}) {
		t.Fatalf("LinkAccount got %+v", req)
	}
	h.mustShow("connecting to WhatsApp…")
	nextLinkMsg(h, f.link)
	h.mustShow("On the phone with +49 151 23456789", "Link a device", "phone number instead", "    ABCD-EFGH", "waiting for the phone…")
	if v := h.view(); strings.Contains(v, "\x1b") || strings.Contains(v, "\a") {
		t.Fatalf("control characters from the server reached the screen: %q", v)
	}

	// No route: the form says so, keeps the number, saves nothing.
	step <- struct{}{}
	nextLinkMsg(h, f.link)
	h.mustShow("cannot reach WhatsApp's servers", "internet connection", "nothing was saved", "+49 151 23456789")
	h.mustNotShow("ABCD-EFGH", "waiting for the phone")
	if f.busy || f.link != nil || h.m.acctView.form != f {
		t.Fatal("the form should stay open, idle, after a failed link")
	}
}

func TestAddFormQRNeedsRoom(t *testing.T) {
	ctl := newFakeLinker(func(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error) {
		prompt(LinkPrompt{QR: "2@" + strings.Repeat("x", 180), Valid: time.Minute})
		<-ctx.Done()
		return "", ctx.Err()
	})
	h := openWhatsApp(t, ctl, nil)
	h.keys("enter", "enter")
	<-ctl.reqs
	h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
	nextLinkMsg(h, h.m.acctView.form.link)
	h.mustShow("the QR code needs a ", "enlarge it, or esc and link by phone number", "This code changes in 60 s")
	h.keys("esc")
}

// TestWhatsAppLoginNeededAsksForALinkNotAPassword: a WhatsApp account the
// phone unlinked has no password to type: its row and L say how to link
// it again.
func TestWhatsAppLoginNeededAsksForALinkNotAPassword(t *testing.T) {
	ctl := newFakeLinker(nil)
	ctl.sts = []AccountStatus{{Account: "whatsapp:+4915123456789", Network: protocols.WhatsApp, Address: "+4915123456789",
		State: AccountLoginNeeded, Detail: "logged out from the phone"}}
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A")
	h.mustShow("+4915123456789", "login needed", "link it again: x removes it, then a adds it")
	h.mustNotShow("press L to enter the password")
	h.keys("L")
	if h.m.acctView.relogin != "" {
		t.Fatal("L opened a password prompt for a WhatsApp account")
	}
	h.mustShow("link it again")
}
