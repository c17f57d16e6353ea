package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// rowHeight is the lines one conversation takes in the list.
const rowHeight = 2

// emptyInboxContacts is how many contacts an inbox with no conversation
// lists, so a first login (or a server that keeps no archive) shows the
// people the user can write to rather than nothing.
const emptyInboxContacts = 50

// inboxList is the merged conversation list. It holds a window of the store
// (the pages loaded so far) and asks for the next page as the cursor nears
// the end.
type inboxList struct {
	env     *env
	reads   readSeq
	items   []inbox.Conversation
	cursor  int
	top     int // first visible item
	more    bool
	loading bool
	loaded  bool
	// picked: the user has moved the selection or opened a row; until then
	// it stays on the top row while conversations arrive and reorder.
	picked bool
	// contacts are shown while there is no conversation (see View).
	contacts []inbox.ContactMatch
	requests int
	width    int
	height   int // lines available for rows
}

func newInboxList(e *env) *inboxList { return &inboxList{env: e, more: true} }

// refresh re-reads the loaded window (at least one page) from the top.
func (l *inboxList) refresh() tea.Cmd {
	n := len(l.items)
	if n < l.env.page {
		n = l.env.page
	}
	return loadConversations(l.env.core, inbox.Cursor{}, n, false, l.reads.next())
}

func (l *inboxList) loadMore() tea.Cmd {
	if l.loading || !l.more || len(l.items) == 0 {
		return nil
	}
	l.loading = true
	last := l.items[len(l.items)-1]
	return loadConversations(l.env.core, inbox.Cursor{At: last.LastAt, ID: int64(last.ID)}, l.env.page, true, 0)
}

func (l *inboxList) setSize(w, h int) {
	l.width, l.height = w, h
	l.clamp()
}

func (l *inboxList) visibleRows() int {
	n := l.height / rowHeight
	if n < 1 {
		n = 1
	}
	return n
}

func (l *inboxList) clamp() {
	if l.cursor >= len(l.items) {
		l.cursor = len(l.items) - 1
	}
	if l.cursor < 0 {
		l.cursor = 0
	}
	vis := l.visibleRows()
	if l.cursor < l.top {
		l.top = l.cursor
	}
	if l.cursor >= l.top+vis {
		l.top = l.cursor - vis + 1
	}
	if l.top < 0 {
		l.top = 0
	}
}

func (l *inboxList) selected() (inbox.Conversation, bool) {
	if l.cursor < 0 || l.cursor >= len(l.items) {
		return inbox.Conversation{}, false
	}
	return l.items[l.cursor], true
}

func (l *inboxList) onConversations(m conversationsMsg) {
	if m.Append {
		l.loading = false
	} else if !l.reads.fresh(m.Seq) {
		return
	}
	if m.Err != nil {
		return
	}
	l.loaded = true
	if m.Append {
		seen := make(map[inbox.ConversationID]bool, len(l.items))
		for _, c := range l.items {
			seen[c.ID] = true
		}
		for _, c := range m.Items {
			if !seen[c.ID] {
				l.items = append(l.items, c)
			}
		}
		l.more = len(m.Items) >= m.Want
	} else {
		// Keep the selection on the same conversation across reorders.
		var keep inbox.ConversationID
		if c, ok := l.selected(); ok && l.picked {
			keep = c.ID
		}
		if !l.picked {
			l.cursor = 0
		}
		l.items, l.contacts = m.Items, m.Contacts
		l.more = len(m.Items) >= m.Want
		for i, c := range l.items {
			if c.ID == keep {
				l.cursor = i
				break
			}
		}
	}
	l.clamp()
}

// move shifts the cursor and asks for the next page near the end.
func (l *inboxList) move(d int) tea.Cmd {
	l.picked = true
	l.cursor += d
	l.clamp()
	if l.cursor >= len(l.items)-l.visibleRows() {
		return l.loadMore()
	}
	return nil
}

