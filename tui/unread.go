package tui

import (
	"context"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// Unread: the "new messages" divider of a freshly opened conversation and
// ]/[ to the next or previous conversation with unread messages.

// UnreadNavigator is the optional Core part behind ] and [ (*inbox.Inbox
// has it): the next unread inbox conversation after from in the list's
// order, or before it, wrapping around; 0 when there is none.
type UnreadNavigator interface {
	NextUnread(from inbox.ConversationID, backward bool) (inbox.ConversationID, error)
}

// unreadMarkMsg is what a conversation knew of its unread part when it was
// opened, read just before it was marked read.
type unreadMarkMsg struct {
	Conv   inbox.ConversationID
	Unread int
	// Newest is the newest message at that moment: the unread messages
	// are the last Unread incoming ones up to it.
	Newest inbox.MessageID
	Err    error // of marking it read
}

// unreadJumpMsg is the conversation ] or [ leads to (0: none).
type unreadJumpMsg struct {
	ID  inbox.ConversationID
	Err error
}

// readMark reads how much of the conversation is unread, then marks it
// read, in that order: the divider must see the count before it is reset.
func readMark(ctx context.Context, c Core, id inbox.ConversationID) tea.Cmd {
	return func() tea.Msg {
		m := unreadMarkMsg{Conv: id}
		if conv, err := c.Conversation(id); err == nil {
			m.Unread = conv.Unread
		}
		if m.Unread > 0 {
			if ms, err := c.Messages(id, inbox.Cursor{}, 1); err == nil && len(ms) == 1 {
				m.Newest = ms[0].ID
			}
		}
		m.Err = c.MarkRead(ctx, id)
		return m
	}
}

// onUnreadMark places the divider; it stays where it is until the user
// leaves the conversation, however many messages arrive meanwhile.
func (c *conversationView) onUnreadMark(m unreadMarkMsg) tea.Cmd {
	if m.Conv != c.id {
		return nil
	}
	if !c.markSeen {
		c.markSeen = true
		c.unreadAtOpen, c.newestAtOpen = m.Unread, m.Newest
		c.rebuild()
		c.clampOffset()
	}
	var cmds []tea.Cmd
	if m.Err != nil {
		cmds = append(cmds, cmdOf(doneMsg{What: "mark read", Err: m.Err}))
	}
	// Something arrived between the read and now: it is on screen too.
	if k := indexOf(c.msgs, m.Newest); m.Newest != 0 && k >= 0 && k < len(c.msgs)-1 && !c.env.away {
		cmds = append(cmds, markRead(c.env.ctx, c.env.core, c.id))
	}
	return tea.Batch(append(cmds, c.seekDivider())...)
}

// maxSeekMessages bounds how far back opening pages to find the divider;
// beyond it the divider appears when the user scrolls there.
const maxSeekMessages = 500

// seekDivider loads older pages while the divider's message is not loaded
// yet (a conversation opened with more unread than one page).
func (c *conversationView) seekDivider() tea.Cmd {
	if !c.markSeen || c.divider != 0 || c.unreadAtOpen <= 0 || c.exhausted || len(c.msgs) == 0 ||
		len(c.msgs) >= maxSeekMessages || indexOf(c.msgs, c.newestAtOpen) < 0 {
		return nil
	}
	return c.loadOlder()
}

// counted says whether m is of the kind the core counts as unread.
func counted(m inbox.Message) bool { return !m.Outgoing && m.Kind == inbox.KindText }

// findDivider is the message the divider goes above: counting back from
// the newest message at opening, the oldest of the unread ones. 0: no
// divider (nothing was unread, or that message is not loaded yet).
func (c *conversationView) findDivider() inbox.MessageID {
	if c.unreadAtOpen <= 0 || c.newestAtOpen == 0 {
		return 0
	}
	k := indexOf(c.msgs, c.newestAtOpen)
	if k < 0 {
		return 0
	}
	n := 0
	for i := k; i >= 0; i-- {
		if counted(c.msgs[i]) {
			if n++; n == c.unreadAtOpen {
				return c.msgs[i].ID
			}
		}
	}
	// Fewer incoming messages than the count: with the whole history
	// loaded, all of it is new.
	if c.exhausted {
		for i := 0; i <= k; i++ {
			if counted(c.msgs[i]) {
				return c.msgs[i].ID
			}
		}
	}
	return 0
}

// showDivider scrolls, once, so the divider found first is on screen:
// with more unread than fits, reading starts at the oldest unread.
func (c *conversationView) showDivider() {
	if c.divider == 0 || c.dividerShown {
		return
	}
	c.dividerShown = true
	k := indexOf(c.msgs, c.divider)
	if k < 0 || c.offset != 0 {
		return
	}
	line := 0
	for _, n := range c.msgLines[:k] {
		line += n
	}
	// The day line may sit above the divider inside the message's lines.
	if off := len(c.lines) - line - c.historyHeight(); off > 0 {
		c.offset = off
	}
}

// dividerLine is the "new messages" rule across the history.
func (c *conversationView) dividerLine() string {
	label := " new messages "
	side := (c.width - cellWidth(label)) / 2
	if side < 2 {
		return c.env.st.divider.Render(label)
	}
	return c.env.st.divider.Render(repeat("─", side) + label + repeat("─", c.width-side-cellWidth(label)))
}

func repeat(s string, n int) string {
	if n <= 0 {
		return ""
	}
	out := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		out = append(out, s...)
	}
	return string(out)
}

// jumpUnread answers ] and [: from the list, the selected conversation if
// it is unread, else the next one; from a conversation, the next one
// after it.
func (m *rootModel) jumpUnread(backward bool) tea.Cmd {
	nav, ok := m.env.core.(UnreadNavigator)
	if !ok {
		return cmdOf(statusMsg{Text: "this build cannot look for unread conversations"})
	}
	var from inbox.ConversationID
	switch m.screen {
	case screenInbox:
		if c, ok := m.list.selected(); ok {
			if c.Unread > 0 {
				return cmdOf(openConversationMsg{ID: c.ID})
			}
			from = c.ID
		}
	case screenConversation:
		from = m.conv.conversation()
	}
	return func() tea.Msg {
		id, err := nav.NextUnread(from, backward)
		return unreadJumpMsg{ID: id, Err: err}
	}
}

func (m *rootModel) onUnreadJump(msg unreadJumpMsg) tea.Cmd {
	switch {
	case msg.Err != nil:
		m.status, m.statusErr = "unread: "+msg.Err.Error(), true
		return nil
	case msg.ID == 0:
		m.status, m.statusErr = "no other conversation has unread messages", false
		return nil
	case m.screen == screenConversation && m.conv != nil && m.conv.conversation() == msg.ID:
		return nil
	}
	// Out of the list's order if the user moves on before it answers.
	if m.screen != screenInbox && m.screen != screenConversation {
		return nil
	}
	return cmdOf(openConversationMsg{ID: msg.ID})
}

// unreadKey says whether k is ] or [ where they work: the inbox list and
// a conversation's history (not while typing or answering a question).
func (m *rootModel) unreadKey(k tea.KeyMsg) (backward, ok bool) {
	if m.showHelp || m.typing() {
		return false, false
	}
	switch m.screen {
	case screenInbox:
	case screenConversation:
		if m.conv == nil || m.conv.asking() {
			return false, false
		}
	default:
		return false, false
	}
	switch {
	case key.Matches(k, m.env.keys.NextUnread):
		return false, true
	case key.Matches(k, m.env.keys.PrevUnread):
		return true, true
	}
	return false, false
}
