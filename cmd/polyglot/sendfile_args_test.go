package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestAbsFileArgsBeforeForwarding: a relative --file is made absolute
// before the command line goes to a core running in another directory;
// nothing else on the line changes.
func TestAbsFileArgsBeforeForwarding(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	in := []string{"send", "--to", "bob@example.org", "--file", "pics/a.png", "--file=b.pdf", "caption --file x"}
	want := []string{"send", "--to", "bob@example.org", "--file", filepath.Join(wd, "pics/a.png"), "--file=" + filepath.Join(wd, "b.pdf"), "caption --file x"}
	if got := absFileArgs(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("absFileArgs = %q, want %q", got, want)
	}
	if in[4] != "pics/a.png" {
		t.Fatal("the caller's slice was changed")
	}
	abs := []string{"send", "--file", "/tmp/x", "--file", "~/y"}
	if got := absFileArgs(abs); !reflect.DeepEqual(got, abs) {
		t.Fatalf("absolute and ~ paths changed: %q", got)
	}
}
