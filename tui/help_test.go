package tui

import "testing"

func TestHelpListsEveryKey(t *testing.T) {
	h := newHarness(t, world(1), 90, 200)
	h.keys("?")
	if !h.m.showHelp {
		t.Fatal("? should open help")
	}
	for _, sec := range helpSections(h.m.env.keys) {
		h.mustShow(sec.Title)
		for _, b := range sec.Bindings {
			h.mustShow(b.Help().Key, b.Help().Desc)
		}
	}
	h.keys("?")
	if h.m.showHelp {
		t.Fatal("? should close help")
	}
}

func TestHelpScrollsWhenShort(t *testing.T) {
	h := newHarness(t, world(1), 80, 10)
	h.keys("?")
	first := h.view()
	h.keys("j", "j")
	if h.view() == first {
		t.Fatal("j should scroll a help overlay taller than the screen")
	}
	h.keys("esc")
	if h.m.showHelp || h.m.screen != screenInbox {
		t.Fatal("esc closes help and stays on the inbox")
	}
}
