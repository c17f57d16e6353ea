package tui

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// ConversationOpener is the optional Core part behind n (*inbox.Inbox has
// it): the direct conversation with an address, or a group chat joined.
type ConversationOpener interface {
	OpenTarget(ctx context.Context, account string, t inbox.Target) (inbox.ConversationID, error)
}

// ContactFinder is the optional Core part behind the form's type-to-filter
// (*inbox.Inbox has it): contacts, DM partners and group chats by name or
// address, best first.
type ContactFinder interface {
	FindContacts(query string, limit int) ([]inbox.ContactMatch, error)
}

// contactRows is how many matches the form lists under the input.
const contactRows = 6

// newConvForm asks for an address on any network the user has an account
// on and opens that conversation. It overlays the inbox list; what was
// typed stays through every refusal until esc.
type newConvForm struct {
	env    *env
	opener ConversationOpener
	input  textinput.Model
	// accounts are the user's accounts, as the status bar knows them.
	accounts func() []AccountStatus
	// pick chooses among the accounts on the typed address's network
	// (tab); it counts from the first, online ones first.
	pick int
	err  string
	busy bool
	// cancel stops a join still running when the form closes; seq tells
	// its answer from a newer attempt's.
	cancel context.CancelFunc
	seq    int
	// finder lists contacts as the user types (nil: the core cannot).
	finder ContactFinder
	// matches answer the input as typed; sel is the one enter opens, -1
	// the typed address itself. qseq tells the newest query's answer.
	matches []inbox.ContactMatch
	sel     int
	qseq    int
	// answered is the query number the matches answer; enterWaits: enter
	// came before the answer to the input as typed, and acts on it.
	answered   int
	enterWaits bool
}

// contactsMsg is FindContacts' answer to query number seq.
type contactsMsg struct {
	seq     int
	matches []inbox.ContactMatch
	// keep: a refresh for a store change, the selection stays on its
	// contact.
	keep bool
}

// newConvDoneMsg is OpenTarget's answer.
type newConvDoneMsg struct {
	seq int
	id  inbox.ConversationID
	err error
}

// inputWidth is the address field's width on a screen w cells wide.
func inputWidth(w int) int { return max(w-14, 8) }

// setWidth fits the form to a screen w cells wide.
func (f *newConvForm) setWidth(w int) { f.input.Width = inputWidth(w) }

// focus gives the address field the keyboard.
func (f *newConvForm) focus() tea.Cmd { return f.input.Focus() }

func newNewConvForm(e *env, o ConversationOpener, accounts func() []AccountStatus, width int) *newConvForm {
	in := e.newInput()
	in.Prompt = ""
	in.CharLimit = 512
	in.Placeholder = "@name:server · name@server · +4915… · #room:server · room@conference.server"
	in.Width = inputWidth(width)
	f := &newConvForm{env: e, opener: o, input: in, accounts: accounts, sel: -1}
	f.finder, _ = o.(ContactFinder)
	return f
}

// target is what the input reads as now.
func (f *newConvForm) target() (inbox.Target, error) { return inbox.ParseTarget(f.input.Value()) }

// candidates are the user's accounts on network n, online first, then by
// name, so the default is one that can act now.
func (f *newConvForm) candidates(n protocols.Network) []AccountStatus {
	var out []AccountStatus
	for _, a := range f.accounts() {
		if a.Network == n && a.State != AccountDisabled {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		oi, oj := out[i].State == AccountOnline, out[j].State == AccountOnline
		if oi != oj {
			return oi
		}
		return out[i].Account < out[j].Account
	})
	return out
}

// account is the account the conversation would use, ok false when the
// user has none on that network.
func (f *newConvForm) account(t inbox.Target) (AccountStatus, bool) {
	cs := f.candidates(t.Network)
	if len(cs) == 0 {
		return AccountStatus{}, false
	}
	return cs[f.pick%len(cs)], true
}

