package tui

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/protocols"
)

// addField is one row of the add form, in tab order.
type addField int

const (
	fieldNetwork addField = iota
	fieldAddress
	fieldServer
	fieldCAFile
	fieldPassword
	// fieldLinkWay and fieldPhone are the rows of a network that links to
	// the user's phone (WhatsApp) instead of the four above.
	fieldLinkWay
	fieldPhone
	fieldCount
)

// fieldKeys are the names AddFieldError uses for the rows.
var fieldKeys = [fieldCount]string{"network", "address", "server", "ca_file", "password", "link", "phone"}

var fieldLabels = [fieldCount]string{"network", "address", "server", "CA file", "password", "link by", "phone"}

// isText says the row is a text field (the others are choices).
func (i addField) isText() bool { return i != fieldNetwork && i != fieldLinkWay }

// errField is the row err is about: the one an *AddFieldError names, else
// fallback.
func errField(err error, fallback addField) addField {
	var fe *AddFieldError
	if errors.As(err, &fe) {
		for i, name := range fieldKeys {
			if name == fe.Field {
				return addField(i)
			}
		}
	}
	return fallback
}

// netChoice is one network the form offers; unavailable ones are shown so
// the user learns why they cannot be picked.
type netChoice struct {
	network   protocols.Network
	available bool
}

// addForm is the accounts screen's "add an account" dialog. It holds the
// typed password only until submit; the login check runs in a tea.Cmd.
type addForm struct {
	env     *env
	adder   AccountsAdder
	choices []netChoice
	net     int // index into choices
	focus   addField
	// inputs are the text rows; the choice rows' entries are unused.
	inputs [fieldCount]textinput.Model
	// byPhone: link by pairing code for the number typed, not a QR code.
	byPhone bool
	// link is the running phone link (busy); qr, qrUntil and pairCode are
	// what it last asked to show.
	link     *linkSession
	qr       []string
	qrUntil  time.Time
	pairCode string
	height   int
	// err is the last refusal (validation or login), drawn sanitized;
	// errField is the row it is about.
	err      string
	errField addField
	// busy is set while the login check runs; cancel stops it.
	busy   bool
	cancel context.CancelFunc
	// seq tells this form's result from a cancelled earlier one.
	seq int
}

// addDoneMsg is the login check's answer.
type addDoneMsg struct {
	seq int
	id  string
	err error
}

// newAddForm builds an empty form; seq numbers it so a late answer for a
// closed form is recognised.
func newAddForm(e *env, adder AccountsAdder, width, seq int) *addForm {
	f := &addForm{env: e, adder: adder, seq: seq}
	can := map[protocols.Network]bool{}
	for _, n := range adder.AddNetworks() {
		can[n] = true
	}
	// WhatsApp links to the phone: only an adder that can link offers it.
	_, linker := adder.(AccountsLinker)
	// XMPP and Matrix first: the networks a password login works on.
	for _, n := range []protocols.Network{protocols.XMPP, protocols.Matrix, protocols.WhatsApp} {
		ok := can[n] && (!linksPhone(n) || linker)
		f.choices = append(f.choices, netChoice{network: n, available: ok})
	}
	for i := fieldAddress; i < fieldCount; i++ {
		in := e.newInput()
		in.Prompt = ""
		in.CharLimit = 512
		f.inputs[i] = in
	}
	pw := &f.inputs[fieldPassword]
	pw.EchoMode = textinput.EchoPassword
	pw.EchoCharacter = '•'
	pw.CharLimit = 1024
	f.inputs[fieldCAFile].Placeholder = "optional: PEM file of a private CA or self-signed certificate"
	f.inputs[fieldPhone].Placeholder = "+4915123456789 (the phone's own number)"
	f.inputs[fieldPhone].CharLimit = 32
	f.net = -1
	f.stepNetwork(1)
	f.setWidth(width)
	return f
}

// linksPhone: the network adds an account by linking to the user's phone.
func linksPhone(n protocols.Network) bool { return n == protocols.WhatsApp }

// linking says the chosen network links to the phone.
func (f *addForm) linking() bool { return linksPhone(f.network()) }

// rows are the form's rows for the chosen network, in tab order.
func (f *addForm) rows() []addField {
	switch {
	case f.linking() && f.byPhone:
		return []addField{fieldNetwork, fieldLinkWay, fieldPhone}
	case f.linking():
		return []addField{fieldNetwork, fieldLinkWay}
	}
	return []addField{fieldNetwork, fieldAddress, fieldServer, fieldCAFile, fieldPassword}
}

// move puts the keyboard on the next (dir 1) or previous (-1) row.
func (f *addForm) move(dir int) tea.Cmd {
	rows := f.rows()
	at := 0
	for i, r := range rows {
		if r == f.focus {
			at = i
		}
	}
	return f.focusOn(rows[((at+dir)%len(rows)+len(rows))%len(rows)])
}