func (l *inboxList) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.MouseMsg:
		if msg.Action != tea.MouseActionPress {
			return nil
		}
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			return l.move(-1)
		case tea.MouseButtonWheelDown:
			return l.move(1)
		}
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, l.env.keys.Up):
			return l.move(-1)
		case key.Matches(msg, l.env.keys.Down):
			return l.move(1)
		case key.Matches(msg, l.env.keys.PageUp):
			return l.move(-l.visibleRows())
		case key.Matches(msg, l.env.keys.PageDown):
			return l.move(l.visibleRows())
		case key.Matches(msg, l.env.keys.Top):
			l.cursor, l.picked = 0, true
			l.clamp()
		case key.Matches(msg, l.env.keys.Bottom):
			l.cursor, l.picked = len(l.items)-1, true
			l.clamp()
			return l.loadMore()
		case key.Matches(msg, l.env.keys.Open):
			if c, ok := l.selected(); ok {
				l.picked = true
				return cmdOf(openConversationMsg{ID: c.ID})
			}
		case key.Matches(msg, l.env.keys.Person):
			if c, ok := l.selected(); ok {
				if c.Kind != inbox.Direct || c.Person == 0 {
					return cmdOf(statusMsg{Text: "a group has no person view"})
				}
				return cmdOf(openPersonMsg{ID: c.Person})
			}
		case key.Matches(msg, l.env.keys.Requests), key.Matches(msg, l.env.keys.Inbox):
			return cmdOf(openRequestsMsg{})
		case key.Matches(msg, l.env.keys.Search):
			return cmdOf(openSearchMsg{})
		}
	}
	return nil
}

// View draws the visible rows only.
func (l *inboxList) View() string {
	st := l.env.st
	if len(l.items) == 0 {
		if !l.loaded {
			return st.dim.Render("Loading…")
		}
		return l.emptyView()
	}
	now := l.env.now()
	var b strings.Builder
	vis := l.visibleRows()
	end := l.top + vis
	if end > len(l.items) {
		end = len(l.items)
	}
	for i := l.top; i < end; i++ {
		if i > l.top {
			b.WriteByte('\n')
		}
		b.WriteString(l.row(l.items[i], i == l.cursor, now))
	}
	if l.loading {
		b.WriteString("\n" + st.dim.Render("Loading more…"))
	}
	return b.String()
}

// emptyView is the inbox with no conversation: the user's contacts, if
// any, and how to write to one.
func (l *inboxList) emptyView() string {
	st, k := l.env.st, l.env.keys
	requests := "Message requests wait under Requests (" + keyName(k.Requests) + ")."
	if len(l.contacts) == 0 {
		return st.dim.Render("No conversations yet. " + requests)
	}
	lines := []string{st.dim.Render("No conversations yet. Your contacts — " + keyName(k.NewConversation) + " to write to one:")}
	room := max(l.height-2, 1)
	for i, c := range l.contacts {
		if i == room-1 && len(l.contacts) > room {
			lines = append(lines, st.dim.Render(fmt.Sprintf("  … and more (%s, then type a name)", keyName(k.NewConversation))))
			break
		}
		lines = append(lines, contactLine(st, "  ", c, "", l.width))
	}
	return strings.Join(append(lines, st.dim.Render(requests)), "\n")
}

func (l *inboxList) row(c inbox.Conversation, sel bool, now time.Time) string {
	st := l.env.st
	w := l.width
	marker := "  "
	if sel {
		marker = st.selected.Render("▌") + " "
	}
	// Right side: badges, time, unread count.
	var badges []string
	for _, n := range c.Networks {
		badges = append(badges, st.netBadge(n))
	}
	right := strings.Join(badges, " ")
	if t := relTime(now, c.LastAt); t != "" {
		right += " " + padLeft(t, 6)
	}
	if c.Unread > 0 {
		right += " " + st.unread.Render(fmt.Sprintf("(%d)", c.Unread))
	}
	rw := styledWidth(right)
	nameW := w - 2 - rw - 1
	name := inline(c.Title, nameW)
	if c.Title == "" {
		name = "(unnamed)"
	}
	nameStyle := st.their
	if c.Unread > 0 {
		nameStyle = st.unread
	}
	if sel {
		nameStyle = st.selected
	}
	line1 := marker + nameStyle.Render(padRight(name, max(nameW, 0))) + " " + right
	var second string
	switch {
	case c.Typing:
		second = st.typing.Render(inline(c.Title, w/2) + " is typing…")
	case c.Request:
		second = st.warn.Render("request: ") + st.dim.Render(preview(c.Preview, w-13))
	default:
		second = st.dim.Render(preview(c.Preview, w-4))
	}
	return line1 + "\n    " + second
}

func padLeft(s string, w int) string {
	n := cellWidth(s)
	if n >= w {
		return s
	}
	return strings.Repeat(" ", w-n) + s
}
