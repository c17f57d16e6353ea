package tui

import (
	"context"
	"errors"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// PersonSuggester is the optional part of a Core that suggests merges
// for one person, with the matched name or number (*inbox.Inbox does);
// without it the person view filters MergeSuggestions.
type PersonSuggester interface {
	MergeSuggestionsFor(p inbox.PersonID) ([]inbox.MergeSuggestion, error)
}

// SecurityCodeCore is the optional part of a Core that shows a contact's
// security code (WhatsApp's 60 digits) and records that the user compared
// it; *inbox.Inbox implements it.
type SecurityCodeCore interface {
	SecurityCodes(ctx context.Context, p inbox.PersonID) ([]inbox.SecurityCode, error)
	MarkCodeCompared(ctx context.Context, peer protocols.Address, digits string) error
}

func suggestionsFor(c Core, id inbox.PersonID) ([]inbox.MergeSuggestion, error) {
	if ps, ok := c.(PersonSuggester); ok {
		return ps.MergeSuggestionsFor(id)
	}
	all, err := c.MergeSuggestions()
	var mine []inbox.MergeSuggestion
	for _, s := range all {
		if s.A == id || s.B == id {
			mine = append(mine, s)
		}
	}
	return mine, err
}

func markComparedCmd(ctx context.Context, sc SecurityCodeCore, peer protocols.Address, digits string) tea.Cmd {
	return func() tea.Msg {
		err := sc.MarkCodeCompared(ctx, peer, digits)
		if errors.Is(err, protocols.ErrCodeChanged) {
			err = protocols.ErrCodeChanged // the whole story, without the wrapping
		}
		return doneMsg{What: "security code marked compared: E2EE verified", Err: err}
	}
}

// personView shows one person: every identity with its network, address,
// server, encryption and presence; the preferred network; the visible
// downgrade rule; WhatsApp security codes to compare; and merge
// suggestions, applied only after y.
type personView struct {
	env         *env
	id          inbox.PersonID
	person      inbox.Person
	suggestions []inbox.MergeSuggestion
	others      map[inbox.PersonID]string
	codes       []inbox.SecurityCode
	loaded      bool
	cursor      int // identities first, then suggestions
	confirm     *inbox.MergeSuggestion
	comparing   *inbox.SecurityCode // asking: do the digits match?
	find        personFind          // F: which networks know them (personfind.go)
	width       int
	height      int
}

func newPerson(e *env, id inbox.PersonID) *personView { return &personView{env: e, id: id} }

func (p *personView) refresh() tea.Cmd { return loadPerson(p.env.ctx, p.env.core, p.id) }

func (p *personView) setSize(w, h int) { p.width, p.height = w, h }

func (p *personView) onPerson(m personMsg) {
	if m.Err != nil || m.Person.ID != p.id {
		return
	}
	p.loaded = true
	p.person = m.Person
	p.suggestions = m.Suggestions
	p.others = m.Others
	p.codes = m.Codes
	p.find.found = m.Found
	p.clamp()
}

func (p *personView) rows() int {
	return len(p.person.Identities) + len(p.suggestions) + len(p.find.found)
}

func (p *personView) clamp() {
	if p.cursor >= p.rows() {
		p.cursor = p.rows() - 1
	}
	if p.cursor < 0 {
		p.cursor = 0
	}
}

func (p *personView) selectedIdentity() (inbox.Identity, bool) {
	if p.cursor < len(p.person.Identities) {
		return p.person.Identities[p.cursor], true
	}
	return inbox.Identity{}, false
}

func (p *personView) selectedSuggestion() (inbox.MergeSuggestion, bool) {
	i := p.cursor - len(p.person.Identities)
	if i >= 0 && i < len(p.suggestions) {
		return p.suggestions[i], true
	}
	return inbox.MergeSuggestion{}, false
}

// otherName is the suggested person's name, raw (sanitized when drawn).
func (p *personView) otherName(s inbox.MergeSuggestion) string {
	if n := p.others[p.other(s)]; n != "" {
		return n
	}
	return "person #" + itoa(int64(p.other(s)))
}

// other is the person a suggestion would merge with this one.
func (p *personView) other(s inbox.MergeSuggestion) inbox.PersonID {
	if s.A == p.id {
		return s.B
	}
	return s.A
}

// codeToCompare is the security code V compares: the selected identity's,
// else the first one not compared yet; ok false when there is none (V
// then verifies by emoji, as for Matrix).
func (p *personView) codeToCompare() (inbox.SecurityCode, bool) {
	if id, ok := p.selectedIdentity(); ok {
		for _, c := range p.codes {
			if c.Identity.Key() == id.Address.Key() {
				return c, c.Code.Comparable()
			}
		}
		if id.Address.Network == protocols.Matrix {
			return inbox.SecurityCode{}, false
		}
	}
	for _, c := range p.codes {
		if c.Code.Comparable() && !c.Code.Compared {
			return c, true
		}
	}
	return inbox.SecurityCode{}, false
}

// compareKey answers V on this screen when the person has a security code
// to compare: it asks whether the digits match. handled false leaves V to
// the emoji verification.
func (p *personView) compareKey() (cmd tea.Cmd, handled bool) {
	c, ok := p.codeToCompare()
	if !ok {
		return nil, false
	}
	if _, can := p.env.core.(SecurityCodeCore); !can {
		return nil, false
	}
	if c.Code.Compared {
		return cmdOf(statusMsg{Text: "already compared: E2EE verified until their key changes"}), true
	}
	p.comparing = &c
	p.confirm = nil
	return nil, true
}

func (p *personView) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if cmd, ok := p.findKey(k); ok {
		return cmd
	}
	if p.comparing != nil {
		c := *p.comparing
		switch {
		case key.Matches(k, p.env.keys.Yes):
			p.comparing = nil
			if sc, ok := p.env.core.(SecurityCodeCore); ok {
				return markComparedCmd(p.env.ctx, sc, c.Identity, c.Code.Token())
			}
		case key.Matches(k, p.env.keys.No):
			p.comparing = nil
			return cmdOf(statusMsg{Text: "not marked: the code stays unverified"})
		}
		return nil
	}
	if p.confirm != nil {
		s := *p.confirm
		switch {
		case key.Matches(k, p.env.keys.Yes):
			p.confirm = nil
			return mergeCmd(p.env.core, p.id, p.other(s))
		case key.Matches(k, p.env.keys.No):
			p.confirm = nil
			return cmdOf(statusMsg{Text: "not merged"})
		}
		return nil
	}
	switch {
	case key.Matches(k, p.env.keys.Up):
		p.cursor--
	case key.Matches(k, p.env.keys.Down):
		p.cursor++
	case key.Matches(k, p.env.keys.Prefer):
		if id, ok := p.selectedIdentity(); ok {
			return setPreferredCmd(p.env.core, p.id, id.Address.Network)
		}
		return cmdOf(statusMsg{Text: "select an identity to prefer its network"})
	case key.Matches(k, p.env.keys.NoPrefer):
		return setPreferredCmd(p.env.core, p.id, "")
	case key.Matches(k, p.env.keys.Downgrade):
		return setDowngradeCmd(p.env.core, p.id, !p.person.AllowDowngrade)
	case key.Matches(k, p.env.keys.Unblock):
		if p.refused() == "" {
			return cmdOf(statusMsg{Text: "not blocked or ignored"})
		}
		return unblockCmd(p.env.core, p.id, p.person.Name)
	case key.Matches(k, p.env.keys.Merge), key.Matches(k, p.env.keys.Open):
		if s, ok := p.selectedSuggestion(); ok {
			p.confirm = &s
		} else if key.Matches(k, p.env.keys.Merge) {
			return cmdOf(statusMsg{Text: "select a merge suggestion first"})
		}
	case key.Matches(k, p.env.keys.Back), k.String() == "q":
		return cmdOf(backMsg{})
	}
	p.clamp()
	return nil
}

