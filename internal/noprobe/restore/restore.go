// Package restore gives TERM back once Bubble Tea's package init has run
// (see package noprobe). Import it for its side effect from main.
package restore

import (
	_ "github.com/charmbracelet/bubbletea" // initialized before this package

	"polyglot/internal/noprobe"
)

func init() { noprobe.Restore() }
