package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Bubble Tea v1's package init asks a terminal stdout for its background
// colour; package noprobe must run before it (see its doc). Go's init order
// is fixed by the import graph, so the binary's trace shows it either way.
func TestNoProbeRunsBeforeBubbleTea(t *testing.T) {
	cmd := exec.Command(binPath, "--help")
	cmd.Env = append(newProfile(t).env(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("polyglot --help: %v\n%s", err, out)
	}
	order := map[string]int{}
	for i, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "init" {
			order[f[1]] = i + 1
		}
	}
	noprobe, tea, restore := order["polyglot/internal/noprobe"], order["github.com/charmbracelet/bubbletea"],
		order["polyglot/internal/noprobe/restore"]
	if noprobe == 0 || tea == 0 || restore == 0 || !(noprobe < tea && tea < restore) {
		t.Fatalf("init order noprobe %d, bubbletea %d, restore %d (line numbers); want them in that order", noprobe, tea, restore)
	}
}