func (p *personView) View() string {
	st := p.env.st
	if !p.loaded {
		return st.dim.Render("Loading…")
	}
	w := p.width
	var b strings.Builder
	b.WriteString(st.title.Render(inline(p.person.Name, w)) + "\n\n")
	b.WriteString(st.dim.Render("Identities") + "\n")
	for i, id := range p.person.Identities {
		mark := "  "
		if i == p.cursor {
			mark = st.selected.Render("▌") + " "
		}
		server := id.Address.Server
		if server == "" {
			server = "?"
		}
		pref := ""
		if p.person.Preferred == id.Address.Network {
			pref = " " + st.unread.Render("★ preferred")
		}
		line := mark + st.netBadge(id.Address.Network) + " " + padRight(inline(id.Address.ID, w/3), w/3) +
			" " + padRight(inline(server, w/5), w/5) + " " + st.enc(id.Encryption) + " " +
			padRight(id.Encryption.Label(), 13) + " " + id.Presence.String() + pref
		if id.Consent != inbox.ConsentAccepted {
			line += st.warn.Render(" " + id.Consent.String())
		}
		if id.Contact {
			line += st.dim.Render(" · contact")
		}
		b.WriteString(truncateStyled(line, w) + "\n")
	}
	k := p.env.keys
	pref := "none (the router picks the strongest)"
	if p.person.Preferred != "" {
		pref = networkName(p.person.Preferred)
	}
	b.WriteString("\nPreferred network: " + pref + st.dim.Render("   ["+keyName(k.Prefer)+"] prefer selected  ["+keyName(k.NoPrefer)+"] clear") + "\n")
	rule := "ask me every time before sending weaker than end-to-end"
	if p.person.AllowDowngrade {
		rule = st.warn.Render("ALLOWED without asking") + " — messages may go TLS-only when E2EE is offline"
	}
	b.WriteString("Downgrade: " + rule + st.dim.Render("   ["+keyName(k.Downgrade)+"] toggle") + "\n")
	if r := p.refused(); r != "" {
		b.WriteString(st.warn.Render(r) + st.dim.Render("   ["+keyName(k.Unblock)+"] undo: their conversation comes back") + "\n")
	}
	// Matrix is the network whose keys Polyglot verifies (SAS).
	for _, id := range p.person.Identities {
		if id.Encryption == protocols.EncE2EE && id.Address.Network == protocols.Matrix && p.env.verify != nil {
			b.WriteString("Keys: not verified on " + networkName(id.Address.Network) + st.dim.Render("   ["+keyName(k.Verify)+"] verify by comparing emoji") + "\n")
			break
		}
	}
	for _, c := range p.codes {
		b.WriteString(p.codeView(c, w))
	}
	if len(p.suggestions) > 0 {
		b.WriteString("\n" + st.dim.Render("Maybe the same person (never merged without your yes)") + "\n")
		for j, s := range p.suggestions {
			i := len(p.person.Identities) + j
			mark := "  "
			if i == p.cursor {
				mark = st.selected.Render("▌") + " "
			}
			b.WriteString(mark + inline(p.otherName(s)+" — "+s.Reason, w-14) + st.dim.Render("  ["+keyName(k.Merge)+"] merge") + "\n")
		}
	}
	b.WriteString(p.findView(w))
	if p.comparing != nil {
		q := "Do all 60 digits match the code on " + inline(p.person.Name, w/3) + "'s phone? Only then is no one in between."
		switch n := len(p.comparing.Code.Devices); {
		case n == 1:
			q = "Does the fingerprint above match the one " + inline(p.person.Name, w/3) + "'s client shows for their device? Only then is no one in between."
		case n > 1:
			q = "Do all " + itoa(int64(n)) + " fingerprints above match what " + inline(p.person.Name, w/3) + "'s clients show? Only then is no one in between."
		}
		b.WriteString("\n" + st.warn.Render(q) +
			"\n[" + keyName(k.Yes) + "] they match: mark compared   [" + keyName(k.No) + "] cancel")
	}
	if p.confirm != nil {
		b.WriteString("\n" + st.warn.Render("Merge "+inline(p.otherName(*p.confirm), w/3)+" into "+inline(p.person.Name, w/3)+"? Their identities and conversations become one entry.") +
			"\n[" + keyName(k.Yes) + "] merge   [" + keyName(k.No) + "] cancel")
	}
	return strings.TrimRight(b.String(), "\n")
}

