package tui

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// verifyCore is the fake core plus verification: it records the user's
// answers; the test moves the stages as the network would.
type verifyCore struct {
	*fakeCore
	items []inbox.Verification
	calls []string
}

func (f *verifyCore) Verifications() []inbox.Verification {
	return append([]inbox.Verification(nil), f.items...)
}

func (f *verifyCore) StartVerification(_ context.Context, p inbox.PersonID) (inbox.Verification, error) {
	f.calls = append(f.calls, "start "+itoa(int64(p)))
	v := inbox.Verification{Txn: "t-out", Person: p, Name: "Contact " + itoa(int64(p)),
		Peer: protocols.Address{Network: protocols.Matrix, ID: "@c:example.org"}, Stage: protocols.VerifyRequested}
	f.items = append([]inbox.Verification{v}, f.items...)
	return v, nil
}

func (f *verifyCore) AcceptVerification(_ context.Context, txn string) error {
	f.calls = append(f.calls, "accept "+txn)
	return nil
}

func (f *verifyCore) ConfirmVerification(_ context.Context, txn string) error {
	f.calls = append(f.calls, "confirm "+txn)
	return nil
}

func (f *verifyCore) CancelVerification(_ context.Context, txn, reason string) error {
	f.calls = append(f.calls, "cancel "+txn+": "+reason)
	return nil
}

func (f *verifyCore) DismissVerification(txn string) { f.calls = append(f.calls, "dismiss "+txn) }

// changed tells the TUI that verifications moved on, as the inbox does.
func (f *verifyCore) changed(h *harness) {
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeVerification}}})
}

func (f *verifyCore) mustHaveCalled(t *testing.T, want ...string) {
	t.Helper()
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
}

var sas = []protocols.SASEmoji{{Emoji: "🐶", Description: "Dog"}, {Emoji: "🔑", Description: "Key"}, {Emoji: "🌙", Description: "Moon"},
	{Emoji: "🍎", Description: "Apple"}, {Emoji: "🐟", Description: "Fish"}, {Emoji: "🌷", Description: "Flower"}, {Emoji: "🐧", Description: "Penguin"}}

// TestIncomingVerificationRequest: a contact's request shows in the status
// bar on any screen; V opens it; a accepts; the emoji are listed with their
// names; y confirms; the outcome says verified.
func TestIncomingVerificationRequest(t *testing.T) {
	f := &verifyCore{fakeCore: world(3)}
	h := newHarness(t, f, 100, 30)
	f.items = []inbox.Verification{{Txn: "t-in", Name: "Bob", Incoming: true, DeviceID: "BOBPHONE",
		Peer: protocols.Address{Network: protocols.Matrix, ID: "@bob:example.org"}, Stage: protocols.VerifyRequested}}
	f.changed(h)
	h.mustShow("Bob asks to verify keys — press V")

	h.keys("V")
	h.mustShow("› verify", "Verify keys with Bob", "@bob:example.org on Matrix, device BOBPHONE", "Bob wants to verify keys with you", "[a] accept", "[n] decline")
	h.mustNotShow("press V")
	h.keys("a")
	f.mustHaveCalled(t, "accept t-in")

	f.items[0].Stage, f.items[0].Emojis, f.items[0].Decimals = protocols.VerifyShowSAS, sas, []int{1234, 5678, 910}
	f.changed(h)
	h.mustShow("Compare these emoji with what Bob sees", "1.  🐶  Dog", "7.  🐧  Penguin", "1234 5678 910", "[y] they match", "[n] they don't match")
	h.keys("y")
	f.mustHaveCalled(t, "accept t-in", "confirm t-in")

	f.items[0].Confirmed = true
	f.changed(h)
	h.mustShow("You confirmed. Waiting for Bob to confirm")
	h.mustNotShow("[y] they match")

	f.items[0].Stage = protocols.VerifyDone
	f.changed(h)
	h.mustShow("Bob is verified", "[x] dismiss")
	h.keys("x")
	f.mustHaveCalled(t, "accept t-in", "confirm t-in", "dismiss t-in")
	h.keys("esc")
	h.mustNotShow("› verify")
}

// TestVerificationMismatchAndStart: n on the emoji cancels with the reason
// the peer is shown; V in a conversation starts a verification with its
// person; a peer's hostile cancel reason is drawn inert.
func TestVerificationMismatchAndStart(t *testing.T) {
	f := &verifyCore{fakeCore: world(3)}
	h := newHarness(t, f, 100, 30)
	h.keys("enter", "esc") // open the first conversation, leave the composer
	h.keys("V")
	f.mustHaveCalled(t, "start 1")
	h.mustShow("Verify keys with Contact 1", "Waiting for Contact 1 to accept on their device", "[n] cancel")

	f.items[0].Stage, f.items[0].Emojis = protocols.VerifyShowSAS, sas
	f.changed(h)
	h.keys("n")
	f.mustHaveCalled(t, "start 1", "cancel t-out: "+reasonMismatch)

	f.items[0].Stage, f.items[0].Reason = protocols.VerifyCancelled, "\x1b]0;owned\x07\x1b[2Jbye"
	f.changed(h)
	v := h.view()
	if strings.Contains(v, "\x1b]") || strings.Contains(v, "\x07") || strings.Contains(v, "\x1b[2J") {
		t.Fatalf("the peer's reason reached the terminal raw:\n%q", v)
	}
	h.mustShow("Verification cancelled", "Nothing about Contact 1's keys changed")
}

// TestVerifyWithoutSupport: a core that cannot verify says so instead of
// opening an empty screen.
func TestVerifyWithoutSupport(t *testing.T) {
	h := newHarness(t, world(2), 100, 30)
	h.keys("V")
	h.mustShow("this build cannot verify keys")
}

// TestVerificationRequestRings: a contact's new request rings once (with
// the hostile name made inert in the desktop notification); seeing it again
// does not ring again.
func TestVerificationRequestRings(t *testing.T) {
	f := &verifyCore{fakeCore: world(2)}
	out := &bytes.Buffer{}
	m := newRoot(Options{Core: f, Theme: asciiTheme(t), Now: func() time.Time { return testNow }, PageSize: 20,
		Notify: NotifySettings{Enabled: true, Bell: true, Desktop: DesktopOSC777}, Terminal: out})
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.run(m.Init())
	f.items = []inbox.Verification{{Txn: "t-in", Name: "Eve\x1b]0;x\x07;y", Incoming: true,
		Peer: protocols.Address{Network: protocols.Matrix, ID: "@eve:example.org"}, Stage: protocols.VerifyRequested}}
	f.changed(h)
	f.changed(h)
	got := out.String()
	if strings.Count(got, "\a") != 2 || strings.Count(got, "\x1b") != 1 || !strings.Contains(got, "asks to verify keys") {
		t.Fatalf("want one bell and one clean OSC 777, got %q", got)
	}
}
