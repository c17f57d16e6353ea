package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// personView shows one person: every identity with its network, address,
// server, encryption and presence; the preferred network; the visible
// downgrade rule; and merge suggestions, applied only after y.
type personView struct {
	env         *env
	id          inbox.PersonID
	person      inbox.Person
	suggestions []inbox.MergeSuggestion
	others      map[inbox.PersonID]string
	loaded      bool
	cursor      int // identities first, then suggestions
	confirm     *inbox.MergeSuggestion
	width       int
	height      int
}

func newPerson(e *env, id inbox.PersonID) *personView { return &personView{env: e, id: id} }

func (p *personView) refresh() tea.Cmd { return loadPerson(p.env.core, p.id) }

func (p *personView) setSize(w, h int) { p.width, p.height = w, h }

func (p *personView) onPerson(m personMsg) {
	if m.Err != nil || m.Person.ID != p.id {
		return
	}
	p.loaded = true
	p.person = m.Person
	p.suggestions = m.Suggestions
	p.others = m.Others
	p.clamp()
}

func (p *personView) rows() int { return len(p.person.Identities) + len(p.suggestions) }

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

func (p *personView) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.confirm != nil {
		s := *p.confirm
		switch {
		case key.Matches(k, keys.Yes):
			p.confirm = nil
			return mergeCmd(p.env.core, p.id, p.other(s))
		case key.Matches(k, keys.No):
			p.confirm = nil
			return cmdOf(statusMsg{Text: "not merged"})
		}
		return nil
	}
	switch {
	case key.Matches(k, keys.Up):
		p.cursor--
	case key.Matches(k, keys.Down):
		p.cursor++
	case key.Matches(k, keys.Prefer):
		if id, ok := p.selectedIdentity(); ok {
			return setPreferredCmd(p.env.core, p.id, id.Address.Network)
		}
		return cmdOf(statusMsg{Text: "select an identity to prefer its network"})
	case key.Matches(k, keys.NoPrefer):
		return setPreferredCmd(p.env.core, p.id, "")
	case key.Matches(k, keys.Downgrade):
		return setDowngradeCmd(p.env.core, p.id, !p.person.AllowDowngrade)
	case key.Matches(k, keys.Unblock):
		if p.refused() == "" {
			return cmdOf(statusMsg{Text: "not blocked or ignored"})
		}
		return unblockCmd(p.env.core, p.id, p.person.Name)
	case key.Matches(k, keys.Merge), key.Matches(k, keys.Open):
		if s, ok := p.selectedSuggestion(); ok {
			p.confirm = &s
		} else if key.Matches(k, keys.Merge) {
			return cmdOf(statusMsg{Text: "select a merge suggestion first"})
		}
	case key.Matches(k, keys.Back), k.String() == "q":
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
	pref := "none (the router picks the strongest)"
	if p.person.Preferred != "" {
		pref = networkName(p.person.Preferred)
	}
	b.WriteString("\nPreferred network: " + pref + st.dim.Render("   [n] prefer selected  [N] clear") + "\n")
	rule := "ask me every time before sending weaker than end-to-end"
	if p.person.AllowDowngrade {
		rule = st.warn.Render("ALLOWED without asking") + " — messages may go TLS-only when E2EE is offline"
	}
	b.WriteString("Downgrade: " + rule + st.dim.Render("   [d] toggle") + "\n")
	if r := p.refused(); r != "" {
		b.WriteString(st.warn.Render(r) + st.dim.Render("   [u] undo: their conversation comes back") + "\n")
	}
	// Matrix is the network whose keys Polyglot verifies (SAS).
	for _, id := range p.person.Identities {
		if id.Encryption == protocols.EncE2EE && id.Address.Network == protocols.Matrix && p.env.verify != nil {
			b.WriteString("Keys: not verified on " + networkName(id.Address.Network) + st.dim.Render("   [V] verify by comparing emoji") + "\n")
			break
		}
	}
	if len(p.suggestions) > 0 {
		b.WriteString("\n" + st.dim.Render("Maybe the same person (never merged without your yes)") + "\n")
		for j, s := range p.suggestions {
			i := len(p.person.Identities) + j
			mark := "  "
			if i == p.cursor {
				mark = st.selected.Render("▌") + " "
			}
			b.WriteString(mark + inline(p.otherName(s)+" — "+s.Reason, w-14) + st.dim.Render("  [m] merge") + "\n")
		}
	}
	if p.confirm != nil {
		b.WriteString("\n" + st.warn.Render("Merge "+inline(p.otherName(*p.confirm), w/3)+" into "+inline(p.person.Name, w/3)+"? Their identities and conversations become one entry.") +
			"\n[y] merge   [n] cancel")
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