// lastRow says the keyboard is on the form's last row: enter there adds.
func (f *addForm) lastRow() bool {
	rows := f.rows()
	return f.focus == rows[len(rows)-1]
}

func (f *addForm) setWidth(w int) {
	for i := fieldAddress; i < fieldCount; i++ {
		f.inputs[i].Width = max(w-16, 8)
	}
}

// network is the chosen network; "" when this build can add none.
func (f *addForm) network() protocols.Network {
	if f.net < 0 {
		return ""
	}
	return f.choices[f.net].network
}

// stepNetwork moves the choice by dir, skipping networks this build lacks.
func (f *addForm) stepNetwork(dir int) {
	n := len(f.choices)
	for i := 1; i <= n; i++ {
		j := ((f.net+dir*i)%n + n) % n
		if f.choices[j].available {
			f.net = j
			f.setPlaceholders()
			return
		}
	}
}

func (f *addForm) setPlaceholders() {
	switch f.network() {
	case protocols.Matrix:
		f.inputs[fieldAddress].Placeholder = "@alice:example.org"
		f.inputs[fieldServer].Placeholder = "optional: https://matrix.example.org (empty: discover)"
	default:
		f.inputs[fieldAddress].Placeholder = "alice@example.org"
		f.inputs[fieldServer].Placeholder = "optional: HOST:PORT (empty: discover)"
	}
}

// focusOn moves the keyboard to row i.
func (f *addForm) focusOn(i addField) tea.Cmd {
	if f.focus.isText() {
		f.inputs[f.focus].Blur()
	}
	f.focus = i
	if !i.isText() {
		return nil
	}
	return f.inputs[i].Focus()
}

// wipe drops everything typed, the password first.
func (f *addForm) wipe() {
	for i := fieldAddress; i < fieldCount; i++ {
		f.inputs[i].Reset()
		f.inputs[i].Blur()
	}
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	f.link, f.qr, f.pairCode = nil, nil, ""
}

func (f *addForm) request() AddAccountRequest {
	return AddAccountRequest{
		Network: f.network(),
		Address: strings.TrimSpace(f.inputs[fieldAddress].Value()),
		Server:  strings.TrimSpace(f.inputs[fieldServer].Value()),
		CAFile:  strings.TrimSpace(f.inputs[fieldCAFile].Value()),
	}
}

// fail shows a refusal next to field and puts the cursor there.
func (f *addForm) fail(field addField, msg string) tea.Cmd {
	f.err, f.errField = msg, field
	return f.focusOn(field)
}

// Update handles a key; closed reports that the form is done (cancelled).
func (f *addForm) Update(k tea.KeyMsg) (cmd tea.Cmd, closed bool) {
	if k.Type == tea.KeyEsc {
		f.wipe()
		return nil, true
	}
	if f.busy {
		return nil, false // the check is running; only esc counts
	}
	switch k.Type {
	case tea.KeyTab, tea.KeyDown:
		return f.move(1), false
	case tea.KeyShiftTab, tea.KeyUp:
		return f.move(-1), false
	case tea.KeyCtrlS:
		return f.submit(), false
	case tea.KeyEnter:
		if f.lastRow() {
			return f.submit(), false
		}
		return f.move(1), false
	}
	switch f.focus {
	case fieldNetwork:
		switch k.String() {
		case "left", "h":
			f.stepNetwork(-1)
		case "right", "l", " ":
			f.stepNetwork(1)
		}
		return nil, false
	case fieldLinkWay:
		switch k.String() {
		case "left", "h", "right", "l", " ":
			f.byPhone = !f.byPhone
			f.err = ""
		}
		return nil, false
	}
	var c tea.Cmd
	f.inputs[f.focus], c = f.inputs[f.focus].Update(k)
	return c, false
}

// submit checks the form and starts the login check. The password leaves
// the text field at once: on any refusal it has to be typed again, so it
// never sits in the form longer than one attempt.
func (f *addForm) submit() tea.Cmd {
	if f.linking() {
		return f.submitLink()
	}
	req := f.request()
	secret := []byte(f.inputs[fieldPassword].Value())
	f.inputs[fieldPassword].Reset()
	refuse := func(field addField, msg string) tea.Cmd {
		clear(secret)
		return f.fail(field, msg)
	}
	if req.Network == "" {
		return refuse(fieldNetwork, "this build cannot add accounts on any network")
	}
	if req.Address == "" {
		return refuse(fieldAddress, "address: missing (e.g. "+f.inputs[fieldAddress].Placeholder+")")
	}
	if err := f.adder.CheckAdd(req); err != nil {
		return refuse(errField(err, fieldAddress), err.Error())
	}
	if len(secret) == 0 {
		return refuse(fieldPassword, "password: empty")
	}
	f.err = ""
	f.busy = true
	ctx, cancel := context.WithCancel(f.env.ctx)
	f.cancel = cancel
	return addAccountCmd(ctx, cancel, f.adder, f.seq, req, secret)
}

