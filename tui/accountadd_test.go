package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/protocols"
)

// fakeAdder is a Control that can also add, as the cmd's statusView does:
// it records every request and a copy of every secret, and keeps the
// slices to check the TUI wipes them.
type fakeAdder struct {
	*fakeControl
	networks []protocols.Network
	checks   []AddAccountRequest
	reqs     []AddAccountRequest
	secrets  []string
	held     [][]byte
	ctxErr   error // ctx.Err() when AddAccount ran
	addErr   error
}

func newFakeAdder() *fakeAdder {
	return &fakeAdder{fakeControl: &fakeControl{sts: sampleAccounts()},
		networks: []protocols.Network{protocols.Matrix, protocols.XMPP}}
}

func (f *fakeAdder) AddNetworks() []protocols.Network { return f.networks }

// CheckAdd applies a small version of the address rule.
func (f *fakeAdder) CheckAdd(req AddAccountRequest) error {
	f.checks = append(f.checks, req)
	if req.Network == protocols.XMPP && (!strings.Contains(req.Address, "@") || strings.HasPrefix(req.Address, "@")) {
		return &AddFieldError{Field: "address", Err: fmt.Errorf("%q is not a bare XMPP address", req.Address)}
	}
	if req.Network == protocols.Matrix && !strings.HasPrefix(req.Address, "@") {
		return &AddFieldError{Field: "address", Err: fmt.Errorf("%q is not a Matrix user ID", req.Address)}
	}
	if req.CAFile == "/missing.pem" {
		return &AddFieldError{Field: "ca_file", Err: errors.New("cannot read CA file /missing.pem")}
	}
	return nil
}

func (f *fakeAdder) AddAccount(ctx context.Context, req AddAccountRequest, secret []byte) (string, error) {
	f.reqs = append(f.reqs, req)
	f.secrets = append(f.secrets, string(secret))
	f.held = append(f.held, secret)
	f.ctxErr = ctx.Err()
	if f.ctxErr != nil {
		return "", f.ctxErr
	}
	if f.addErr != nil {
		return "", f.addErr
	}
	id := string(req.Network) + ":" + req.Address
	f.mu.Lock()
	f.sts = append(f.sts, AccountStatus{Account: id, Address: req.Address, Network: req.Network, State: AccountConnecting})
	f.mu.Unlock()
	return id, nil
}

func (f *fakeAdder) wiped(t *testing.T) {
	t.Helper()
	for _, s := range f.held {
		for _, b := range s {
			if b != 0 {
				t.Fatalf("secret slice not wiped after AddAccount: %q", s)
			}
		}
	}
}

// typeChecked types s rune by rune and fails if any frame shows secret.
func typeChecked(h *harness, s, secret string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		if secret != "" && strings.Contains(h.view(), secret[:4]) {
			h.t.Fatalf("frame shows the password:\n%s", h.view())
		}
	}
}

func shiftTab(h *harness) { h.send(tea.KeyMsg{Type: tea.KeyShiftTab}) }

func TestAddFormNavigationAndNetworkChoice(t *testing.T) {
	h := accountsHarness(t, newFakeAdder(), nil, nil)
	h.keys("A", "a")
	f := h.m.acctView.form
	if f == nil {
		t.Fatal("a should open the add form when the Control can add")
	}
	h.mustShow("Add an account", "[XMPP]", " Matrix ", "WhatsApp✗", "not available in this build: WhatsApp",
		"address", "server", "CA file", "password", "alice@example.org", "HOST:PORT")
	if f.focus != fieldAddress {
		t.Fatalf("focus %d, want the address field", f.focus)
	}
	h.keys("tab")
	if f.focus != fieldServer {
		t.Fatalf("tab: focus %d, want server", f.focus)
	}
	h.keys("tab", "tab", "tab") // CA file, password, wraps to network
	if f.focus != fieldNetwork {
		t.Fatalf("tab past the last field: focus %d, want network", f.focus)
	}
	shiftTab(h)
	if f.focus != fieldPassword {
		t.Fatalf("shift+tab: focus %d, want password", f.focus)
	}
	h.keys("tab")
	// The choice skips WhatsApp, which this build cannot add, both ways.
	h.keys("right")
	h.mustShow("[Matrix]", "@alice:example.org", "https://matrix.example.org")
	h.mustNotShow("[XMPP]")
	h.keys("right")
	h.mustShow("[XMPP]")
	h.keys("left")
	h.mustShow("[Matrix]")
	h.keys("left")
	h.mustShow("[XMPP]")
	if f.network() != protocols.XMPP {
		t.Fatalf("network %q", f.network())
	}
	// Letters typed in a field are text, not screen keys.
	h.keys("tab")
	h.typeText("q?Ae")
	if h.quit || h.m.showHelp || h.m.acctView.form == nil || h.m.screen != screenAccounts {
		t.Fatal("letters typed into the form acted as keys")
	}
	h.mustShow("q?Ae")
}

