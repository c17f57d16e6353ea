package tui

import (
	tea "github.com/charmbracelet/bubbletea"
)

// onExtra handles the messages of copy/link/editor, unread navigation and
// new conversations (kept apart from root.go's big switch); handled says
// the root need not look further.
func (m *rootModel) onExtra(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	switch msg := msg.(type) {
	case editorMsg:
		if m.conv != nil {
			return m.conv.onEditor(msg), true
		}
		return nil, true
	}
	return nil, false
}