// Update handles a key; closed says the form is done (opened or
// cancelled).
func (f *newConvForm) Update(k tea.KeyMsg) (cmd tea.Cmd, closed bool) {
	if k.Type == tea.KeyEsc {
		if f.cancel != nil {
			f.cancel()
		}
		return nil, true
	}
	if f.busy {
		return nil, false
	}
	switch k.Type {
	case tea.KeyEnter:
		if f.answered != f.qseq {
			// The list on screen answers older input: choosing from it
			// would open someone the user did not type.
			f.enterWaits = true
			return nil, false
		}
		return f.enter(), false
	case tea.KeyTab:
		f.pick++
		return nil, false
	case tea.KeyUp, tea.KeyCtrlP:
		f.move(-1)
		return nil, false
	case tea.KeyDown, tea.KeyCtrlN:
		f.move(1)
		return nil, false
	}
	before := f.input.Value()
	var c tea.Cmd
	f.input, c = f.input.Update(k)
	if f.input.Value() != before {
		f.err, f.pick, f.enterWaits = "", 0, false
		return tea.Batch(c, f.query(false)), false
	}
	return c, false
}

// query asks the core for contacts matching the input, off the Update
// loop; an empty input lists none. keep: see contactsMsg.
func (f *newConvForm) query(keep bool) tea.Cmd {
	f.qseq++
	q := strings.TrimSpace(f.input.Value())
	if f.finder == nil {
		f.matches, f.sel, f.answered = nil, -1, f.qseq
		return nil
	}
	fd, seq := f.finder, f.qseq
	return func() tea.Msg {
		ms, err := fd.FindContacts(q, contactRows)
		if err != nil {
			ms = nil // the typed address still works
		}
		return contactsMsg{seq: seq, matches: ms, keep: keep}
	}
}

// enter opens the selected match, else the typed address.
func (f *newConvForm) enter() tea.Cmd {
	if m, ok := f.selected(); ok {
		return f.openMatch(m)
	}
	return f.submit()
}

// onContacts shows the matches of the newest query, and acts on an enter
// that waited for them.
func (f *newConvForm) onContacts(m contactsMsg) tea.Cmd {
	if m.seq != f.qseq {
		return nil
	}
	f.answered = m.seq
	f.showMatches(m)
	if f.enterWaits && !f.busy {
		f.enterWaits = false
		return f.enter()
	}
	return nil
}

// showMatches selects the first match, unless the input is a complete
// address no match has: then enter goes to that address, and the list is
// one up/down away.
func (f *newConvForm) showMatches(m contactsMsg) {
	prev, had := f.selected()
	f.matches, f.sel = m.matches, -1
	if m.keep && had {
		for i, c := range f.matches {
			if c.Address == prev.Address {
				f.sel = i
				return
			}
		}
	}
	t, err := f.target()
	for i, c := range f.matches {
		if err == nil && strings.EqualFold(c.Address.ID, t.ID) {
			f.sel = i
			return
		}
	}
	if err != nil && len(f.matches) > 0 {
		f.sel = 0
	}
}

// move changes the selection within the matches, and to the typed
// address above them when it is one.
func (f *newConvForm) move(d int) {
	lo := 0
	if _, err := f.target(); err == nil {
		lo = -1
	}
	f.sel = min(max(f.sel+d, lo), len(f.matches)-1)
	if len(f.matches) == 0 {
		f.sel = -1
	}
}

func (f *newConvForm) selected() (inbox.ContactMatch, bool) {
	if f.sel >= 0 && f.sel < len(f.matches) {
		return f.matches[f.sel], true
	}
	return inbox.ContactMatch{}, false
}

// matchAccount is the account to open a contact through: the one that
// knows them when the user still has it, else the form's pick on their
// network.
func (f *newConvForm) matchAccount(c inbox.ContactMatch) (string, bool) {
	cs := f.candidates(c.Address.Network)
	for _, a := range cs {
		if protocols.AccountID(a.Account) == c.Address.Account {
			return a.Account, true
		}
	}
	if len(cs) == 0 {
		return "", false
	}
	return cs[f.pick%len(cs)].Account, true
}

