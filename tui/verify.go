package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// VerifyCore is the optional part of the core that runs interactive key
// verification (SAS emoji); *inbox.Inbox implements it. Without it the
// verify key only says that this build cannot verify.
type VerifyCore interface {
	Verifications() []inbox.Verification
	StartVerification(ctx context.Context, person inbox.PersonID) (inbox.Verification, error)
	AcceptVerification(ctx context.Context, txn string) error
	ConfirmVerification(ctx context.Context, txn string) error
	CancelVerification(ctx context.Context, txn, reason string) error
	DismissVerification(txn string)
}

// Messages of the verification screen.
type (
	verificationsMsg struct{ Items []inbox.Verification }
	// verifyStartedMsg opens the screen on the new verification.
	verifyStartedMsg struct {
		V   inbox.Verification
		Err error
	}
)

// reasonMismatch is what the peer is told when the user says the emoji
// differ.
const reasonMismatch = "the emoji did not match"

func loadVerifications(vc VerifyCore) tea.Cmd {
	if vc == nil {
		return nil
	}
	return func() tea.Msg { return verificationsMsg{Items: vc.Verifications()} }
}

func startVerification(ctx context.Context, vc VerifyCore, p inbox.PersonID) tea.Cmd {
	return func() tea.Msg {
		v, err := vc.StartVerification(ctx, p)
		return verifyStartedMsg{V: v, Err: err}
	}
}

func verifyOp(what string, f func() error) tea.Cmd {
	return func() tea.Msg {
		if err := f(); err != nil {
			return statusMsg{Text: what + " failed: " + err.Error(), Err: true}
		}
		return nil
	}
}

// verifyView shows one verification at a time: who, which device, the
// stage in words, the emoji to compare, and the keys that answer.
type verifyView struct {
	env    *env
	items  []inbox.Verification
	loaded bool
	// txn is the verification on screen; "" picks the one that needs the
	// user, else the newest.
	txn string
	// seen are the transactions already shown (a request alerts once).
	seen          map[string]bool
	width, height int
}

func newVerify(e *env) *verifyView { return &verifyView{env: e, seen: map[string]bool{}} }

func (v *verifyView) setSize(w, h int) { v.width, v.height = w, h }

// onVerifications takes fresh verifications and returns the requests
// from others that wait for the user and were not seen before (each
// alerts once).
func (v *verifyView) onVerifications(items []inbox.Verification) (fresh []inbox.Verification) {
	v.items, v.loaded = items, true
	for _, it := range items {
		if it.Incoming && it.NeedsUser() && !v.seen[it.Txn] {
			fresh = append(fresh, it)
		}
		v.seen[it.Txn] = true
	}
	return fresh
}

// current is the verification on screen.
func (v *verifyView) current() (inbox.Verification, bool) {
	for _, it := range v.items {
		if it.Txn == v.txn {
			return it, true
		}
	}
	if it, ok := pendingVerification(v.items); ok {
		return it, true
	}
	if len(v.items) > 0 {
		return v.items[0], true
	}
	return inbox.Verification{}, false
}

// pendingVerification is the newest verification waiting for the user.
func pendingVerification(items []inbox.Verification) (inbox.Verification, bool) {
	for _, it := range items {
		if it.NeedsUser() {
			return it, true
		}
	}
	return inbox.Verification{}, false
}

// Update handles the screen's keys; back is the root's.
func (v *verifyView) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	vc := v.env.verify
	cur, ok := v.current()
	if !ok || vc == nil {
		if key.Matches(k, v.env.keys.Back) {
			return cmdOf(backMsg{})
		}
		return nil
	}
	v.txn = cur.Txn
	ctx := v.env.ctx
	switch {
	case key.Matches(k, v.env.keys.VerifyAccept) && cur.Stage == protocols.VerifyRequested && cur.Incoming:
		return verifyOp("accept", func() error { return vc.AcceptVerification(ctx, cur.Txn) })
	case key.Matches(k, v.env.keys.Yes) && cur.Stage == protocols.VerifyShowSAS && !cur.Confirmed:
		return verifyOp("confirm", func() error { return vc.ConfirmVerification(ctx, cur.Txn) })
	case k.String() == "n" && cur.Active():
		reason := "declined by the user"
		if cur.Stage == protocols.VerifyShowSAS {
			reason = reasonMismatch
		}
		return verifyOp("cancel", func() error { return vc.CancelVerification(ctx, cur.Txn, reason) })
	case key.Matches(k, v.env.keys.Dismiss) && !cur.Active():
		v.txn = ""
		return func() tea.Msg { vc.DismissVerification(cur.Txn); return nil }
	case key.Matches(k, v.env.keys.Down), key.Matches(k, v.env.keys.Up):
		v.step(key.Matches(k, v.env.keys.Down))
		return nil
	case key.Matches(k, v.env.keys.Back):
		return cmdOf(backMsg{})
	}
	return nil
}

