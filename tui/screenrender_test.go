package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"polyglot/themes"
)

// Every text field draws with its own screen's renderer, never with
// lipgloss' process-wide default (which knows some other terminal when a
// core serves several): a screen with colours shows its cursor in reverse
// video whatever the default says, and a screen without (NO_COLOR, a dumb
// terminal) shows no escape sequence at all.
func TestTextFieldsDrawWithTheScreensRenderer(t *testing.T) {
	saved := lipgloss.DefaultRenderer()
	t.Cleanup(func() { lipgloss.SetDefaultRenderer(saved) })

	theme := func(p termenv.Profile) *themes.Theme {
		th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(p)})
		if err != nil {
			t.Fatal(err)
		}
		return th
	}
	colour := newHarnessWith(t, Options{Core: world(1), Theme: theme(termenv.ANSI256)}, 80, 20)
	plain := newHarnessWith(t, Options{Core: world(1), Theme: theme(termenv.Ascii)}, 80, 20)

	// Each text field from the inbox list, and the keys back to it.
	for _, f := range []struct{ name, open, back string }{
		{"search", "/", "esc"}, {"new conversation", "n", "esc"}, {"composer", "enter", "esc esc"},
	} {
		name := f.name
		for _, h := range []*harness{colour, plain} {
			if h.m.screen != screenInbox || h.m.newConv != nil {
				t.Fatalf("%s: not back on the inbox list", name)
			}
			h.keys(f.open)
		}
		lipgloss.SetDefaultRenderer(themes.ForProfile(termenv.Ascii))
		if v := colour.view(); !strings.Contains(v, "\x1b[7m") {
			t.Errorf("%s: the cursor of a colour screen lost its reverse video to the default renderer:\n%q", name, v)
		}
		lipgloss.SetDefaultRenderer(themes.ForProfile(termenv.TrueColor))
		if v := plain.view(); strings.Contains(v, "\x1b[") {
			t.Errorf("%s: a screen without colours shows escape sequences from the default renderer:\n%q", name, v)
		}
		for _, h := range []*harness{colour, plain} {
			h.keys(strings.Fields(f.back)...)
		}
	}
}
