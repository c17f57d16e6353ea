package qrblock

import (
	"strings"
	"testing"
)

func TestLinesAreBlocksOnly(t *testing.T) {
	lines, err := Lines("2@\x1b]52;c;aGk=\x07,\x1b[2J" + strings.Repeat("x", 100))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 10 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if strings.Trim(l, Glyphs) != "" {
			t.Fatalf("a line holds more than blocks: %q", l)
		}
		if n := len([]rune(l)); n != len([]rune(lines[0])) {
			t.Fatalf("ragged lines: %d vs %d", n, len([]rune(lines[0])))
		}
	}
	if _, err := Lines(strings.Repeat("x", 5000)); err != ErrTooLong {
		t.Fatalf("a 5000-byte text: %v, want ErrTooLong", err)
	}
}

func TestPairCodeKeepsOnlyTheCode(t *testing.T) {
	if got := PairCode("ABCD-EFGH"); got != "ABCD-EFGH" {
		t.Fatalf("%q", got)
	}
	got := PairCode("AB\x1b[2J\x07CD-\u202eEFGH\x1b]52;c;x\x07 and a very long tail")
	if strings.ContainsAny(got, "\x1b\x07[];\u202e ") || len(got) > 16 {
		t.Fatalf("%q", got)
	}
}