// step moves to the next or previous verification in the list.
func (v *verifyView) step(down bool) {
	cur, ok := v.current()
	if !ok {
		return
	}
	for i, it := range v.items {
		if it.Txn != cur.Txn {
			continue
		}
		switch {
		case down && i+1 < len(v.items):
			v.txn = v.items[i+1].Txn
		case !down && i > 0:
			v.txn = v.items[i-1].Txn
		}
		return
	}
}

// who is the peer as the user knows them.
func verifyWho(it inbox.Verification, w int) string {
	if it.Name != "" {
		return inline(it.Name, w)
	}
	return inline(it.Peer.ID, w)
}

func (v *verifyView) View() string {
	st, k := v.env.st, v.env.keys
	w := v.width
	if v.env.verify == nil {
		return st.dim.Render("This build cannot verify keys.")
	}
	cur, ok := v.current()
	if !ok {
		if !v.loaded {
			return st.dim.Render("loading…")
		}
		return strings.Join([]string{
			st.title.Render("Key verification"),
			"",
			"No verification in progress.",
			st.dim.Render("Open a conversation or a person and press " + keyName(k.Verify) + " to compare emoji with them;"),
			st.dim.Render("their messages then show " + st.enc(protocols.EncE2EEVerified) + " and the router prefers that route."),
		}, "\n")
	}
	who := verifyWho(cur, 40)
	out := []string{st.title.Render("Verify keys with " + who)}
	dev := ""
	if cur.DeviceID != "" {
		dev = ", device " + inline(cur.DeviceID, 24)
	}
	out = append(out, st.dim.Render("  "+inline(cur.Peer.ID, w/2)+" on "+networkName(cur.Peer.Network)+dev), "")
	switch {
	case cur.Stage == protocols.VerifyRequested && cur.Incoming:
		out = append(out, who+" wants to verify keys with you.", "",
			st.button.Render("["+keyName(k.VerifyAccept)+"] accept")+"   "+st.button.Render("[n] decline"))
	case cur.Stage == protocols.VerifyRequested:
		out = append(out, "Waiting for "+who+" to accept on their device…", "", st.dim.Render("[n] cancel"))
	case cur.Stage == protocols.VerifyReady:
		out = append(out, "Accepted. Setting up the emoji comparison…", "", st.dim.Render("[n] cancel"))
	case cur.Stage == protocols.VerifyShowSAS:
		out = append(out, "Compare these emoji with what "+who+" sees, in the same order:", "")
		for i, e := range cur.Emojis {
			// One per line: the emoji's width may differ between
			// terminals, so nothing is aligned after it on the line.
			out = append(out, fmt.Sprintf("   %d.  %s  %s", i+1, inline(e.Emoji, 4), inline(e.Description, 20)))
		}
		if len(cur.Decimals) > 0 {
			nums := make([]string, len(cur.Decimals))
			for i, d := range cur.Decimals {
				nums[i] = fmt.Sprint(d)
			}
			out = append(out, "", st.dim.Render("   or these numbers: "+strings.Join(nums, " ")))
		}
		out = append(out, "")
		if cur.Confirmed {
			out = append(out, "You confirmed. Waiting for "+who+" to confirm…")
		} else {
			out = append(out, st.button.Render("["+keyName(k.Yes)+"] they match")+"   "+st.button.Render("[n] they don't match"))
		}
	case cur.Stage == protocols.VerifyDone:
		out = append(out, st.enc(protocols.EncE2EEVerified)+" "+who+" is verified.",
			"Messages with "+who+" on "+networkName(cur.Peer.Network)+" now show "+st.enc(protocols.EncE2EEVerified)+
				" and that route ranks above unverified ones.", "", st.dim.Render("["+keyName(k.Dismiss)+"] dismiss"))
	case cur.Stage == protocols.VerifyCancelled:
		reason := "no reason given"
		if cur.Reason != "" {
			reason = inline(cur.Reason, w-30)
		}
		out = append(out, st.errStyle.Render("Verification cancelled: ")+reason,
			"Nothing about "+who+"'s keys changed.", "", st.dim.Render("["+keyName(k.Dismiss)+"] dismiss"))
	}
	if n := len(v.items); n > 1 {
		out = append(out, "", st.dim.Render(fmt.Sprintf("%d verifications — %s/%s to switch", n, keyName(k.Down), keyName(k.Up))))
	}
	out = append(out, "", st.dim.Render(keyName(k.Back)+" back (a verification in progress goes on)"))
	return strings.Join(out, "\n")
}

// verifyNotice is the status bar's call to action while a verification
// waits for the user.
func verifyNotice(items []inbox.Verification, k *KeyMap) string {
	it, ok := pendingVerification(items)
	if !ok {
		return ""
	}
	if it.Stage == protocols.VerifyShowSAS {
		return "compare emoji with " + verifyWho(it, 20) + " — press " + keyName(k.Verify)
	}
	return verifyWho(it, 20) + " asks to verify keys — press " + keyName(k.Verify)
}