func TestAddFormHandsOverExactlyTheTypedValues(t *testing.T) {
	const secret = "Bob-s3cret-Pw?q"
	ctl := newFakeAdder()
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "a")
	typeChecked(h, "bob@localhost", secret)
	h.keys("tab")
	typeChecked(h, "127.0.0.1:5222", secret)
	h.keys("enter") // enter before the last field moves on
	typeChecked(h, "/tmp/ca.pem", secret)
	h.keys("enter")
	if f := h.m.acctView.form; f == nil || f.focus != fieldPassword {
		t.Fatal("enter should move to the password field")
	}
	typeChecked(h, secret, secret)
	h.mustShow(strings.Repeat("•", len(secret)))

	// Submitting shows the check under way; the call has not run yet.
	_, cmd := h.m.Update(keyMsg("enter"))
	h.mustShow("checking login…")
	h.mustNotShow(secret)
	if v := h.m.acctView.form.inputs[fieldPassword].Value(); v != "" {
		t.Fatalf("password field still holds %q during the check", v)
	}
	h.keys("tab", "x") // ignored while checking
	h.run(cmd)

	want := AddAccountRequest{Network: protocols.XMPP, Address: "bob@localhost", Server: "127.0.0.1:5222", CAFile: "/tmp/ca.pem"}
	if len(ctl.reqs) != 1 || ctl.reqs[0] != want {
		t.Fatalf("AddAccount got %+v, want exactly %+v", ctl.reqs, want)
	}
	if len(ctl.secrets) != 1 || ctl.secrets[0] != secret {
		t.Fatalf("AddAccount got secret %q, want the typed one", ctl.secrets)
	}
	ctl.wiped(t)
	if h.m.acctView.form != nil {
		t.Fatal("the form should close after the account was added")
	}
	h.mustShow("added xmpp:bob@localhost; connecting", "bob@localhost", "connecting")
	h.mustNotShow(secret, "Add an account")
	// The status bar lists it too once the accounts screen is left.
	h.keys("esc")
	h.send(tea.WindowSizeMsg{Width: 300, Height: 24})
	h.mustShow("xmpp:bob@localhost connecting")
}

func TestAddFormRefusesABadAddressBeforeAnyLogin(t *testing.T) {
	ctl := newFakeAdder()
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "a")
	h.typeText("bob")
	h.keys("tab", "tab", "tab")
	h.typeText("pw")
	h.keys("enter")
	h.mustShow(`address: "bob" is not a bare XMPP address`)
	if len(ctl.reqs) != 0 {
		t.Fatal("a malformed address reached AddAccount")
	}
	f := h.m.acctView.form
	if f == nil || f.focus != fieldAddress || f.inputs[fieldAddress].Value() != "bob" {
		t.Fatal("the form should stay open with the cursor on the address, text kept")
	}
	// An empty address is refused without asking the Control.
	f.inputs[fieldAddress].Reset()
	n := len(ctl.checks)
	h.send(tea.KeyMsg{Type: tea.KeyCtrlS})
	h.mustShow("address: missing")
	if len(ctl.checks) != n || len(ctl.reqs) != 0 {
		t.Fatal("an empty address went to the Control")
	}
	// A field error elsewhere moves the cursor there.
	h.typeText("bob@localhost")
	h.keys("tab", "tab")
	h.typeText("/missing.pem")
	h.keys("tab")
	h.typeText("pw")
	h.keys("enter")
	h.mustShow("cannot read CA file /missing.pem")
	if f.focus != fieldCAFile {
		t.Fatalf("focus %d, want the CA file row", f.focus)
	}
	// An empty password is refused too.
	f.inputs[fieldCAFile].Reset()
	h.send(tea.KeyMsg{Type: tea.KeyCtrlS})
	h.mustShow("password: empty")
	if len(ctl.reqs) != 0 {
		t.Fatal("nothing should have been added")
	}
}

func TestAddFormLoginRefusedKeepsEverythingButThePassword(t *testing.T) {
	const wrong, right = "wrong-Pass-123", "right-Pass-456"
	ctl := newFakeAdder()
	ctl.addErr = errors.New("cannot add xmpp:bob@localhost: the server rejected the user name or password (not-authorized \x1b[2J)")
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "a")
	h.typeText("bob@localhost")
	h.keys("tab")
	h.typeText("127.0.0.1:5222")
	h.keys("tab", "tab")
	typeChecked(h, wrong, wrong)
	h.keys("enter")
	h.mustShow("the server rejected the user name or password", "not-authorized")
	h.mustNotShow(wrong, "\x1b[2J", "checking login")
	ctl.wiped(t)
	f := h.m.acctView.form
	if f == nil {
		t.Fatal("a refused login must keep the form open")
	}
	if f.inputs[fieldAddress].Value() != "bob@localhost" || f.inputs[fieldServer].Value() != "127.0.0.1:5222" {
		t.Fatal("the other fields must be kept")
	}
	if f.inputs[fieldPassword].Value() != "" || f.focus != fieldPassword {
		t.Fatal("the password must be cleared and focused for retyping")
	}
	if n := len(h.m.acctView.items); n != 4 {
		t.Fatalf("%d accounts after a refused add, want 4", n)
	}

	ctl.addErr = nil
	typeChecked(h, right, right)
	h.keys("enter")
	if len(ctl.secrets) != 2 || ctl.secrets[0] != wrong || ctl.secrets[1] != right {
		t.Fatalf("secrets handed over: %q", ctl.secrets)
	}
	ctl.wiped(t)
	h.mustShow("added xmpp:bob@localhost")
	if n := len(h.m.acctView.items); n != 5 {
		t.Fatalf("%d accounts after adding one, want 5", n)
	}
}

