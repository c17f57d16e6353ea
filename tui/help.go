package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// helpView is the "?" overlay: every key on every screen, from the same
// bindings the handlers match, scrollable when the window is short.
type helpView struct {
	env    *env
	top    int
	width  int
	height int
	lines  []string
}

func newHelp(e *env) *helpView { return &helpView{env: e} }

func (h *helpView) setSize(w, hgt int) {
	h.width, h.height = w, hgt
	h.lines = h.render()
	h.clamp()
}

func (h *helpView) render() []string {
	st := h.env.st
	var out []string
	out = append(out, st.title.Render("Keys")+st.dim.Render("   (? or esc closes; j/k scroll)"))
	for _, sec := range helpSections(h.env.keys) {
		out = append(out, "", st.unread.Render(sec.Title))
		for _, b := range sec.Bindings {
			out = append(out, "  "+padRight(b.Help().Key, 16)+" "+b.Help().Desc)
		}
	}
	out = append(out, "", st.dim.Render("Marks: "+st.enc(0)+" unencrypted  "+st.enc(1)+" TLS only  "+st.enc(2)+" E2EE  "+st.enc(3)+" E2EE verified"))
	return out
}

func (h *helpView) clamp() {
	maxTop := len(h.lines) - h.height
	if h.top > maxTop {
		h.top = maxTop
	}
	if h.top < 0 {
		h.top = 0
	}
}

// Update returns true when the overlay should close.
func (h *helpView) Update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, h.env.keys.Help), msg.String() == "esc", msg.String() == "q":
			return true
		case key.Matches(msg, h.env.keys.Down):
			h.top++
		case key.Matches(msg, h.env.keys.Up):
			h.top--
		case key.Matches(msg, h.env.keys.PageDown):
			h.top += h.height / 2
		case key.Matches(msg, h.env.keys.PageUp):
			h.top -= h.height / 2
		}
	case tea.MouseMsg:
		if msg.Action == tea.MouseActionPress {
			switch msg.Button {
			case tea.MouseButtonWheelDown:
				h.top += 3
			case tea.MouseButtonWheelUp:
				h.top -= 3
			}
		}
	}
	h.clamp()
	return false
}

func (h *helpView) View() string {
	end := h.top + h.height
	if end > len(h.lines) {
		end = len(h.lines)
	}
	return strings.Join(h.lines[h.top:end], "\n")
}
