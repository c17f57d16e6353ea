package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// addAccountCommand is what the user runs to add an account when the
// Control cannot add one itself (no AccountsAdder).
const addAccountCommand = "polyglot account add xmpp|matrix|whatsapp ADDRESS"

// relinkHint is how an account linked to a phone (WhatsApp) is linked
// again: it has no password to type.
const relinkHint = "link it again: x removes it, then a adds it by QR or pairing code"

// accountRowHeight is the lines one account takes: the row and its detail.
const accountRowHeight = 2

// accountsView lists the accounts with their connection state and lets the
// user enable, disable, remove and log in again (when a Control is wired).
type accountsView struct {
	env    *env
	items  []AccountStatus
	loaded bool
	cursor int
	top    int
	width  int
	height int

	// confirmRemove is the account awaiting y/n before it is removed.
	confirmRemove string
	// relogin is the account whose password is being typed; input holds it.
	relogin string
	input   textinput.Model
	// pending marks accounts with an operation under way, cleared when the
	// next states arrive.
	pending map[string]string
	// showAdd highlights the add command after the user pressed a (when the
	// Control cannot add accounts itself).
	showAdd bool
	// form is the open "add an account" dialog; forms counts the ones
	// opened, to number them.
	form  *addForm
	forms int
	// ticking says a countdown tick is scheduled.
	ticking bool
}

func newAccounts(e *env) *accountsView {
	in := e.newInput()
	in.EchoMode = textinput.EchoPassword
	in.EchoCharacter = '•'
	in.Prompt = "password: "
	in.CharLimit = 1024
	return &accountsView{env: e, input: in, pending: map[string]string{}}
}

func (a *accountsView) setSize(w, h int) {
	a.width, a.height = w, h
	a.input.Width = w - 14
	if a.form != nil {
		a.form.setWidth(w)
		a.form.height = h
	}
	a.clamp()
}

func (a *accountsView) readOnly() bool { return a.env.control == nil }

// retrier says the accounts can be told to retry now (r).
func (a *accountsView) retrier() bool {
	_, ok := a.env.accounts.(AccountsRetrier)
	return ok
}

// prompting says a text field or question has the keyboard.
func (a *accountsView) prompting() bool {
	return a.relogin != "" || a.confirmRemove != "" || a.form != nil
}

// adder is the Control's add capability, nil when it has none; the demo
// lets the form be tried.
func (a *accountsView) adder() AccountsAdder {
	if a.env.control == nil && a.env.demo {
		return demoAdder{}
	}
	ad, _ := a.env.control.(AccountsAdder)
	return ad
}

func (a *accountsView) visible() int {
	n := (a.height - 4) / accountRowHeight
	if n < 1 {
		n = 1
	}
	return n
}

func (a *accountsView) clamp() {
	if a.cursor >= len(a.items) {
		a.cursor = len(a.items) - 1
	}
	if a.cursor < 0 {
		a.cursor = 0
	}
	if a.cursor < a.top {
		a.top = a.cursor
	}
	if v := a.visible(); a.cursor >= a.top+v {
		a.top = a.cursor - v + 1
	}
}

// onStatuses takes fresh states. An account that newly needs a login is
// selected unless the user is in the middle of a prompt.
func (a *accountsView) onStatuses(sts []AccountStatus) {
	before := map[string]bool{}
	for _, s := range a.items {
		before[s.Account] = s.State == AccountLoginNeeded
	}
	a.items, a.loaded = sts, true
	clear(a.pending)
	if !a.prompting() {
		for i, s := range sts {
			if s.State == AccountLoginNeeded && !before[s.Account] {
				a.cursor = i
				break
			}
		}
	}
	a.clamp()
}

// opened resets the screen and selects the first account needing a login.
func (a *accountsView) opened() {
	a.confirmRemove, a.showAdd = "", false
	a.cancelRelogin()
	a.closeForm()
	for i, s := range a.items {
		if s.State == AccountLoginNeeded {
			a.cursor = i
			break
		}
	}
	a.clamp()
}

func (a *accountsView) selected() (AccountStatus, bool) {
	if a.cursor < 0 || a.cursor >= len(a.items) {
		return AccountStatus{}, false
	}
	return a.items[a.cursor], true
}

// cancelRelogin drops the typed password.
func (a *accountsView) cancelRelogin() {
	a.relogin = ""
	a.input.Reset()
	a.input.Blur()
}

