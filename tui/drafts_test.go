package tui

import "testing"

// TestDraftsOfTwoScreens: screens of one core share drafts. A draft
// another screen saved replaces what this one held (unless this one's own
// write is still on its way), and leaving an empty composer here does not
// delete it.
func TestDraftsOfTwoScreens(t *testing.T) {
	f := chatWorld(1)
	mine := newDraftBook(f)
	mine.loaded(1, "")
	// The other screen saves a draft; the core says so.
	if err := f.SetDraft(1, "from the other screen"); err != nil {
		t.Fatal(err)
	}
	mine.forget(1)
	if _, ok := mine.known(1); ok {
		t.Fatal("the screen still trusts its own copy after another screen saved")
	}
	if cmd := mine.keep(1, ""); cmd != nil {
		t.Fatal("leaving an untouched, empty composer would write over the other screen's draft")
	}
	if d, _ := f.Draft(1); d != "from the other screen" {
		t.Fatalf("the draft is %q", d)
	}
	// Our own write on its way: a notice of an older save keeps our copy.
	write := mine.keep(1, "mine, newer")
	mine.forget(1)
	if t2, ok := mine.known(1); !ok || t2 != "mine, newer" {
		t.Fatalf("a pending write was forgotten: %q %v", t2, ok)
	}
	write()
	if d, _ := f.Draft(1); d != "mine, newer" {
		t.Fatalf("the draft is %q", d)
	}
}