// addAccountCmd hands the password over and then overwrites it, like
// reloginCmd: the keystore keeps its own copy.
func addAccountCmd(ctx context.Context, cancel context.CancelFunc, a AccountsAdder, seq int, req AddAccountRequest, secret []byte) tea.Cmd {
	return func() tea.Msg {
		defer cancel()
		id, err := a.AddAccount(ctx, req, secret)
		clear(secret)
		return addDoneMsg{seq: seq, id: id, err: err}
	}
}

// onDone takes the check's answer: a refusal stays on the form with every
// field but the password, the cursor on the field it names. A login error
// explains itself, so the field name is not put in front of it.
func (f *addForm) onDone(msg addDoneMsg) tea.Cmd {
	f.busy = false
	f.cancel = nil
	fallback := fieldPassword
	if f.link != nil {
		fallback = fieldLinkWay
		f.link, f.qr, f.pairCode = nil, nil, ""
	}
	text := msg.err.Error()
	if fe := (*AddFieldError)(nil); errors.As(msg.err, &fe) {
		text = fe.Err.Error()
	}
	return f.fail(errField(msg.err, fallback), text)
}

func netName(n protocols.Network) string {
	switch n {
	case protocols.XMPP:
		return "XMPP"
	case protocols.Matrix:
		return "Matrix"
	case protocols.WhatsApp:
		return "WhatsApp"
	}
	return string(n)
}

// unavailable names the networks this build cannot add.
func (f *addForm) unavailable() string {
	var names []string
	for _, c := range f.choices {
		if !c.available {
			names = append(names, netName(c.network))
		}
	}
	return strings.Join(names, ", ")
}

func (f *addForm) View(w int) string {
	st := f.env.st
	var b strings.Builder
	note := "  the login is checked before anything is saved"
	if f.env.demo {
		note = "  demo: try the form — it adds nothing and sends nothing anywhere"
	}
	if f.linking() {
		note = "  nothing is saved until the phone confirms"
		if f.env.demo {
			note = "  demo: try the form — it links nothing and sends nothing anywhere"
		}
	}
	b.WriteString(st.title.Render("Add an account") + st.dim.Render(note) + "\n\n")
	if f.qr != nil {
		// The code needs the room: the rows are known, only the code shows.
		return b.String() + f.qrView(w)
	}
	for _, i := range f.rows() {
		mark := "  "
		if i == f.focus {
			mark = st.selected.Render("▌") + " "
		}
		label := padRight(fieldLabels[i], 10)
		if f.err != "" && i == f.errField {
			label = st.errStyle.Render(label)
		}
		b.WriteString(mark + label + " ")
		switch i {
		case fieldNetwork:
			b.WriteString(f.networkRow())
			if missing := f.unavailable(); missing != "" {
				b.WriteString("\n" + strings.Repeat(" ", 13) + st.dim.Render("not available in this build: "+missing))
			}
		case fieldLinkWay:
			b.WriteString(f.linkWayRow())
		default:
			b.WriteString(f.inputs[i].View())
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	switch {
	case f.busy && f.pairCode != "":
		b.WriteString(f.pairCodeView(w))
	case f.busy && f.link != nil:
		b.WriteString(st.warn.Render("connecting to WhatsApp…") + st.dim.Render("  esc cancels; nothing is saved until the phone confirms") + "\n")
	case f.busy:
		b.WriteString(st.warn.Render("checking login…") + st.dim.Render("  esc cancels; nothing is saved until the server says yes") + "\n")
	case f.err != "":
		// The error can carry text from the server: drawn sanitized.
		lines := wrapBlock(f.err, max(w-2, 10))
		if len(lines) > 4 {
			lines = append(lines[:3], "…")
		}
		for _, l := range lines {
			b.WriteString(st.errStyle.Render(l) + "\n")
		}
		b.WriteString("\n")
	}
	hint := "tab/shift+tab move · ←/→ change network · enter on password (or ctrl+s) adds · esc cancels"
	if f.linking() {
		hint = "tab/shift+tab move · ←/→ change network or way · enter on the last row (or ctrl+s) links · esc cancels"
	}
	b.WriteString(st.dim.Render(inline(hint, w)))
	return b.String()
}

// networkRow shows every network, the chosen one bracketed, the ones this
// build lacks struck out (unavailable() names them below).
func (f *addForm) networkRow() string {
	st := f.env.st
	var parts []string
	for i, c := range f.choices {
		name := netName(c.network)
		switch {
		case !c.available:
			parts = append(parts, st.dim.Render(" "+name+"✗"))
		case i == f.net:
			parts = append(parts, st.selected.Render("["+name+"]"))
		default:
			parts = append(parts, " "+name+" ")
		}
	}
	return strings.Join(parts, " ")
}