// closeForm wipes and drops the add form.
func (a *accountsView) closeForm() {
	if a.form != nil {
		a.form.wipe()
		a.form = nil
	}
}

// openForm starts the add dialog, or (without an AccountsAdder) shows the
// command that adds one.
func (a *accountsView) openForm() tea.Cmd {
	ad := a.adder()
	if ad == nil {
		a.showAdd = true
		return nil
	}
	a.forms++
	a.form = newAddForm(a.env, ad, a.width, a.forms)
	a.form.height = a.height
	return a.form.focusOn(fieldAddress)
}

// onAddDone takes a login check's answer. One for a form the user already
// cancelled is dropped unless it succeeded (then the account exists).
func (a *accountsView) onAddDone(msg addDoneMsg) tea.Cmd {
	current := a.form != nil && a.form.seq == msg.seq
	if msg.err == nil {
		if current {
			a.closeForm()
		}
		a.pending[msg.id] = "connecting…"
		return cmdOf(accountOpMsg{Text: "added " + msg.id + "; connecting"})
	}
	if !current {
		return nil
	}
	return a.form.onDone(msg)
}

// onLinkPrompt passes a phone link's new code to the form that asked.
func (a *accountsView) onLinkPrompt(msg linkPromptMsg) tea.Cmd {
	if a.form == nil {
		return nil
	}
	return a.form.onLinkPrompt(msg)
}

// needsTick says a state on screen changes with the clock.
func (a *accountsView) needsTick() bool {
	if a.form != nil && a.form.showsQR() {
		return true // the QR code's time left
	}
	for _, s := range a.items {
		if s.State == AccountRetrying && !s.NextRetry.IsZero() {
			return true
		}
	}
	return false
}

func (a *accountsView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.MouseMsg:
		if msg.Action == tea.MouseActionPress && !a.prompting() {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				a.cursor--
			case tea.MouseButtonWheelDown:
				a.cursor++
			}
			a.clamp()
		}
	case tea.KeyMsg:
		if a.form != nil {
			cmd, closed := a.form.Update(msg)
			if closed {
				busy := a.form.busy
				a.closeForm()
				if busy {
					return cmdOf(statusMsg{Text: "adding cancelled: nothing was saved"})
				}
			}
			return cmd
		}
		if a.relogin != "" {
			return a.updateRelogin(msg)
		}
		// Any key outside a text field means the user is looking: waiting
		// accounts retry now; r says so.
		return tea.Batch(reconnectNow(a.env.accounts, key.Matches(msg, a.env.keys.RetryNow) && a.confirmRemove == ""), a.updateKey(msg))
	}
	return nil
}

// updateKey handles a key on the list or its remove question.
func (a *accountsView) updateKey(msg tea.KeyMsg) tea.Cmd {
	if a.confirmRemove != "" {
		return a.updateConfirm(msg)
	}
	a.showAdd = false
	switch {
	case key.Matches(msg, a.env.keys.Up):
		a.cursor--
	case key.Matches(msg, a.env.keys.Down):
		a.cursor++
	case key.Matches(msg, a.env.keys.Top):
		a.cursor = 0
	case key.Matches(msg, a.env.keys.Bottom):
		a.cursor = len(a.items) - 1
	case key.Matches(msg, a.env.keys.Back), key.Matches(msg, a.env.keys.Accounts):
		return cmdOf(backMsg{})
	case key.Matches(msg, a.env.keys.AddAccount):
		return a.openForm()
	case key.Matches(msg, a.env.keys.ToggleAccount):
		return a.toggle()
	case key.Matches(msg, a.env.keys.RemoveAccount):
		if cmd := a.needControl(); cmd != nil {
			return cmd
		}
		if s, ok := a.selected(); ok {
			a.confirmRemove = s.Account
		}
	case key.Matches(msg, a.env.keys.Relogin):
		if cmd := a.needControl(); cmd != nil {
			return cmd
		}
		if s, ok := a.selected(); ok {
			if linksPhone(s.Network) {
				// No password: the phone links it again.
				return cmdOf(statusMsg{Text: relinkHint})
			}
			a.relogin = s.Account
			a.input.Reset()
			return a.input.Focus()
		}
	}
	a.clamp()
	return nil
}

