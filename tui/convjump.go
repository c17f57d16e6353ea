package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// openMessageMsg opens conversation Conv scrolled to message ID, selected
// (enter on a search hit).
type openMessageMsg struct {
	Conv inbox.ConversationID
	ID   inbox.MessageID
}

// jumpMsg is the history read for openMessageMsg: shown as a refresh, then
// Select is selected.
type jumpMsg struct {
	messagesMsg
	Select inbox.MessageID
}

// maxJump bounds how far back from the newest message opening a
// conversation at a message (a search hit) reads: the view's window always
// reaches the newest message, and every message in it is drawn again on
// each refresh (2,000: 60 ms to open, 45 ms a refresh, measured with the
// machine loaded 5× over its cores).
const maxJump = 2000

// openAt is open for a conversation shown at message target: the history
// has the keyboard, target is selected and in view.
func (c *conversationView) openAt(target inbox.MessageID) tea.Cmd {
	e := c.env
	c.composer.blur()
	c.focus = focusHistory
	return tea.Batch(
		loadConvHeader(e.core, c.id),
		loadThrough(e.core, c.id, target, e.page, c.reads.next()),
		c.loadPlan(),
		markRead(e.ctx, e.core, c.id),
		c.restoreDraft(), // else leaving would store the empty composer over it
	)
}

// loadThrough reads a conversation from its newest message back to target
// and page messages before it (context to scroll up into), at most
// maxJump; the answer selects target. Past maxJump it reads only the
// newest page, and the view says the message is too far back.
func loadThrough(core Core, id inbox.ConversationID, target inbox.MessageID, page, seq int) tea.Cmd {
	return func() tea.Msg {
		var all []inbox.Message // oldest first
		var cur inbox.Cursor
		found := -1 // messages in all older than target
		start := false
		for found < page && len(all) < maxJump {
			items, err := core.Messages(id, cur, inbox.MaxPage)
			if err != nil {
				return jumpMsg{messagesMsg: messagesMsg{Conv: id, Seq: seq, Err: err}}
			}
			all = append(items, all...)
			if found < 0 {
				found = indexOf(all, target)
			} else {
				found += len(items)
			}
			if len(items) < inbox.MaxPage {
				start = true
				break
			}
			cur = inbox.Cursor{At: items[0].At, ID: int64(items[0].ID)}
		}
		if found < 0 {
			all = all[max(len(all)-page, 0):]
			start = false
		} else if found > page {
			all, start = all[found-page:], false
		}
		// Want above the count marks the window as the whole history.
		want := len(all)
		if start {
			want++
		}
		return jumpMsg{messagesMsg{Conv: id, Items: all, Want: want, Seq: seq}, target}
	}
}

// onJump shows the history read by loadThrough and selects the message
// asked for, scrolled into view; it says so when the message is not in
// the window.
func (c *conversationView) onJump(m jumpMsg) tea.Cmd {
	stale := m.Seq < c.reads.applied
	cmd := c.onMessages(m.messagesMsg)
	if m.Err != nil || m.Conv != c.id {
		return cmd
	}
	i := indexOf(c.msgs, m.Select)
	if i < 0 && stale {
		// A refresh of the newest messages overtook it: read again.
		return tea.Batch(cmd, loadThrough(c.env.core, c.id, m.Select, c.env.page, c.reads.next()))
	}
	if i < 0 {
		return tea.Batch(cmd, cmdOf(statusMsg{Text: "that message is too far back to show; this is the newest"}))
	}
	c.focus = focusHistory
	c.composer.blur()
	c.setSelection(i)
	// In the middle of the window, with what led up to it above.
	start, n := c.lineSpan(i)
	if hh := c.historyHeight(); n < hh {
		c.offset = len(c.lines) - start - n - (hh-n)/2
		c.clampOffset()
	}
	return cmd
}
