package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// The history focus has a selected message: j/k move it, the window
// scrolls to keep it in view and older pages load as it nears the top of
// what is loaded. Actions (open, reply, edit, react, delete) apply to it.

// olderPageMargin is how close (in messages) the selection may come to the
// oldest loaded message before the next older page is asked for.
const olderPageMargin = 5

// selected returns the index of the selected message in the window, or -1.
func (c *conversationView) selected() int {
	if c.sel == 0 {
		return -1
	}
	return indexOf(c.msgs, c.sel)
}

// selectedMsg is the selected message, if any.
func (c *conversationView) selectedMsg() (inbox.Message, bool) {
	if i := c.selected(); i >= 0 {
		return c.msgs[i], true
	}
	return inbox.Message{}, false
}

// selectable says whether the user can act on message i (not a system line).
func (c *conversationView) selectable(i int) bool { return c.msgs[i].Kind == inbox.KindText }

// selectNewest selects the newest message (entering the history focus).
func (c *conversationView) selectNewest() {
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if c.selectable(i) {
			c.setSelection(i)
			return
		}
	}
	c.setSelection(-1)
}

// setSelection selects message i (-1: none), redraws the two messages
// whose highlight changed and keeps the selection in view.
func (c *conversationView) setSelection(i int) {
	old := c.selected()
	c.sel = 0
	if i >= 0 {
		c.sel = c.msgs[i].ID
	}
	if old >= 0 {
		c.rerender(old)
	}
	if i >= 0 {
		c.rerender(i)
		c.showSelection()
	}
}

// moveSelection moves d selectable messages (negative: older) and loads
// the next older page when the selection nears the top of the window.
func (c *conversationView) moveSelection(d int) tea.Cmd {
	i := c.selected()
	if i < 0 {
		c.selectNewest()
		return nil
	}
	step := 1
	if d < 0 {
		step, d = -1, -d
	}
	for j := i + step; j >= 0 && j < len(c.msgs) && d > 0; j += step {
		if c.selectable(j) {
			i, d = j, d-1
		}
	}
	c.setSelection(i)
	if i < olderPageMargin {
		return c.loadOlder()
	}
	return nil
}

// lineSpan is the first line and the line count of message i in c.lines.
func (c *conversationView) lineSpan(i int) (int, int) {
	start := 0
	for _, n := range c.msgLines[:i] {
		start += n
	}
	return start, c.msgLines[i]
}

// showSelection scrolls the least needed to show the selected message
// (its top, when it is taller than the window).
func (c *conversationView) showSelection() {
	i := c.selected()
	if i < 0 || i >= len(c.msgLines) {
		return
	}
	start, n := c.lineSpan(i)
	hh := c.historyHeight()
	bottom := len(c.lines) - c.offset // exclusive
	top := bottom - hh
	switch {
	case start < top || n > hh:
		c.offset = len(c.lines) - start - hh
	case start+n > bottom:
		c.offset = len(c.lines) - (start + n)
	}
	c.clampOffset()
}

// selectVisible moves the selection into the window after a free scroll
// (page keys, wheel), so an action never hits a message out of sight.
func (c *conversationView) selectVisible() {
	i := c.selected()
	if i < 0 || c.focus != focusHistory {
		return
	}
	start, n := c.lineSpan(i)
	bottom := len(c.lines) - c.offset
	top := bottom - c.historyHeight()
	if start >= top && start+n <= bottom {
		return
	}
	best, s := -1, 0
	for j := range c.msgs {
		m := c.msgLines[j]
		if c.selectable(j) && s >= top && s+m <= bottom {
			best = j
			if start < top { // the window moved above it: take the first visible
				break
			}
		}
		s += m
	}
	if best >= 0 {
		offset := c.offset
		c.setSelection(best)
		c.offset = offset
	}
}

// rerender redraws message i in place (its highlight changed).
func (c *conversationView) rerender(i int) {
	if i < 0 || i >= len(c.msgLines) || c.width <= 0 {
		return
	}
	start, n := c.lineSpan(i)
	r := c.renderMessage(i)
	if len(r) == n {
		copy(c.lines[start:], r)
		return
	}
	lines := make([]string, 0, len(c.lines)-n+len(r))
	lines = append(append(append(lines, c.lines[:start]...), r...), c.lines[start+n:]...)
	if start >= len(c.lines)-c.offset {
		// Below the window: keep what is on screen still.
		c.offset += len(r) - n
	}
	c.lines, c.msgLines[i] = lines, len(r)
}
