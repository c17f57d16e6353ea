package tui

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// ContactFinderCore is the optional part of a Core that asks the user's
// networks whether they know a person (inbox.FindContact), one person at
// a time and only on the user's key, and offers what was found;
// *inbox.Inbox implements it.
type ContactFinderCore interface {
	FindContact(ctx context.Context, q protocols.ContactQuery, opt protocols.FindOptions) ([]inbox.FindOutcome, error)
	FoundFor(p inbox.PersonID) ([]inbox.FoundAddress, error)
	AddFound(p inbox.PersonID, a protocols.Address) error
}

// findTimeout bounds one lookup from the person view.
const findTimeout = 30 * time.Second

// findMsg is a lookup's answer for the person view.
type findMsg struct {
	Person   inbox.PersonID
	Query    protocols.ContactQuery
	Outcomes []inbox.FindOutcome
	Err      error
}

// personFind is the person view's lookup state: the question before it
// runs, the answer, the identity server's terms when they are asked for,
// and a found address the user is adding.
type personFind struct {
	ask     *protocols.ContactQuery // y/n: ask the networks?
	running bool
	last    *findMsg
	terms   *protocols.TermsError // y/n: accept and ask again?
	found   []inbox.FoundAddress
	adding  *inbox.FoundAddress // y/n: add to this person?
}

func (f *personFind) asking() bool { return f.ask != nil || f.terms != nil || f.adding != nil }

// findQuery is what F looks up for a person: a phone number (from a
// WhatsApp identity) first, else an XMPP address. A Matrix ID is already
// an address and no identity server looks one up.
func findQuery(p inbox.Person) (protocols.ContactQuery, bool) {
	for _, id := range p.Identities {
		if id.Address.Network == protocols.WhatsApp && strings.HasSuffix(id.Address.ID, "@s.whatsapp.net") {
			if q, err := inbox.ParseContactQuery(id.Address.ID); err == nil {
				return q, true
			}
		}
	}
	for _, id := range p.Identities {
		if id.Address.Network == protocols.XMPP {
			if q, err := inbox.ParseContactQuery(id.Address.ID); err == nil {
				return q, true
			}
		}
	}
	return protocols.ContactQuery{}, false
}

func findCmd(ctx context.Context, c ContactFinderCore, person inbox.PersonID, q protocols.ContactQuery, accept bool) tea.Cmd {
	return func() tea.Msg {
		// A network that never answers must not leave "asking…" up for good.
		ctx, cancel := context.WithTimeout(ctx, findTimeout)
		defer cancel()
		outs, err := c.FindContact(ctx, q, protocols.FindOptions{AcceptTerms: accept})
		return findMsg{Person: person, Query: q, Outcomes: outs, Err: err}
	}
}

func addFoundCmd(c ContactFinderCore, person inbox.PersonID, a protocols.Address) tea.Cmd {
	return func() tea.Msg {
		return doneMsg{What: "added " + a.ID + " to this person", Err: c.AddFound(person, a)}
	}
}

// findKey answers the lookup's prompts and F; handled false leaves the
// key to the rest of the person view.
func (p *personView) findKey(k tea.KeyMsg) (tea.Cmd, bool) {
	fc, ok := p.env.core.(ContactFinderCore)
	if !ok {
		return nil, false
	}
	f := &p.find
	keys := p.env.keys
	yes, no := key.Matches(k, keys.Yes), key.Matches(k, keys.No)
	switch {
	case f.ask != nil:
		q := *f.ask
		if yes {
			f.ask, f.running, f.last = nil, true, nil
			return findCmd(p.env.ctx, fc, p.id, q, false), true
		}
		if no {
			f.ask = nil
			return cmdOf(statusMsg{Text: "nothing was looked up"}), true
		}
		return nil, true
	case f.terms != nil:
		if yes && f.last != nil {
			q := f.last.Query
			f.terms, f.running = nil, true
			return findCmd(p.env.ctx, fc, p.id, q, true), true
		}
		if no {
			f.terms = nil
			return cmdOf(statusMsg{Text: "terms not accepted: Matrix was not asked"}), true
		}
		return nil, true
	case f.adding != nil:
		a := f.adding.Address
		if yes {
			f.adding = nil
			return addFoundCmd(fc, p.id, a), true
		}
		if no {
			f.adding = nil
			return cmdOf(statusMsg{Text: "not added"}), true
		}
		return nil, true
	case key.Matches(k, keys.FindContact):
		if f.running {
			return cmdOf(statusMsg{Text: "still asking…"}), true
		}
		q, ok := findQuery(p.person)
		if !ok {
			return cmdOf(statusMsg{Text: "nothing to look up: this person has no phone number or XMPP address (`polyglot contact find` takes any)"}), true
		}
		f.ask = &q
		p.confirm, p.comparing = nil, nil
		return nil, true
	case key.Matches(k, keys.Merge), key.Matches(k, keys.Open):
		if a, ok := p.selectedFound(); ok {
			f.adding = &a
			return nil, true
		}
	}
	return nil, false
}

