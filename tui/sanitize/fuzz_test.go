package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// forbidden reports the first rune that must never reach the terminal.
func forbidden(s string, allowNewline bool) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\n' && allowNewline:
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			return r, true
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069,
			r == 0x200E, r == 0x200F, r == 0x061C, r == 0x200B, r == 0xFEFF,
			r == 0x2028, r == 0x2029:
			return r, true
		}
	}
	return 0, false
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"\x1b]0;owned\x07\x1b[2J\x1b[31mred",
		"\x1b[1;31mbold red\x1b[0m\x1b[?1049h\x1b[6n",
		"\x1b]52;c;aGVsbG8=\x07\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\",
		"\x1bP+q544e\x1b\\\x1bPtmux;\x1b\x1b]0;x\x07\x1b\\",
		"\u009b31m\u009d0;t\u009c\u0090q\u009c\x9b\x9d",
		"abc\u202Eevil\u202C\u2066x\u2069\u200E\u200F",
		"\xff\xfe\xc3\x28\xe2\x82\xf0\x9f\x98",
		"👩\u200D👩\u200D👧\u200D👦 👍🏽 🇩🇪 ❤\uFE0F 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
		"日本語のテキスト 한국어 中文",
		"a\tb\r\nc\rd\u2028e\u2029f\x00\x7f",
		"e" + strings.Repeat("\u0301", 40) + "\u200B\uFEFF\u00AD\u3164",
		"\u0301\u200D\uFE0F start",
	} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, s string, w int) {
		w = w % 200
		if w < 0 {
			w = -w
		}
		for _, fn := range []struct {
			name    string
			f       func(string) string
			newline bool
		}{{"Inline", Inline, false}, {"Preview", Preview, false}, {"Block", Block, true}} {
			out := fn.f(s)
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q: invalid UTF-8", fn.name, s, out)
			}
			if r, bad := forbidden(out, fn.newline); bad {
				t.Fatalf("%s(%q) = %q contains %U", fn.name, s, out, r)
			}
			if again := fn.f(out); again != out {
				t.Fatalf("%s not idempotent on %q:\n once  %q\n twice %q", fn.name, s, out, again)
			}
		}
		tr := Truncate(s, w)
		if Width(tr) > w {
			t.Fatalf("Truncate(%q, %d) = %q is %d wide", s, w, tr, Width(tr))
		}
		if r, bad := forbidden(tr, false); bad {
			t.Fatalf("Truncate(%q) contains %U", s, r)
		}
		if w > 0 && Width(Inline(s)) <= w && tr != Inline(s) {
			t.Fatalf("Truncate(%q, %d) cut text that fits: %q", s, w, tr)
		}
		lines := Wrap(s, w)
		if w > 0 && len(lines) == 0 {
			t.Fatalf("Wrap(%q, %d) returned no lines", s, w)
		}
		for _, l := range lines {
			if lw := Width(l); lw > w {
				t.Fatalf("Wrap(%q, %d) line %q is %d wide", s, w, l, lw)
			}
			if r, bad := forbidden(l, false); bad {
				t.Fatalf("Wrap(%q) line contains %U", s, r)
			}
		}
		if c := Clamp(s, w); utf8.RuneCountInString(c) > w+len("… ( more)")+12 {
			t.Fatalf("Clamp(%q, %d) = %q too long", s, w, c)
		}
	})
}
