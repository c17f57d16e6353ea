package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

func TestOverrideKeys(t *testing.T) {
	saved := keys
	defer func() { keys = saved }()

	if err := OverrideKeys(map[string]string{"Requests": "ctrl+q", "send": "ctrl+s, enter"}); err != nil {
		t.Fatal(err)
	}
	if !key.Matches(tea.KeyMsg{Type: tea.KeyCtrlQ}, keys.Requests) || key.Matches(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r")}, keys.Requests) {
		t.Fatal("requests should be on ctrl+q only")
	}
	if h := keys.Send.Help(); h.Key != "ctrl+s/enter" || h.Desc != "send" {
		t.Fatalf("help shows %+v", h)
	}

	before := keys
	err := OverrideKeys(map[string]string{"lanch": "x"})
	if err == nil || !strings.Contains(err.Error(), "unknown action") || !strings.Contains(err.Error(), "requests") {
		t.Fatalf("unknown action: %v", err)
	}
	if err := OverrideKeys(map[string]string{"quit": " , "}); err == nil {
		t.Fatal("an empty key list was accepted")
	}
	if keys.Quit.Help() != before.Quit.Help() {
		t.Fatal("a failed override changed the bindings")
	}
}
