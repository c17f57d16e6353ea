package tui

import (
	tea "github.com/charmbracelet/bubbletea"
)

// onExtra handles the messages of copy/link/editor, unread navigation and
// new conversations (kept apart from root.go's big switch); handled says
// the root need not look further.
func (m *rootModel) onExtra(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		// Observed only: the root lays out its screens.
		if m.newConv != nil {
			m.newConv.setWidth(msg.Width)
		}
		if m.link != nil {
			m.link.setWidth(msg.Width)
		}
		return nil, false
	case accountsMsg:
		// Observed only: the root goes on to show the states.
		if m.env.mentions.setNames(msg.Names) && m.conv != nil {
			m.conv.rebuild()
		}
		return nil, false
	case unreadMarkMsg:
		if m.conv != nil {
			return m.conv.onUnreadMark(msg), true
		}
		return nil, true
	case unreadJumpMsg:
		return m.onUnreadJump(msg), true
	case newConvDoneMsg:
		return m.onNewConvDone(msg), true
	case contactsMsg:
		if m.newConv != nil {
			return m.newConv.onContacts(msg), true
		}
		return nil, true
	case editorMsg:
		if m.conv != nil {
			return m.conv.onEditor(msg), true
		}
		return nil, true
	case fileCheckedMsg:
		if m.conv != nil {
			return m.conv.Update(msg), true
		}
		return nil, true
	case uploadsMsg:
		m.uploads = msg.Ups
		return nil, true
	case findMsg:
		if m.person != nil {
			return m.person.onFind(msg), true
		}
		return nil, true
	}
	return m.onLinkMsg(msg)
}

// extraKey handles ] and [ (and the new-conversation form) before the
// screens see the key; ok says it did.
func (m *rootModel) extraKey(k tea.KeyMsg) (tea.Cmd, bool) {
	if cmd, ok := m.newConvKey(k); ok {
		return cmd, true
	}
	if cmd, ok := m.linkKey(k); ok {
		return cmd, true
	}
	if backward, ok := m.unreadKey(k); ok {
		m.status, m.statusErr = "", false
		return m.jumpUnread(backward), true
	}
	return nil, false
}
