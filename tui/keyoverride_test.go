package tui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

func TestBindKeys(t *testing.T) {
	km, err := BindKeys(map[string]string{"Requests": "ctrl+q", "send": "ctrl+s, enter"})
	if err != nil {
		t.Fatal(err)
	}
	if !key.Matches(tea.KeyMsg{Type: tea.KeyCtrlQ}, km.Requests) || key.Matches(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r")}, km.Requests) {
		t.Fatal("requests should be on ctrl+q only")
	}
	if h := km.Send.Help(); h.Key != "ctrl+s/enter" || h.Desc != "send" {
		t.Fatalf("help shows %+v", h)
	}
	if d := defaultKeys(); !key.Matches(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r")}, d.Requests) {
		t.Fatal("binding keys for one screen changed the defaults")
	}

	_, err = BindKeys(map[string]string{"lanch": "x"})
	if err == nil || !strings.Contains(err.Error(), "unknown action") || !strings.Contains(err.Error(), "requests") {
		t.Fatalf("unknown action: %v", err)
	}
	if err := CheckKeys(map[string]string{"quit": " , "}); err == nil {
		t.Fatal("an empty key list was accepted")
	}
}

// Every binding keeps the [keys] name config files use: its field's name
// in lower case. A binding missing from actions() could not be rebound.
func TestEveryBindingHasItsAction(t *testing.T) {
	var km KeyMap
	acts := km.actions()
	typ := reflect.TypeOf(km)
	if len(acts) != typ.NumField() {
		t.Fatalf("%d actions for %d bindings", len(acts), typ.NumField())
	}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		b, ok := acts[strings.ToLower(f.Name)]
		if !ok || b != reflect.ValueOf(&km).Elem().Field(i).Addr().Interface().(*key.Binding) {
			t.Errorf("[keys] %s does not rebind %s", strings.ToLower(f.Name), f.Name)
		}
	}
}
