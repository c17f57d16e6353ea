// Package noprobe keeps Bubble Tea v1 from querying the terminal while the
// program starts.
//
// bubbletea v1.3's package init (tea_init.go) calls
// lipgloss.HasDarkBackground(), which writes OSC 11 and a cursor position
// request to a terminal stdout and waits up to 5 s for the answers. An
// answer that comes late (a loaded machine, SSH) lands in the TUI's input as
// typed text, and every command — `polyglot send` too — pays the wait.
// Polyglot picks dark or light from the configured theme or COLORFGBG
// instead (package themes), so the query is never needed.
//
// There is no opt-out in v1, so this package hides TERM (termenv asks no
// terminal called "dumb") for the few package inits in between: it imports
// only os, so Go initializes it long before Bubble Tea (which needs lipgloss
// and termenv first), and package restore, which imports Bubble Tea, puts
// TERM back right after. cmd/polyglot imports restore; the e2e tests check
// every raw pane output for queries, and TestNoProbeRunsBeforeBubbleTea the
// init order.
package noprobe

import "os"

// term is TERM as the user set it; set says whether it was set at all.
var term, set = os.LookupEnv("TERM")

func init() {
	_ = os.Setenv("TERM", "dumb")
}

// Restore puts TERM back as it was.
func Restore() {
	if set {
		_ = os.Setenv("TERM", term)
	} else {
		_ = os.Unsetenv("TERM")
	}
}
