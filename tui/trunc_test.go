package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
)

// TestTruncateStyledKeepsWhatFits: a line twice the width is cut to the
// width, not to a fraction of it; one that per-code-point terminals see
// wider (👩🏽‍💻) is cut until it fits both counts.
func TestTruncateStyledKeepsWhatFits(t *testing.T) {
	long := strings.Repeat("abcdefghij", 20)
	if got := truncateStyled(long, 80); lipgloss.Width(got) != 80 || !strings.HasPrefix(got, long[:79]) {
		t.Fatalf("cut to %d cells: %q", lipgloss.Width(got), got)
	}
	emoji := strings.Repeat("👩🏽‍💻", 30)
	got := truncateStyled(emoji, 40)
	if lipgloss.Width(got) > 40 || codepointWidth(got) > 40 || codepointWidth(got) < 30 {
		t.Fatalf("emoji line: grapheme width %d, code point width %d", lipgloss.Width(got), codepointWidth(got))
	}
	if truncateStyled("short", 80) != "short" || truncateStyled("x", 0) != "" {
		t.Fatal("short lines must stay; width 0 gives nothing")
	}
}
