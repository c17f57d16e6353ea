package tui

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// fakeControl stands in for *accounts.Manager: it changes the states the
// way the manager would and records every call.
type fakeControl struct {
	mu    sync.Mutex
	sts   []AccountStatus
	calls []string
	// got is a copy of each secret Relogin received; held the slices
	// themselves, to check the TUI wipes them afterwards.
	got  []string
	held [][]byte
	err  error
}

func (f *fakeControl) AccountStatuses() []AccountStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AccountStatus(nil), f.sts...)
}

func (f *fakeControl) setState(id string, state AccountState) {
	for i := range f.sts {
		if f.sts[i].Account == id {
			f.sts[i].State, f.sts[i].Detail, f.sts[i].NextRetry = state, "", time.Time{}
		}
	}
}

func (f *fakeControl) Enable(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "enable "+id)
	if f.err != nil {
		return f.err
	}
	f.setState(id, AccountConnecting)
	return nil
}

func (f *fakeControl) Disable(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "disable "+id)
	if f.err != nil {
		return f.err
	}
	f.setState(id, AccountDisabled)
	return nil
}

func (f *fakeControl) Remove(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "remove "+id)
	if f.err != nil {
		return f.err
	}
	for i := range f.sts {
		if f.sts[i].Account == id {
			f.sts = append(f.sts[:i], f.sts[i+1:]...)
			break
		}
	}
	return nil
}

func (f *fakeControl) Relogin(id string, secret []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "relogin "+id)
	f.got = append(f.got, string(secret))
	f.held = append(f.held, secret)
	if f.err != nil {
		return f.err
	}
	f.setState(id, AccountConnecting)
	return nil
}

func (f *fakeControl) callList() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

func sampleAccounts() []AccountStatus {
	return []AccountStatus{
		{Account: "alice@xmpp.example", Address: "alice@xmpp.example", Network: protocols.XMPP, State: AccountOnline},
		{Account: "mx-main", Address: "@alice:matrix.example", Network: protocols.Matrix, State: AccountRetrying,
			Detail: "server unreachable", NextRetry: testNow.Add(7 * time.Second)},
		{Account: "work@xmpp.example", Address: "work@xmpp.example", Network: protocols.XMPP, State: AccountLoginNeeded,
			Detail: "the server refused the password"},
		{Account: "old@xmpp.example", Address: "old@xmpp.example", Network: protocols.XMPP, State: AccountDisabled},
	}
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func accountsHarness(t *testing.T, ctl AccountsControl, av AccountsView, clk *clock) *harness {
	t.Helper()
	if clk == nil {
		clk = &clock{testNow}
	}
	o := Options{Core: world(1), Theme: asciiTheme(t), Now: clk.now, PageSize: 20, Accounts: av}
	if ctl != nil {
		o.Control = ctl
	}
	m := newRoot(o)
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
	h.run(m.Init())
	return h
}

func TestAccountsScreenShowsEveryStateAndSelectsLoginNeeded(t *testing.T) {
	ctl := &fakeControl{sts: sampleAccounts()}
	h := accountsHarness(t, ctl, nil, nil)
	// The inbox tells the user where to go when a login was refused.
	h.mustShow("login needed — press A")
	h.keys("A")
	if h.m.screen != screenAccounts {
		t.Fatal("A should open the accounts screen")
	}
	h.mustShow("› accounts", "alice@xmpp.example", "online", "@alice:matrix.example", "retrying at 15:00:07 (in 7 s)",
		"server unreachable", "work@xmpp.example", "login needed", "press L to enter the password",
		"old@xmpp.example", "disabled", "[e] enable/disable")
	h.mustNotShow("login needed — press A", "(read-only)")
	if s, _ := h.m.acctView.selected(); s.Account != "work@xmpp.example" {
		t.Fatalf("selected %q, want the account needing a login", s.Account)
	}
	h.keys("esc")
	if h.m.screen != screenInbox {
		t.Fatal("esc goes back")
	}
}

func TestAccountsCountdownMovesWithTheClock(t *testing.T) {
	clk := &clock{testNow}
	ctl := &fakeControl{sts: sampleAccounts()}
	h := accountsHarness(t, ctl, nil, clk)
	h.keys("A")
	if !h.m.acctView.ticking {
		t.Fatal("a retrying account should start the countdown tick")
	}
	h.mustShow("retrying at 15:00:07 (in 7 s)")
	clk.t = clk.t.Add(3 * time.Second)
	h.send(accountsTickMsg{})
	h.mustShow("retrying at 15:00:07 (in 4 s)")
	clk.t = clk.t.Add(10 * time.Second)
	h.send(accountsTickMsg{})
	h.mustShow("retrying now")
	// Leaving the screen ends the chain.
	h.keys("esc")
	h.send(accountsTickMsg{})
	if h.m.acctView.ticking {
		t.Fatal("the tick must stop off the accounts screen")
	}
}

func TestAccountsToggleEnableDisable(t *testing.T) {
	ctl := &fakeControl{sts: sampleAccounts()}
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "g", "e")
	if got := ctl.callList(); got != "disable alice@xmpp.example" {
		t.Fatalf("calls %q", got)
	}
	h.mustShow("disabled alice@xmpp.example")
	if s, _ := h.m.acctView.selected(); s.State != AccountDisabled {
		t.Fatalf("row not re-read: %+v", s)
	}
	h.keys("e")
	if got := ctl.callList(); got != "disable alice@xmpp.example,enable alice@xmpp.example" {
		t.Fatalf("calls %q", got)
	}
	h.mustShow("enabled alice@xmpp.example", "connecting")

	// A failure is shown, nothing else changes.
	ctl.err = errors.New("config not changed: bad toml")
	h.keys("G", "e")
	h.mustShow("enabling old@xmpp.example failed: config not changed: bad toml")
}

