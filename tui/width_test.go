package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
)

// A frame line must not be wider than the terminal under either way of
// counting emoji, or the terminal wraps it and the whole frame scrolls.
func TestTruncateStyledFitsPerCodepointTerminals(t *testing.T) {
	for _, s := range []string{
		"José Álvarez 👩🏽‍💻" + strings.Repeat(" ", 60) + "MX 41m",
		"Priya Sharma 🌶️" + strings.Repeat(".", 70),
		"👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦",
		lipgloss.NewStyle().Bold(true).Render("山田 花子 🥾⛰️ " + strings.Repeat("x", 80)),
	} {
		for _, w := range []int{10, 40, 80} {
			got := truncateStyled(s, w)
			if lipgloss.Width(got) > w || codepointWidth(got) > w {
				t.Errorf("truncateStyled(%q, %d) = %q: %d cells by grapheme, %d by code point",
					s, w, got, lipgloss.Width(got), codepointWidth(got))
			}
		}
	}
	if got := truncateStyled("plain short line", 80); got != "plain short line" {
		t.Errorf("a fitting line changed: %q", got)
	}
}