// openMatch opens a listed contact: their conversation, or an empty new
// one ready to write.
func (f *newConvForm) openMatch(c inbox.ContactMatch) tea.Cmd {
	f.seq++
	seq := f.seq
	if c.Conversation != 0 {
		return cmdOf(newConvDoneMsg{seq: seq, id: c.Conversation})
	}
	acc, ok := f.matchAccount(c)
	if !ok {
		f.err = "you have no " + netName(c.Address.Network) + " account: add one on the accounts screen (A)"
		return nil
	}
	f.err, f.busy = "", true
	ctx, cancel := context.WithCancel(f.env.ctx)
	f.cancel = cancel
	o, t := f.opener, inbox.Target{Network: c.Address.Network, ID: c.Address.ID, Room: c.Group}
	return func() tea.Msg {
		defer cancel()
		conv, err := o.OpenTarget(ctx, acc, t)
		return newConvDoneMsg{seq: seq, id: conv, err: err}
	}
}

// submit checks the address and the account, then opens the conversation
// in a tea.Cmd (a join waits for the server).
func (f *newConvForm) submit() tea.Cmd {
	t, err := f.target()
	if err != nil {
		f.err = err.Error()
		return nil
	}
	acc, ok := f.account(t)
	if !ok {
		f.err = "you have no " + netName(t.Network) + " account: add one on the accounts screen (A)"
		return nil
	}
	f.err, f.busy = "", true
	f.seq++
	ctx, cancel := context.WithCancel(f.env.ctx)
	f.cancel = cancel
	o, seq, id := f.opener, f.seq, acc.Account
	return func() tea.Msg {
		defer cancel()
		conv, err := o.OpenTarget(ctx, id, t)
		return newConvDoneMsg{seq: seq, id: conv, err: err}
	}
}

// onDone takes OpenTarget's answer: a refusal stays on the form with the
// address as typed.
func (f *newConvForm) onDone(m newConvDoneMsg) (open inbox.ConversationID) {
	if m.seq != f.seq {
		return 0
	}
	f.busy, f.cancel = false, nil
	if m.err != nil {
		f.err = openError(m.err)
		return 0
	}
	return m.id
}

// openError words a refusal for the form, without Go error chains.
func openError(err error) string {
	switch {
	case errors.Is(err, protocols.ErrNotConnected):
		return "the account is offline: joining needs it connected — try again when it is online"
	case errors.Is(err, protocols.ErrUnsupported):
		return "this account cannot join group chats by address"
	case errors.Is(err, protocols.ErrUnknownPeer):
		return "the network does not know that address: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "the server did not answer in time"
	}
	return err.Error()
}

// View draws the form at width w; remote and typed text is sanitized.
func (f *newConvForm) View(w int) string {
	st := f.env.st
	var b strings.Builder
	b.WriteString(st.title.Render("New conversation") + st.dim.Render("  a person's address, or a group chat to join") + "\n\n")
	b.WriteString(st.selected.Render("▌") + " address  " + f.input.View() + "\n")
	b.WriteString("           " + f.explain(w-11) + "\n")
	b.WriteString(f.matchList(w) + "\n")
	switch {
	case f.busy:
		b.WriteString(st.warn.Render("opening…") + st.dim.Render("  esc cancels") + "\n")
	case f.err != "":
		lines := wrapBlock(f.err, max(w-2, 10))
		if len(lines) > 4 {
			lines = append(lines[:3], "…")
		}
		for _, l := range lines {
			b.WriteString(st.errStyle.Render(l) + "\n")
		}
	}
	help := "enter opens · tab picks another account on that network · esc cancels"
	if len(f.matches) > 0 {
		help = "enter opens · ↑/↓ ctrl+p/n choose · esc cancels"
	}
	b.WriteString("\n" + st.dim.Render(inline(help, w)))
	return b.String()
}

