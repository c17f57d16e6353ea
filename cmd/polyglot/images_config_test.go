package main

import (
	"strings"
	"testing"
)

// TestImageProtocolConfigError: a bad [images] protocol stops the client
// at start with the file, line, column and a fix, and `polyglot doctor`
// reports the very same sentence.
func TestImageProtocolConfigError(t *testing.T) {
	p := newProfile(t)
	writeConfig(t, p, "theme = \"\"\n[images]\nprotocol = \"sixle\"\n")
	_, stderr, code := p.run("")
	if code != exitUsage {
		t.Fatalf("start: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
	want := "config.toml:3:1: images.protocol: unknown image protocol \"sixle\""
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, `did you mean "sixel"?`) {
		t.Fatalf("start says:\n%s\nwant %q and the hint", stderr, want)
	}
	out, _, code := p.run("", "doctor")
	if code != exitError {
		t.Fatalf("doctor: exit %d, want %d\n%s", code, exitError, out)
	}
	if !strings.Contains(out, want) || !strings.Contains(out, `did you mean "sixel"?`) {
		t.Fatalf("doctor says:\n%s\nwant %q and the hint", out, want)
	}

	// A valid choice starts (doctor finds nothing wrong with it).
	writeConfig(t, p, "[images]\nprotocol = \"halfblocks\"\n")
	if out, _, code := p.run("", "doctor"); code != exitOK {
		t.Fatalf("doctor with protocol = halfblocks: exit %d\n%s", code, out)
	}
}
