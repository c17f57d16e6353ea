package main

import (
	"strings"
	"testing"
	"time"

	"polyglot/internal/tmuxtest"
)

// config.toml's [keys] rebinds the screen it starts: the header and the
// help name the new keys, the new key acts and the old one no longer
// does. Each old key is pressed before a key that would undo it: "?"
// before "H" (had "?" opened the help, "H" would close it), "r" before
// tab (tab toggles Inbox and Requests).
func TestCustomKeysInTheTerminal(t *testing.T) {
	p := newProfile(t)
	writeConfig(t, p, "[keys]\nhelp = \"H\"\nrequests = \"R, ctrl+q\"\n")
	env := append(p.env(), "POLYGLOT_DEMO_SPEED=0.2", "LANG=C.UTF-8")
	s := tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(30*time.Second, "DEMO", "H help")
	s.Keys("?")
	s.Keys("H")
	s.WaitFor(10*time.Second, "toggle this help", "R/ctrl+q"+strings.Repeat(" ", 9)+"message requests")
	s.Keys("H")
	s.WaitGone(10*time.Second, "toggle this help")

	const requests = "No message requests"
	s.Keys("r")
	s.Keys("Tab")
	s.WaitFor(10*time.Second, requests)
	pressEscape(s, 1)
	s.WaitGone(10*time.Second, requests)
	s.Keys("R")
	s.WaitFor(10*time.Second, requests)
}
