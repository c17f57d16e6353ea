//go:build !unix

package tui

import "os/exec"

// detach: only unix needs a new session to keep the opener off the TUI's
// terminal.
func detach(*exec.Cmd) {}
