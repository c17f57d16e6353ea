package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"
)

// composerHeight is the textarea's rows (a border-less input).
const composerHeight = 3

// composer is the message input: Enter sends, Alt+Enter breaks the line,
// Esc leaves (the draft stays).
type composer struct {
	ta   textarea.Model
	keys *KeyMap
}

// composerEvent is what a key in the composer means to the conversation.
type composerEvent int

const (
	composerNone composerEvent = iota
	composerSend
	composerLeave
	composerCycleRoute
)

func newComposer(st *styles, keys *KeyMap) *composer {
	ta := textarea.New()
	// The theme's looks, not the widget's defaults: those follow neither
	// the theme nor NO_COLOR, and their adaptive colours would make
	// lipgloss query the terminal while Bubble Tea reads its input.
	for _, s := range []*textarea.Style{&ta.FocusedStyle, &ta.BlurredStyle} {
		s.Base = st.t.Text
		s.Text = st.t.Text
		s.CursorLine = st.t.Text
		s.Placeholder = st.dim
		s.Prompt = st.t.Border
		s.EndOfBuffer = st.dim
		s.LineNumber = st.dim
		s.CursorLineNumber = st.dim
	}
	ta.Cursor.Style = st.t.Text.Reverse(true)
	ta.Cursor.TextStyle = st.t.Text
	ta.Placeholder = "Write a message… (" + keyName(keys.Send) + " sends, " + keyName(keys.Newline) + " new line, " +
		keyName(keys.LeaveInput) + " leaves)"
	ta.ShowLineNumbers = false
	ta.Prompt = "┃ "
	ta.CharLimit = 0
	ta.SetHeight(composerHeight)
	ta.KeyMap.InsertNewline = keys.Newline
	// A steady cursor: no blink ticks redrawing the screen twice a second.
	ta.Cursor.SetMode(cursor.CursorStatic)
	return &composer{ta: ta, keys: keys}
}

func (c *composer) setWidth(w int) {
	if w < 4 {
		w = 4
	}
	c.ta.SetWidth(w)
}

func (c *composer) focus() tea.Cmd { return c.ta.Focus() }
func (c *composer) blur()          { c.ta.Blur() }
func (c *composer) focused() bool  { return c.ta.Focused() }
func (c *composer) value() string  { return c.ta.Value() }
func (c *composer) empty() bool    { return strings.TrimSpace(c.ta.Value()) == "" }
func (c *composer) reset()         { c.ta.Reset() }
func (c *composer) set(s string)   { c.ta.SetValue(s) }

// Update handles one message while focused and says what it meant.
func (c *composer) Update(msg tea.Msg) (composerEvent, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, c.keys.Send):
			return composerSend, nil
		case key.Matches(k, c.keys.LeaveInput):
			return composerLeave, nil
		case key.Matches(k, c.keys.Route):
			return composerCycleRoute, nil
		}
	}
	var cmd tea.Cmd
	c.ta, cmd = c.ta.Update(msg)
	return composerNone, cmd
}

func (c *composer) View() string { return c.ta.View() }