// reconnectNow asks the accounts waiting to retry to connect at once.
// explicit (the r key) reports the outcome; otherwise it is silent, and
// the states on screen change through the inbox's change feed.
func reconnectNow(av AccountsView, explicit bool) tea.Cmd {
	r, ok := av.(AccountsRetrier)
	if !ok {
		if explicit {
			return cmdOf(statusMsg{Text: "retrying is not possible here", Err: true})
		}
		return nil
	}
	return func() tea.Msg {
		n := r.ReconnectNow()
		switch {
		case !explicit:
			return nil
		case n == 0:
			return statusMsg{Text: "no account is waiting to retry"}
		case n == 1:
			return accountOpMsg{Text: "retrying 1 account now"}
		}
		return accountOpMsg{Text: fmt.Sprintf("retrying %d accounts now", n)}
	}
}

// needControl explains, in read-only mode, why a change key does nothing.
func (a *accountsView) needControl() tea.Cmd {
	if !a.readOnly() {
		return nil
	}
	return cmdOf(statusMsg{Text: "read-only here: manage accounts with `polyglot account …` outside the TUI", Err: true})
}

func (a *accountsView) toggle() tea.Cmd {
	if cmd := a.needControl(); cmd != nil {
		return cmd
	}
	s, ok := a.selected()
	if !ok {
		return nil
	}
	c, id := a.env.control, s.Account
	if s.State == AccountDisabled {
		a.pending[id] = "enabling…"
		return accountOp(c.Enable, id, "enabled "+id, "enabling "+id)
	}
	a.pending[id] = "disabling…"
	return accountOp(c.Disable, id, "disabled "+id, "disabling "+id)
}

func (a *accountsView) updateConfirm(k tea.KeyMsg) tea.Cmd {
	id := a.confirmRemove
	switch {
	case key.Matches(k, a.env.keys.Yes):
		a.confirmRemove = ""
		a.pending[id] = "removing…"
		return accountOp(a.env.control.Remove, id, "removed "+id+" (its messages stay in the inbox)", "removing "+id)
	case key.Matches(k, a.env.keys.No):
		a.confirmRemove = ""
	}
	return nil
}

func (a *accountsView) updateRelogin(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEsc:
		a.cancelRelogin()
		return nil
	case tea.KeyEnter:
		id := a.relogin
		secret := []byte(a.input.Value())
		a.cancelRelogin()
		if len(secret) == 0 {
			return cmdOf(statusMsg{Text: "empty password: nothing changed for " + id, Err: true})
		}
		a.pending[id] = "logging in…"
		return reloginCmd(a.env.control, id, secret)
	}
	var cmd tea.Cmd
	a.input, cmd = a.input.Update(k)
	return cmd
}

// accountOpMsg reports an account change; the root shows it and re-reads
// the states.
type accountOpMsg struct {
	Text string
	Err  error
}

// accountsTickMsg redraws the retry countdown.
type accountsTickMsg struct{}

func accountOp(f func(string) error, id, done, doing string) tea.Cmd {
	return func() tea.Msg {
		if err := f(id); err != nil {
			var p interface{ Partial() bool }
			if errors.As(err, &p) && p.Partial() {
				// Done, with something left undone that the user should know.
				return accountOpMsg{Text: err.Error(), Err: err}
			}
			return accountOpMsg{Text: doing + " failed: " + err.Error(), Err: err}
		}
		return accountOpMsg{Text: done}
	}
}

// reloginCmd hands the password over and then overwrites it: the keystore
// keeps its own copy, this one must not linger.
func reloginCmd(c AccountsControl, id string, secret []byte) tea.Cmd {
	return func() tea.Msg {
		err := c.Relogin(id, secret)
		clear(secret)
		if err != nil {
			return accountOpMsg{Text: "login for " + id + " failed: " + err.Error(), Err: err}
		}
		return accountOpMsg{Text: "password saved for " + id + "; reconnecting"}
	}
}

// tickAccounts waits one second; the root then re-reads the states. It is
// one value (not built per call) so tests can recognise and skip it.
var tickAccounts tea.Cmd = func() tea.Msg {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	<-t.C
	return accountsTickMsg{}
}

// stateText is the state as shown, with the time and countdown of a
// retrying account's next attempt, e.g. "retrying at 14:03:12 (in 41 s)".
func stateText(s AccountStatus, now time.Time) string {
	switch {
	case s.State == AccountLoginNeeded:
		return "login needed"
	case s.State == AccountRetrying && !s.NextRetry.IsZero():
		d := s.NextRetry.Sub(now)
		if d <= 0 {
			return "retrying now"
		}
		at := s.NextRetry.In(now.Location()).Format("15:04:05")
		return fmt.Sprintf("retrying at %s (in %d s)", at, int((d+time.Second-1)/time.Second))
	}
	return s.State.String()
}