func TestAccountsRemoveAsksFirst(t *testing.T) {
	ctl := &fakeControl{sts: sampleAccounts()}
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "G", "x")
	h.mustShow("Remove old@xmpp.example?", "[y] yes", "[n] no")
	h.keys("n")
	if got := ctl.callList(); got != "" {
		t.Fatalf("n must not remove: %q", got)
	}
	h.mustNotShow("Remove old@xmpp.example?")
	// Other keys while asking do nothing.
	h.keys("x", "e", "k")
	if got := ctl.callList(); got != "" {
		t.Fatalf("keys during the question acted: %q", got)
	}
	h.keys("y")
	if got := ctl.callList(); got != "remove old@xmpp.example" {
		t.Fatalf("calls %q", got)
	}
	h.mustShow("removed old@xmpp.example")
	if n := len(h.m.acctView.items); n != 3 {
		t.Fatalf("%d accounts on screen after removing one of 4", n)
	}
}

func TestAccountsReloginHandsOverSecretAndNeverDrawsIt(t *testing.T) {
	const secret = "hunter2-q?A-Secret"
	ctl := &fakeControl{sts: sampleAccounts()}
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "L")
	h.mustShow("New password for work@xmpp.example")
	for _, r := range secret {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		if v := h.view(); strings.Contains(v, "hunter") || strings.Contains(v, "Secret") {
			t.Fatalf("frame shows the password:\n%s", v)
		}
	}
	// q, ? and A went into the field, not to quit/help/navigation.
	if h.quit || h.m.showHelp || h.m.screen != screenAccounts {
		t.Fatal("letters typed into the password field acted as keys")
	}
	h.mustShow(strings.Repeat("•", len(secret)))
	h.keys("enter")
	if got := ctl.callList(); got != "relogin work@xmpp.example" {
		t.Fatalf("calls %q", got)
	}
	if len(ctl.got) != 1 || ctl.got[0] != secret {
		t.Fatalf("Relogin got %q, want the typed password", ctl.got)
	}
	for _, b := range ctl.held[0] {
		if b != 0 {
			t.Fatalf("secret slice not wiped after Relogin: %q", ctl.held[0])
		}
	}
	if h.m.acctView.input.Value() != "" || h.m.acctView.relogin != "" {
		t.Fatal("the password field still holds the password")
	}
	h.mustShow("password saved for work@xmpp.example; reconnecting")
	h.mustNotShow(secret, "hunter", "login needed")
}

func TestAccountsReloginCancelAndEmpty(t *testing.T) {
	ctl := &fakeControl{sts: sampleAccounts()}
	h := accountsHarness(t, ctl, nil, nil)
	h.keys("A", "L")
	h.typeText("abc")
	h.keys("esc")
	if ctl.callList() != "" || h.m.acctView.input.Value() != "" || h.m.screen != screenAccounts {
		t.Fatal("esc must cancel the prompt, drop the text and stay on the screen")
	}
	h.keys("L", "enter")
	if ctl.callList() != "" {
		t.Fatal("an empty password must not be sent")
	}
	h.mustShow("empty password: nothing changed for work@xmpp.example")

	ctl.err = errors.New("keystore: locked")
	h.keys("L")
	h.typeText("pw-123")
	h.keys("enter")
	h.mustShow("login for work@xmpp.example failed: locked") // no "keystore: " chain
	h.mustNotShow("pw-123")
}

func TestAccountsNewAuthFailureIsSelected(t *testing.T) {
	sts := sampleAccounts()
	sts[2].State = AccountOnline
	ctl := &fakeControl{sts: sts}
	h := accountsHarness(t, ctl, nil, nil)
	h.mustNotShow("press A")
	h.keys("A")
	if h.m.acctView.cursor != 0 {
		t.Fatal("nothing needs a login: the first account is selected")
	}
	ctl.mu.Lock()
	ctl.sts[3].State = AccountLoginNeeded
	ctl.mu.Unlock()
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}}})
	if s, _ := h.m.acctView.selected(); s.Account != "old@xmpp.example" {
		t.Fatalf("selected %q, want the account that just failed", s.Account)
	}
	h.keys("esc")
	h.mustShow("login needed — press A")
}

