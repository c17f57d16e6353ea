package matrix

import (
	"os"
	"path/filepath"
	"testing"
)

// Two attachments with one name never overwrite each other, and no
// temporary file is left behind.
func TestSaveUniqueNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	a, err := saveUnique(dir, "plan.pdf", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := saveUnique(dir, "plan.pdf", []byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(a) != "plan.pdf" || filepath.Base(b) != "plan-1.pdf" {
		t.Fatalf("saved as %s and %s", a, b)
	}
	if got, _ := os.ReadFile(a); string(got) != "first" {
		t.Fatalf("the first file now holds %q", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("%d files in the directory, want 2 (no leftovers)", len(ents))
	}
	if st, _ := os.Stat(b); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}