// refused says whether the user blocked or ignored any of the person's
// identities ("Blocked", "Ignored", or "" for neither).
func (p *personView) refused() string {
	r := ""
	for _, id := range p.person.Identities {
		switch id.Consent {
		case inbox.ConsentBlocked:
			return "Blocked"
		case inbox.ConsentIgnored:
			r = "Ignored"
		}
	}
	return r
}

// codeView draws one security code: 12 groups of five digits in two rows,
// as WhatsApp shows them, and whether the user compared it.
func (p *personView) codeView(c inbox.SecurityCode, w int) string {
	st := p.env.st
	var b strings.Builder
	b.WriteString("\n")
	if len(c.Code.Devices) > 0 {
		return p.devicesView(c, w)
	}
	head := "Security code with " + inline(c.Identity.ID, w/2) + " (" + networkName(c.Identity.Network) + ")"
	if c.Code.Digits == "" {
		return "\n" + truncateStyled(head+st.dim.Render(" — "+inline(c.Unavailable, w)), w) + "\n"
	}
	if c.Code.Compared {
		head += " " + st.unread.Render("✓ compared: E2EE verified")
	} else {
		head += st.dim.Render(" — not compared yet")
	}
	b.WriteString(truncateStyled(head, w) + "\n")
	g := c.Code.Groups()
	for i := 0; i < len(g); i += 6 {
		b.WriteString("    " + strings.Join(g[i:min(i+6, len(g))], " ") + "\n")
	}
	if !c.Code.Compared {
		b.WriteString(truncateStyled(st.dim.Render("    [V] they match — compare with their phone (WhatsApp › their name › Encryption), in person or on a call"), w) + "\n")
	}
	return b.String()
}