func TestAddFormLoginErrorPointsAtItsField(t *testing.T) {
	ctl := newFakeAdder()
	ctl.addErr = &AddFieldError{Field: "ca_file", Err: errors.New("cannot add xmpp:bob@localhost: TLS problem: the server's certificate is not trusted")}
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "a")
	h.typeText("bob@localhost")
	h.keys("tab", "tab", "tab")
	h.typeText("pw")
	h.keys("enter")
	h.mustShow("TLS problem: the server's certificate is not trusted")
	h.mustNotShow("ca_file: cannot add") // a login error explains itself
	if f := h.m.acctView.form; f == nil || f.focus != fieldCAFile {
		t.Fatal("the cursor should wait on the CA file row")
	}
}

func TestAddFormEscCancelsAndWipes(t *testing.T) {
	ctl := newFakeAdder()
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "a")
	h.typeText("bob@localhost")
	h.keys("tab", "tab", "tab")
	h.typeText("secret-pw")
	h.keys("esc")
	if h.m.acctView.form != nil || h.m.screen != screenAccounts {
		t.Fatal("esc should close the form and stay on the accounts screen")
	}
	if len(ctl.checks)+len(ctl.reqs) != 0 {
		t.Fatal("esc must not add")
	}
	h.mustShow("[a] add")
	h.keys("a")
	f := h.m.acctView.form
	for i := fieldAddress; i < fieldCount; i++ {
		if v := f.inputs[i].Value(); v != "" {
			t.Fatalf("reopened form still holds %q in %s", v, fieldLabels[i])
		}
	}

	// esc during the login check cancels it; its late answer is dropped.
	h.typeText("bob@localhost")
	h.keys("tab", "tab", "tab")
	h.typeText("secret-pw")
	_, cmd := h.m.Update(keyMsg("enter"))
	h.keys("esc")
	h.mustShow("adding cancelled: nothing was saved")
	h.run(cmd)
	if !errors.Is(ctl.ctxErr, context.Canceled) {
		t.Fatalf("AddAccount ran with ctx error %v, want canceled", ctl.ctxErr)
	}
	ctl.wiped(t)
	if h.m.acctView.form != nil {
		t.Fatal("a cancelled form must not come back")
	}
	h.mustNotShow("context canceled")
}

func TestAddFormNotOfferedWithoutAnAdder(t *testing.T) {
	// The demo: no Control at all.
	h := accountsHarness(t, nil, supervisor(sampleAccounts()), nil)
	h.keys("A", "a")
	if h.m.acctView.form != nil {
		t.Fatal("the demo must not offer the add form")
	}
	h.mustShow("polyglot account add")
}

func TestAddFormWithNoNetworkAvailable(t *testing.T) {
	ctl := newFakeAdder()
	ctl.networks = nil
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "a")
	h.mustShow("not available in this build: XMPP, Matrix, WhatsApp")
	h.typeText("bob@localhost")
	h.send(tea.KeyMsg{Type: tea.KeyCtrlS})
	h.mustShow("cannot add accounts on any network")
	if len(ctl.checks)+len(ctl.reqs) != 0 {
		t.Fatal("nothing should reach the Control")
	}
}

func TestHelpListsTheAddForm(t *testing.T) {
	h := accountsHarness(t, newFakeAdder(), nil, nil)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 200})
	h.keys("?")
	h.mustShow("Add account form", "tab/shift+tab", "change network", "add an account")
}

// The demo says it is the demo, and its add form can be filled in and sent:
// it explains that the demo adds nothing.
func TestDemoSaysSoAndItsAddFormAddsNothing(t *testing.T) {
	m := newRoot(Options{Core: world(2), Theme: asciiTheme(t), Now: func() time.Time { return testNow }, Demo: true})
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	h.run(m.Init())
	h.mustShow("Polyglot DEMO (nothing leaves this machine)")
	h.keys("A")
	h.mustShow("[a] tries the add form (it adds nothing)")
	h.keys("a")
	h.mustShow("Add an account", "demo: try the form")
	h.typeText("alice@example.org")
	h.keys("tab", "tab", "tab")
	h.typeText("secret")
	h.keys("enter")
	h.mustShow("this is the demo: nothing was added")
	if h.m.acctView.form == nil {
		t.Fatal("the form closed: the user should read why nothing was added")
	}
}