// onFind takes a lookup's answer: shown under the person, with the
// identity server's terms to accept if it asked; the suggestions reload.
func (p *personView) onFind(m findMsg) tea.Cmd {
	if m.Person != p.id {
		return nil
	}
	p.find.running = false
	p.find.last = &m
	for _, o := range m.Outcomes {
		var te *protocols.TermsError
		if errors.As(o.Err, &te) && len(te.Policies) > 0 {
			p.find.terms = te
		}
	}
	if m.Err != nil {
		return tea.Batch(cmdOf(statusMsg{Text: "lookup failed: " + m.Err.Error(), Err: true}), p.refresh())
	}
	return p.refresh()
}

func (p *personView) selectedFound() (inbox.FoundAddress, bool) {
	i := p.cursor - len(p.person.Identities) - len(p.suggestions)
	if i >= 0 && i < len(p.find.found) {
		return p.find.found[i], true
	}
	return inbox.FoundAddress{}, false
}

// findView draws the lookup: the question, the answer per account, the
// terms to accept, the addresses found that nobody holds yet.
func (p *personView) findView(w int) string {
	st := p.env.st
	k := p.env.keys
	f := &p.find
	var b strings.Builder
	if _, ok := p.env.core.(ContactFinderCore); !ok {
		return ""
	}
	if f.last != nil {
		b.WriteString("\n" + st.dim.Render("Asked your networks about "+inline(f.last.Query.String(), w/2)) + "\n")
		for _, o := range f.last.Outcomes {
			b.WriteString(truncateStyled("  "+st.netBadge(o.Network)+" "+inline(findAnswer(o), w-6), w) + "\n")
		}
	} else if f.running {
		b.WriteString("\n" + st.dim.Render("Asking your networks…") + "\n")
	} else if _, ok := findQuery(p.person); ok {
		b.WriteString("Other networks: " + st.dim.Render("["+keyName(k.FindContact)+"] ask which of your networks know them (one lookup, asks first)") + "\n")
	}
	if len(f.found) > 0 {
		b.WriteString("\n" + st.dim.Render("Found, not in your contacts yet (added only with your yes)") + "\n")
		for j, a := range f.found {
			i := len(p.person.Identities) + len(p.suggestions) + j
			mark := "  "
			if i == p.cursor {
				mark = st.selected.Render("▌") + " "
			}
			b.WriteString(truncateStyled(mark+st.netBadge(a.Address.Network)+" "+inline(a.Address.ID+" — "+a.Reason, w-24)+st.dim.Render("  ["+keyName(k.Merge)+"] add"), w) + "\n")
		}
	}
	switch {
	case f.ask != nil:
		b.WriteString("\n" + st.warn.Render("Ask your networks whether they know "+inline(f.ask.String(), w/3)+"?") + "\n" +
			st.dim.Render("Matrix's identity server gets only a salted hash; WhatsApp gets a phone number in the clear; XMPP asks the address's own server.") +
			"\n[" + keyName(k.Yes) + "] ask   [" + keyName(k.No) + "] cancel")
	case f.terms != nil:
		b.WriteString("\n" + st.warn.Render("The identity server "+inline(f.terms.Service, w/3)+" asks you to accept its terms before it looks anyone up:") + "\n")
		for _, pol := range f.terms.Policies {
			b.WriteString("  " + inline(pol.Name+" "+pol.Version+": "+pol.URL, w-2) + "\n")
		}
		b.WriteString("[" + keyName(k.Yes) + "] I accept: ask again   [" + keyName(k.No) + "] not now")
	case f.adding != nil:
		b.WriteString("\n" + st.warn.Render("Add "+inline(f.adding.Address.ID, w/3)+" ("+networkName(f.adding.Address.Network)+") to "+inline(p.person.Name, w/3)+"?") +
			"\n[" + keyName(k.Yes) + "] add   [" + keyName(k.No) + "] cancel")
	}
	return b.String()
}

// findAnswer is one account's line: found (with the address), not found,
// or can't ask (why). Drawn through inline, so remote text is inert.
func findAnswer(o inbox.FindOutcome) string {
	var te *protocols.TermsError
	switch {
	case errors.As(o.Err, &te):
		return "can't ask: its identity server's terms are not accepted yet"
	case errors.Is(o.Err, protocols.ErrNotConnected):
		return "can't ask: the account is offline"
	case errors.Is(o.Err, protocols.ErrCannotLookUp):
		return "can't ask: " + networkName(o.Network) + " cannot look that up"
	case o.Err != nil:
		return "can't ask: " + o.Err.Error()
	case o.Result.Found:
		return "found " + o.Result.Address.ID + " (by " + o.Result.By + ")"
	}
	return "not found"
}