// devicesView draws a per-device network's keys (XMPP's OMEMO): each of
// the contact's devices with its fingerprint and whether the user compared
// it, the fingerprint they compare for this device, and the user's other
// devices. One V compares them all, as the question says.
func (p *personView) devicesView(c inbox.SecurityCode, w int) string {
	st := p.env.st
	var b strings.Builder
	b.WriteString("\n")
	head := "OMEMO devices of " + inline(c.Identity.ID, w/2) + " (" + networkName(c.Identity.Network) + ")"
	news := 0
	for _, d := range c.Code.Devices {
		if !d.Compared {
			news++
		}
	}
	switch {
	case c.Code.Compared:
		head += " " + st.unread.Render("✓ all compared: E2EE verified")
	case news == len(c.Code.Devices):
		head += st.dim.Render(" — not compared yet (trusted on first use: E2EE, unverified)")
	default:
		head += " " + st.warn.Render("— "+itoa(int64(news))+" new, not compared: E2EE until you compare")
	}
	b.WriteString(truncateStyled(head, w) + "\n")
	row := func(d protocols.DeviceKey, mark string) {
		b.WriteString(truncateStyled("    "+padRight(inline(d.ID, 12), 12)+" "+groupHex(inline(d.Fingerprint, 80))+"  "+mark, w) + "\n")
	}
	for _, d := range c.Code.Devices {
		if d.Fingerprint == "" {
			d.Fingerprint = "(key not seen yet)"
		}
		if d.Compared {
			row(d, st.unread.Render("✓"))
		} else {
			row(d, st.warn.Render("new: not compared"))
		}
	}
	if c.Code.This.Fingerprint != "" {
		b.WriteString(truncateStyled(st.dim.Render("  this device (what they compare on their side):"), w) + "\n")
		row(c.Code.This, "")
	}
	if len(c.Code.OwnDevices) > 0 {
		b.WriteString(truncateStyled(st.dim.Render("  your other devices:"), w) + "\n")
		for _, d := range c.Code.OwnDevices {
			row(d, "")
		}
	}
	if !c.Code.Compared {
		what := "this fingerprint matches"
		if len(c.Code.Devices) > 1 {
			what = "these fingerprints match"
		}
		b.WriteString(truncateStyled(st.dim.Render("    [V] "+what+" what their client shows (profanity: /omemo fingerprint; Conversations, Dino, Gajim: the contact's details)"), w) + "\n")
	}
	return b.String()
}

// groupHex splits a fingerprint into groups of eight, as OMEMO clients show it.
func groupHex(fp string) string {
	var parts []string
	for len(fp) > 8 {
		parts = append(parts, fp[:8])
		fp = fp[8:]
	}
	return strings.Join(append(parts, fp), " ")
}