func (a *accountsView) View() string {
	st := a.env.st
	w := a.width
	if a.form != nil {
		return a.form.View(w)
	}
	var b strings.Builder
	title := "Accounts"
	if a.readOnly() {
		title += st.dim.Render("  (read-only)")
	}
	b.WriteString(st.title.Render(title) + "\n")
	switch {
	case !a.loaded:
		b.WriteString(st.dim.Render("Loading…") + "\n")
	case len(a.items) == 0:
		b.WriteString(st.dim.Render("No accounts yet.") + "\n")
	}
	now := a.env.now()
	end := a.top + a.visible()
	if end > len(a.items) {
		end = len(a.items)
	}
	for i := a.top; i < end; i++ {
		s := a.items[i]
		mark := "  "
		if i == a.cursor {
			mark = st.selected.Render("▌") + " "
		}
		addr := s.Address
		if addr == "" {
			addr = s.Account
		}
		state := inline(stateText(s, now), 32)
		style := stateStyle(st, s)
		line := mark + st.netBadge(s.Network) + " " + padRight(inline(addr, w/2), w/2) + " " + style.Render(state)
		if p := a.pending[s.Account]; p != "" {
			line += st.dim.Render("  " + p)
		}
		b.WriteString(truncateStyled(line, w) + "\n")
		detail := s.Detail
		switch {
		case s.State == AccountLoginNeeded && !a.readOnly() && linksPhone(s.Network):
			detail = strings.TrimSpace(detail + "  " + relinkHint)
		case s.State == AccountLoginNeeded && !a.readOnly():
			detail = strings.TrimSpace(detail + "  press " + keyName(a.env.keys.Relogin) + " to enter the password")
		case s.State == AccountRetrying && a.retrier():
			detail = strings.TrimSpace(detail + " — press " + keyName(a.env.keys.RetryNow) + " to retry now")
		case s.Account != addr:
			detail = strings.TrimSpace("id " + s.Account + "  " + detail)
		}
		detailStyle := st.dim
		if s.State == AccountLocked {
			detailStyle = st.errStyle
		}
		b.WriteString("     " + detailStyle.Render(inline(detail, w-5)) + "\n")
	}
	b.WriteString("\n")
	switch {
	case a.relogin != "":
		b.WriteString(st.warn.Render("New password for "+inline(a.relogin, w/2)) + st.dim.Render("  enter save · esc cancel") + "\n")
		b.WriteString(a.input.View())
	case a.confirmRemove != "":
		b.WriteString(st.warn.Render("Remove "+inline(a.confirmRemove, w/2)+"?") +
			" Its password and local state are deleted; its messages stay.\n" + st.button.Render("["+keyName(a.env.keys.Yes)+"] yes") + "  " + st.button.Render("["+keyName(a.env.keys.No)+"] no"))
	case a.readOnly() && a.env.demo:
		b.WriteString(st.dim.Render("The demo's accounts are simulated. [" + keyName(a.env.keys.AddAccount) + "] tries the add form (it adds nothing); real accounts: `polyglot account add …`."))
	case a.readOnly():
		b.WriteString(st.dim.Render("Accounts are added and changed with `polyglot account add …` / `polyglot account remove ACCOUNT`."))
	default:
		hint := "Add: quit and run `" + addAccountCommand + "` (it asks for the password), then start polyglot again."
		if a.showAdd {
			b.WriteString(st.warn.Render(hint) + "\n")
		} else {
			k, retry := a.env.keys, ""
			if a.retrier() {
				retry = "  [" + keyName(k.RetryNow) + "] retry now"
			}
			b.WriteString(st.dim.Render("["+keyName(k.ToggleAccount)+"] enable/disable  ["+keyName(k.RemoveAccount)+"] remove  ["+
				keyName(k.Relogin)+"] log in again  ["+keyName(k.AddAccount)+"] add"+retry+"  ["+keyName(k.Back)+"] back") + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// stateStyle colours a state: online in the network accent, problems loud.
func stateStyle(st *styles, s AccountStatus) lipgloss.Style {
	switch {
	case s.State == AccountOnline:
		return st.netAccent(s.Network)
	case s.State == AccountLoginNeeded, s.State == AccountLocked:
		return st.errStyle
	case s.State == AccountRetrying, s.State == AccountOffline:
		return st.warn
	}
	return st.dim
}
