package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"polyglot/inbox"
)

// searchLimit bounds one full-text query.
const searchLimit = 100

// searchView runs a full-text query as the user types and opens the
// conversation of the chosen hit.
type searchView struct {
	env     *env
	input   textinput.Model
	hits    []inbox.SearchHit
	seq     int // of the newest query sent; older answers are dropped
	shown   int // seq of the hits on screen
	cursor  int
	top     int
	err     error
	width   int
	height  int
	lastRun string
}

func newSearch(e *env) *searchView {
	in := e.newInput()
	in.Placeholder = "search all conversations"
	in.Prompt = "/ "
	in.CharLimit = 256
	in.Focus()
	return &searchView{env: e, input: in}
}

func (s *searchView) setSize(w, h int) {
	s.width, s.height = w, h
	s.input.Width = w - 4
}

func (s *searchView) visible() int {
	n := (s.height - 2) / 2
	if n < 1 {
		n = 1
	}
	return n
}

func (s *searchView) query() tea.Cmd {
	q := strings.TrimSpace(s.input.Value())
	if q == s.lastRun {
		return nil
	}
	s.lastRun = q
	s.seq++
	if q == "" {
		s.hits, s.shown, s.err = nil, s.seq, nil
		return nil
	}
	return runSearch(s.env.core, s.seq, q, searchLimit)
}

func (s *searchView) onResults(m searchMsg) {
	if m.Seq != s.seq {
		return // a newer query is on its way
	}
	s.shown = m.Seq
	s.hits, s.err = m.Hits, m.Err
	s.cursor, s.top = 0, 0
}

func (s *searchView) move(d int) {
	s.cursor += d
	if s.cursor >= len(s.hits) {
		s.cursor = len(s.hits) - 1
	}
	if s.cursor < 0 {
		s.cursor = 0
	}
	if s.cursor < s.top {
		s.top = s.cursor
	}
	if v := s.visible(); s.cursor >= s.top+v {
		s.top = s.cursor - v + 1
	}
}

func (s *searchView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.MouseMsg:
		if msg.Action == tea.MouseActionPress {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				s.move(-1)
			case tea.MouseButtonWheelDown:
				s.move(1)
			}
		}
		return nil
	case tea.KeyMsg:
		switch msg.String() {
		case "esc":
			return cmdOf(backMsg{})
		case "up", "ctrl+p", "ctrl+k":
			s.move(-1)
			return nil
		case "down", "ctrl+n", "ctrl+j":
			s.move(1)
			return nil
		case "enter":
			if q := strings.TrimSpace(s.input.Value()); q != s.lastRun {
				return s.query()
			}
			if s.cursor < len(s.hits) {
				return s.open(s.hits[s.cursor])
			}
			return nil
		}
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(msg)
	return tea.Batch(cmd, s.query())
}

// open shows a hit: a message in its conversation, selected; a name or
// address its conversation.
func (s *searchView) open(h inbox.SearchHit) tea.Cmd {
	conv := h.Conversation
	if conv == 0 {
		conv = h.Message.Conversation
	}
	if h.Message.ID == 0 {
		return cmdOf(openConversationMsg{ID: conv})
	}
	return cmdOf(openMessageMsg{Conv: conv, ID: h.Message.ID})
}

func (s *searchView) View() string {
	st := s.env.st
	w := s.width
	var b strings.Builder
	b.WriteString(s.input.View() + "\n")
	switch {
	case s.err != nil:
		b.WriteString(st.errStyle.Render(inline("search failed: "+s.err.Error(), w)))
		return b.String()
	case s.lastRun == "":
		b.WriteString(st.dim.Render("type to search; ↑/↓ select, enter opens, esc goes back"))
		return b.String()
	case s.shown != s.seq:
		b.WriteString(st.dim.Render("searching…"))
		return b.String()
	case len(s.hits) == 0:
		b.WriteString(st.dim.Render("nothing matches"))
		return b.String()
	}
	now := s.env.now()
	end := s.top + s.visible()
	if end > len(s.hits) {
		end = len(s.hits)
	}
	for i := s.top; i < end; i++ {
		h := s.hits[i]
		mark := "  "
		if i == s.cursor {
			mark = st.selected.Render("▌") + " "
		}
		var right string
		switch {
		case h.Message.ID != 0:
			right = st.netBadge(h.Message.Network) + " " + padLeft(relTime(now, h.Message.At), 6)
		case h.Network != "":
			right = st.netBadge(h.Network) // an address matched
		}
		tw := w - 2 - styledWidth(right) - 1
		b.WriteString(mark + st.title.Render(padRight(inline(h.Title, tw), tw)) + " " + right + "\n")
		snip, label := h.Snippet, ""
		if snip == "" {
			snip = h.Message.Body + h.Name
		}
		if h.Message.ID == 0 && h.NameKind != "" {
			label = h.NameKind + " "
		}
		b.WriteString("    " + st.dim.Render(label) + highlightMatches(preview(snip, w-4-len(label)), st.dim, st.button) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// highlightMatches draws a sanitized line with the parts between the
// snippet markers in match and the rest in plain, without the markers.
func highlightMatches(line string, plain, match lipgloss.Style) string {
	var b strings.Builder
	for line != "" {
		i := strings.Index(line, inbox.SnippetOpen)
		if i < 0 {
			b.WriteString(plain.Render(line))
			break
		}
		if i > 0 {
			b.WriteString(plain.Render(line[:i]))
		}
		line = line[i+len(inbox.SnippetOpen):]
		j := strings.Index(line, inbox.SnippetClose)
		if j < 0 {
			j = len(line) // cut off by the width
		}
		if j > 0 {
			b.WriteString(match.Render(line[:j]))
		}
		line = strings.TrimPrefix(line[j:], inbox.SnippetClose)
	}
	return b.String()
}