func TestAccountsReadOnlyWithoutControl(t *testing.T) {
	h := accountsHarness(t, nil, supervisor(sampleAccounts()), nil)
	h.keys("A")
	h.mustShow("Accounts", "(read-only)", "polyglot account add", "retrying at 15:00:07 (in 7 s)", "login needed")
	h.mustNotShow("press L", "[e] enable/disable")
	for _, k := range []string{"e", "x", "L"} {
		h.keys(k)
		h.mustShow("read-only here")
		if h.m.acctView.prompting() {
			t.Fatalf("%s opened a prompt without a Control", k)
		}
	}
}

func TestAccountsAddShowsTheCommand(t *testing.T) {
	h := accountsHarness(t, &fakeControl{sts: sampleAccounts()}, nil, nil)
	h.keys("A", "a")
	h.mustShow("polyglot account add xmpp|matrix|whatsapp ADDRESS")
}

func TestAccountsKeyIsTextInTheComposer(t *testing.T) {
	ctl := &fakeControl{sts: sampleAccounts()}
	o := Options{Core: chatWorld(1), Theme: asciiTheme(t), Now: func() time.Time { return testNow }, Control: ctl}
	m := newRoot(o)
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
	h.run(m.Init())
	h.keys("enter") // open the conversation, composer focused
	h.typeText("A")
	if h.m.screen != screenConversation {
		t.Fatal("A in the composer must type, not open accounts")
	}
}

func TestAccountsDetailIsSanitized(t *testing.T) {
	sts := sampleAccounts()
	sts[1].Detail = "tls: \x1b[2J\x1b]0;pwned\x07bad certificate"
	h := accountsHarness(t, &fakeControl{sts: sts}, nil, nil)
	h.keys("A")
	h.mustShow("bad certificate")
	h.mustNotShow("\x1b[2J", "\x1b]0;", "\x07")
}

// retryingControl is a fakeControl that can also end back-off waits, as
// *accounts.Manager does: every "retrying" account starts connecting.
type retryingControl struct {
	*fakeControl
	woken int
}

func (r *retryingControl) ReconnectNow() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.woken++
	n := 0
	for _, s := range r.sts {
		if s.State == AccountRetrying {
			r.setState(s.Account, AccountConnecting)
			n++
		}
	}
	return n
}

func (r *retryingControl) wakes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.woken
}

// TestAccountsKeyRetriesNow: opening the accounts screen, any key on it and
// r end the back-off waits at once; r says what it did; the next attempt's
// time is shown with the hint. Typing a password does not.
func TestAccountsKeyRetriesNow(t *testing.T) {
	ctl := &retryingControl{fakeControl: &fakeControl{sts: sampleAccounts()}}
	h := accountsHarness(t, ctl, nil, nil)
	if ctl.wakes() != 0 {
		t.Fatal("retried before the user did anything")
	}
	h.keys("A")
	if ctl.wakes() != 1 {
		t.Fatalf("opening the accounts screen: %d wakes, want 1", ctl.wakes())
	}
	// The fake woke the retrying account; put it back to waiting.
	ctl.mu.Lock()
	ctl.sts[1].State, ctl.sts[1].NextRetry = AccountRetrying, testNow.Add(41*time.Second)
	ctl.mu.Unlock()
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}}})
	h.mustShow("retrying at 15:00:41 (in 41 s)", "press r to retry now", "[r] retry now")
	h.keys("j")
	if ctl.wakes() != 2 {
		t.Fatalf("a key on the accounts screen: %d wakes, want 2", ctl.wakes())
	}
	if s := ctl.AccountStatuses()[1]; s.State != AccountConnecting {
		t.Fatalf("the waiting account is %q after the key", s.State)
	}
	h.keys("r")
	if ctl.wakes() != 3 {
		t.Fatalf("r: %d wakes, want 3", ctl.wakes())
	}
	h.mustShow("no account is waiting to retry")
	ctl.mu.Lock()
	ctl.sts[1].State = AccountRetrying
	ctl.mu.Unlock()
	h.keys("r")
	h.mustShow("retrying 1 account now", "connecting")
	// A password being typed is text, not a wake-up.
	h.keys("L")
	before := ctl.wakes()
	h.typeText("secret")
	if ctl.wakes() != before {
		t.Fatal("typing the password woke the accounts")
	}
	h.keys("esc", "esc")
	if h.m.screen != screenInbox {
		t.Fatal("esc twice should leave the accounts screen")
	}
	// The terminal regaining focus, on any screen.
	before = ctl.wakes()
	h.send(tea.BlurMsg{})
	h.send(tea.FocusMsg{})
	if ctl.wakes() != before+1 {
		t.Fatalf("focus regained: %d wakes, want %d", ctl.wakes(), before+1)
	}
}
