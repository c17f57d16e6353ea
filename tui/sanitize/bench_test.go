package sanitize

import (
	"strings"
	"testing"
)

var hostile = strings.Repeat("hi \x1b[31mred\x1b[0m 日本語 👩\u200D👩\u200D👧 \u202Eevil\u202C\t\n", 1<<14) // ≈1 MiB

func BenchmarkBlock1MiB(b *testing.B) {
	b.SetBytes(int64(len(hostile)))
	for b.Loop() {
		_ = Block(hostile)
	}
}

func BenchmarkWrap1MiB(b *testing.B) {
	b.SetBytes(int64(len(hostile)))
	for b.Loop() {
		_ = Wrap(hostile, 80)
	}
}

func BenchmarkInlineASCII(b *testing.B) {
	s := "Alice Example (work)"
	for b.Loop() {
		_ = Inline(s)
	}
}