// matchList draws the contacts matching the input, one a line; names and
// addresses are remote text, sanitized by inline.
func (f *newConvForm) matchList(w int) string {
	st := f.env.st
	var b strings.Builder
	for i, c := range f.matches {
		mark := "  "
		if i == f.sel {
			mark = st.selected.Render("▌") + " "
		}
		note := ""
		switch {
		case c.Group:
			note = " · group"
		case c.Conversation == 0:
			note = " · no messages yet"
		}
		b.WriteString(contactLine(st, mark, c, note, w) + "\n")
	}
	return b.String()
}

// contactLine is one contact as the n form and the empty inbox list it:
// network, name (inert), address with note, within w.
func contactLine(st *styles, mark string, c inbox.ContactMatch, note string, w int) string {
	nw := max(w/3, 8)
	line := mark + st.netBadge(c.Address.Network) + " " + padRight(inline(c.Name, nw), nw) + " " +
		st.dim.Render(inline(c.Address.ID+note, max(w-nw-8, 8)))
	return truncateStyled(line, w)
}

// explain says what enter would do with the input as it is.
func (f *newConvForm) explain(w int) string {
	st := f.env.st
	if c, ok := f.selected(); ok {
		what := "open " + c.Name + " (" + c.Address.ID + ")"
		if c.Conversation == 0 {
			what = "start a conversation with " + c.Name + " (" + c.Address.ID + ")"
		}
		return st.netAccent(c.Address.Network).Render(inline(netName(c.Address.Network)+": "+what, w))
	}
	if strings.TrimSpace(f.input.Value()) == "" {
		return st.dim.Render(inline("Matrix, XMPP or WhatsApp — on any network you have an account on", w))
	}
	t, err := f.target()
	if err != nil {
		return st.dim.Render("…")
	}
	what := "message " + t.ID
	if t.Room {
		what = "join " + t.ID
	}
	acc, ok := f.account(t)
	if !ok {
		return st.warn.Render(inline(netName(t.Network)+": "+what+" — but you have no "+netName(t.Network)+" account", w))
	}
	s := netName(t.Network) + ": " + what + " via " + acc.Account
	if acc.State != AccountOnline {
		s += " (" + acc.State.String() + ")"
	}
	if n := len(f.candidates(t.Network)); n > 1 {
		s += " · tab: " + itoa(int64(n-1)) + " more"
	}
	return st.netAccent(t.Network).Render(inline(s, w))
}

// openNewConv opens the form from the inbox list.
func (m *rootModel) openNewConv() tea.Cmd {
	o, ok := m.env.core.(ConversationOpener)
	if !ok {
		return cmdOf(statusMsg{Text: "this build cannot start conversations here; use polyglot send --to"})
	}
	m.newConv = newNewConvForm(m.env, o, func() []AccountStatus { return m.accounts }, m.width)
	// The contacts are listed before anything is typed.
	return tea.Batch(m.newConv.focus(), m.newConv.query(false))
}

// newConvKey routes keys to the open form, and n on the inbox list to a
// new one.
func (m *rootModel) newConvKey(k tea.KeyMsg) (tea.Cmd, bool) {
	if m.newConv != nil {
		cmd, closed := m.newConv.Update(k)
		if closed {
			m.newConv = nil
		}
		return cmd, true
	}
	if m.screen == screenInbox && !m.showHelp && key.Matches(k, m.env.keys.NewConversation) {
		m.status = ""
		return m.openNewConv(), true
	}
	return nil, false
}

func (m *rootModel) onNewConvDone(msg newConvDoneMsg) tea.Cmd {
	if m.newConv == nil {
		return nil
	}
	id := m.newConv.onDone(msg)
	if id == 0 {
		return nil
	}
	m.newConv = nil
	return cmdOf(openConversationMsg{ID: id})
}
