package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// burst is several keys that arrived in one read, as Bubble Tea hands them
// over: one KeyMsg with several runes.
func burst(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func TestKeyBurstActsKeyByKey(t *testing.T) {
	h := newHarness(t, world(6), 80, 24)
	h.send(burst("jjj"))
	if c, _ := h.m.list.selected(); c.Title != "Contact 4" {
		t.Fatalf("jjj in one read selected %q, want Contact 4 (three rows down)", c.Title)
	}
	h.send(burst("kjk"))
	if c, _ := h.m.list.selected(); c.Title != "Contact 3" {
		t.Fatalf("kjk selected %q, want Contact 3", c.Title)
	}
	// A key that opens a screen acts before the next key does: the j of
	// "rj" moves in Requests, not in the inbox left behind.
	h.send(burst("rj"))
	if h.m.screen != screenRequests {
		t.Fatalf("r in a burst did not open requests (screen %v)", h.m.screen)
	}
	h.keys("esc")
	if c, _ := h.m.list.selected(); c.Title != "Contact 3" {
		t.Fatalf("the j after r moved the inbox to %q", c.Title)
	}
}

// Once a text field has the keyboard the rest of the burst is text: "i"
// enters the composer and "hello" is typed, not taken as commands.
func TestKeyBurstIntoTextFieldIsText(t *testing.T) {
	h := newHarness(t, world(3), 80, 24)
	h.keys("enter", "esc") // conversation, history focus
	h.send(burst("ihello"))
	if got := h.m.conv.composer.value(); got != "hello" {
		t.Fatalf("composer holds %q after the burst \"ihello\", want \"hello\"", got)
	}
	// In the search field a burst is a word.
	h.keys("esc", "esc", "esc", "/")
	h.send(burst("jjq"))
	if h.m.screen != screenSearch || h.m.search.input.Value() != "jjq" || h.quit {
		t.Fatalf("search holds %q (screen %v, quit %v), want the text jjq", h.m.search.input.Value(), h.m.screen, h.quit)
	}
}

// Words typed fast arrive one per KeyMsg, split at spaces; a word that is
// also a key's name ("end", "enter", "ctrl+c") is text in the composer,
// not the End key, a send or a quit.
func TestKeyNameWordsAreText(t *testing.T) {
	h := newHarness(t, world(3), 80, 24)
	h.keys("enter")
	for _, w := range []string{"hello", " ", "end", " ", "to", " ", "end", " ", "enter", " ", "up", " ", "ctrl+c", " ", "home", " ", "f5"} {
		h.send(burst(w))
	}
	if got, want := h.m.conv.composer.value(), "hello end to end enter up ctrl+c home f5"; got != want || h.quit || h.m.confirmQuit {
		t.Fatalf("composer holds %q (quit %v, asking %v), want %q", got, h.quit, h.m.confirmQuit, want)
	}
}

// A bracketed paste outside a text field is not a string of commands.
func TestPasteIsNotKeys(t *testing.T) {
	h := newHarness(t, world(3), 80, 24)
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jq"), Paste: true})
	if h.quit {
		t.Fatal("a pasted q quit")
	}
}
