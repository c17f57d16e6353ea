package tui

import (
	"testing"

	"polyglot/inbox"
)

// Two screens in one process (two SSH sessions served by one core) with
// different [keys]: each acts on its own bindings and shows them in its
// header, buttons and help; neither's binding reaches the other, nor a
// third screen with the defaults.
func TestEachScreenHasItsOwnKeys(t *testing.T) {
	f := world(1)
	f.reqs = sampleRequests()
	bind := func(o map[string]string) *KeyMap {
		t.Helper()
		km, err := BindKeys(o)
		if err != nil {
			t.Fatal(err)
		}
		return km
	}
	a := newHarnessWith(t, Options{Core: f, Keys: bind(map[string]string{"requests": "R", "help": "H", "accept": "c"})}, 100, 40)
	b := newHarnessWith(t, Options{Core: f, Keys: bind(map[string]string{"requests": "x"})}, 100, 40)

	a.mustShow("H help")
	a.mustNotShow("? help")
	b.mustShow("? help")

	// Each opens Requests with its own key only.
	for _, k := range []string{"r", "x"} {
		if a.keys(k); a.m.screen != screenInbox {
			t.Fatalf("%q moved screen a (requests is R there)", k)
		}
	}
	a.keys("R")
	if a.m.screen != screenRequests {
		t.Fatal("R should open Requests on screen a")
	}
	for _, k := range []string{"r", "R"} {
		if b.keys(k); b.m.screen != screenInbox {
			t.Fatalf("%q moved screen b (requests is x there)", k)
		}
	}
	b.keys("x")
	if b.m.screen != screenRequests {
		t.Fatal("x should open Requests on screen b")
	}
	a.mustShow("[c] Accept")
	a.mustNotShow("[a] Accept")
	b.mustShow("[a] Accept")

	// a on screen b is b's accept; c there is nothing.
	b.keys("c")
	if len(f.decided) != 0 {
		t.Fatalf("c decided on screen b: %v", f.decided)
	}
	a.keys("c")
	if d, ok := f.decided[40]; !ok || d != inbox.Accept {
		t.Fatalf("c on screen a should accept Mallory's request: %v", f.decided)
	}

	// The help overlays list each screen's keys.
	a.keys("H")
	if !a.m.showHelp {
		t.Fatal("H should open help on screen a")
	}
	a.mustShow(padRight("R", 16) + " message requests")
	a.mustNotShow(padRight("r", 16) + " message requests")
	b.keys("?")
	b.mustShow(padRight("x", 16) + " message requests")
	b.mustNotShow(padRight("R", 16)+" message requests", padRight("r", 16)+" message requests")

	// A screen built after both still has the defaults.
	c := newHarness(t, f, 100, 40)
	c.mustShow("? help")
	c.keys("r")
	if c.m.screen != screenRequests {
		t.Fatal("r should open Requests on a screen without overrides")
	}
}
