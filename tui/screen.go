package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// screen is one of the root's screens as the root drives it: the inbox
// list, a conversation, Requests, a person, search, accounts, key
// verification. The root talks to the one on screen through these
// methods only; where it needs more (a count for the header, the
// conversation on screen) each screen has a narrow method of its own.
type screen interface {
	// Update takes a key, mouse event or result while on screen.
	Update(msg tea.Msg) tea.Cmd
	// View draws it from what it holds: no I/O.
	View() string
	// setSize is the body's size between the header and the status bar.
	setSize(w, h int)
	// reload re-reads what it shows from the core.
	reload() tea.Cmd
	// capturesText says a text field (or a one-key question answered with
	// letters) has the keyboard, so the root's letter keys (?, V, A, ]…)
	// are text there.
	capturesText() bool
	// asking says a question on screen (y/n, the downgrade prompt) waits
	// for its answer: the root opens no other screen over it.
	asking() bool
}

var (
	_ screen = (*inboxList)(nil)
	_ screen = (*conversationView)(nil)
	_ screen = (*requestsView)(nil)
	_ screen = (*personView)(nil)
	_ screen = (*searchView)(nil)
	_ screen = (*accountsView)(nil)
	_ screen = (*verifyView)(nil)
)

func (l *inboxList) reload() tea.Cmd    { return l.refresh() }
func (l *inboxList) capturesText() bool { return false }
func (l *inboxList) asking() bool       { return false }

func (c *conversationView) reload() tea.Cmd { return tea.Batch(c.refresh(), c.loadPlan()) }

// capturesText: the composer, or a one-key question on a message (react,
// delete, which file), which takes letters too.
func (c *conversationView) capturesText() bool {
	return (c.focus == focusComposer && c.prompt == nil) || c.ask != askNone || c.file != nil
}
func (c *conversationView) asking() bool { return c.prompt != nil || c.file != nil }

// conversation is the conversation this view shows.
func (c *conversationView) conversation() inbox.ConversationID { return c.id }

// directPerson is the person of a one-to-one conversation, 0 for a group
// or before its header loaded.
func (c *conversationView) directPerson() inbox.PersonID {
	if c.conv.Kind != inbox.Direct {
		return 0
	}
	return c.conv.Person
}

// leave is the user going back from the conversation: the draft is kept
// and the others stop seeing "typing".
func (c *conversationView) leave() tea.Cmd {
	cmds := []tea.Cmd{c.keepDraft()}
	if c.typing {
		c.typing = false
		cmds = append(cmds, setTyping(c.env.ctx, c.env.core, c.id, false))
	}
	return tea.Batch(cmds...)
}

func (r *requestsView) reload() tea.Cmd    { return r.refresh() }
func (r *requestsView) capturesText() bool { return false }
func (r *requestsView) asking() bool       { return false }

// count is how many requests wait (the header's tab shows it).
func (r *requestsView) count() int { return len(r.items) }

func (p *personView) reload() tea.Cmd    { return p.refresh() }
func (p *personView) capturesText() bool { return false }
func (p *personView) asking() bool       { return p.find.asking() }

// personID is the person this view shows.
func (p *personView) personID() inbox.PersonID { return p.id }

// The search field has the keyboard all the time; results come from
// typing, not from the store changing.
func (s *searchView) reload() tea.Cmd    { return nil }
func (s *searchView) capturesText() bool { return true }
func (s *searchView) asking() bool       { return false }

func (a *accountsView) reload() tea.Cmd    { return loadAccounts(a.env.core, a.env.accounts) }
func (a *accountsView) capturesText() bool { return a.relogin != "" || a.form != nil }
func (a *accountsView) asking() bool       { return a.prompting() }

// startTick says a countdown tick should be scheduled now: a state on
// screen changes with the clock and none is scheduled yet.
func (a *accountsView) startTick() bool {
	if a.ticking || !a.needsTick() {
		return false
	}
	a.ticking = true
	return true
}

// ticked: the scheduled tick arrived.
func (a *accountsView) ticked() { a.ticking = false }

func (v *verifyView) reload() tea.Cmd    { return loadVerifications(v.env.verify) }
func (v *verifyView) capturesText() bool { return false }
func (v *verifyView) asking() bool       { return false }

// show puts the verification txn on screen; "" the one that needs the
// user, else the newest.
func (v *verifyView) show(txn string) { v.txn = txn }

// pending says a verification waits for the user.
func (v *verifyView) pending() bool {
	_, ok := pendingVerification(v.items)
	return ok
}

// notice is the status bar's call for the user's answer, "" for none.
func (v *verifyView) notice() string { return verifyNotice(v.items, v.env.keys) }
