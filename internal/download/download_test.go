package download

import (
	"os"
	"path/filepath"
	"testing"
)

// Two attachments with one name never overwrite each other, and no
// temporary file is left behind.
func TestSaveNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "downloads")
	a, err := Save(dir, "plan.pdf", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Save(dir, "plan.pdf", []byte("second"))
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

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd":              "passwd",
		"..\\..\\x.exe":                 "x.exe",
		"a\x1b[2Jb.txt":                 "a_[2Jb.txt",
		"":                              "attachment",
		"...":                           "attachment",
		"inv\u202Efdp.exe":              "invfdp.exe",
		".bashrc":                       "bashrc",
		"../../etc/passwd\u202etxt.exe": "passwdtxt.exe",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}
