package tui

import (
	"sync"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// draftBook keeps what the user left unsent, per conversation. The map is
// this screen's truth (Update only), so leaving a conversation and coming
// straight back never races a write; every change is also written to the
// core, so a restart finds it.
type draftBook struct {
	core  Core
	text  map[inbox.ConversationID]string // Update only
	seq   uint64                          // Update only
	kept  map[inbox.ConversationID]uint64 // newest seq kept per draft, Update only
	mu    sync.Mutex                      // the writes (they run in tea.Cmds)
	wrote map[inbox.ConversationID]uint64 // newest seq written, under mu
}

func newDraftBook(c Core) *draftBook {
	return &draftBook{core: c, text: map[inbox.ConversationID]string{}, kept: map[inbox.ConversationID]uint64{}, wrote: map[inbox.ConversationID]uint64{}}
}

// known is the draft of id this screen already holds.
func (d *draftBook) known(id inbox.ConversationID) (string, bool) {
	t, ok := d.text[id]
	return t, ok
}

// forget drops what this screen holds for id, since the core's draft may
// be newer (another screen of the same core saved one) — unless a write of
// this screen's is still on its way: then the core's is older.
func (d *draftBook) forget(id inbox.ConversationID) {
	d.mu.Lock()
	pending := d.wrote[id] < d.kept[id]
	d.mu.Unlock()
	if !pending {
		delete(d.text, id)
	}
}

// loaded records what the core had for id, unless the user has already
// written something here.
func (d *draftBook) loaded(id inbox.ConversationID, text string) {
	if _, ok := d.text[id]; !ok {
		d.text[id] = text
	}
}

// keep makes text the draft of id and returns the write, nil when nothing
// changed. Writes may run concurrently; an older one never overwrites a
// newer.
func (d *draftBook) keep(id inbox.ConversationID, text string) tea.Cmd {
	old, ok := d.text[id]
	// Nothing written here over a draft another screen saved (forget):
	// leaving an empty composer must not delete theirs.
	if (ok && old == text) || (!ok && text == "") {
		return nil
	}
	d.text[id] = text
	d.seq++
	seq := d.seq
	d.kept[id] = seq
	return func() tea.Msg {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.wrote[id] > seq {
			return nil
		}
		d.wrote[id] = seq
		if err := d.core.SetDraft(id, text); err != nil {
			return statusMsg{Text: "the draft was not saved: " + err.Error(), Err: true}
		}
		return nil
	}
}

// draftMsg is the draft the core holds for a conversation.
type draftMsg struct {
	Conv inbox.ConversationID
	Text string
}

func loadDraft(c Core, id inbox.ConversationID) tea.Cmd {
	return func() tea.Msg {
		t, err := c.Draft(id)
		if err != nil {
			return statusMsg{Text: "the draft could not be read: " + err.Error(), Err: true}
		}
		return draftMsg{Conv: id, Text: t}
	}
}

// draft is what the conversation would lose if it closed now: the
// composer's text, or the draft set aside while a message is edited.
func (c *conversationView) draft() string {
	if c.editing != nil {
		return c.savedDraft
	}
	return c.composer.value()
}

// keepDraft saves the draft (see draftBook.keep).
func (c *conversationView) keepDraft() tea.Cmd { return c.env.drafts.keep(c.id, c.draft()) }

// restoreDraft puts the conversation's draft in the composer: at once if
// this screen knows it, else once the core answers (onDraft).
func (c *conversationView) restoreDraft() tea.Cmd {
	if t, ok := c.env.drafts.known(c.id); ok {
		c.composer.set(t)
		return nil
	}
	return loadDraft(c.env.core, c.id)
}

// onDraft fills an untouched composer with the stored draft.
func (c *conversationView) onDraft(m draftMsg) {
	if m.Conv != c.id {
		return
	}
	c.env.drafts.loaded(c.id, m.Text)
	if c.composer.value() == "" && c.editing == nil {
		c.composer.set(m.Text)
	}
}
