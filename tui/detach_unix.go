//go:build unix

package tui

import (
	"os/exec"
	"syscall"
)

// detach runs the opener in its own session: no controlling terminal, so
// nothing it starts can read the keyboard or draw over the TUI, and it
// outlives a quit.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }
