package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

type tcase struct {
	name, in, want string
}

func run(t *testing.T, f func(string) string, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := f(c.in); got != c.want {
				t.Errorf("in %q\n got  %q\n want %q", c.in, got, c.want)
			}
		})
	}
}

func TestInline(t *testing.T) {
	run(t, Inline, []tcase{
		{"plain", "hello, world", "hello, world"},
		{"escape sequences inert", "\x1b]0;owned\x07\x1b[2J\x1b[31mred", "␛]0;owned␇␛[2J␛[31mred"},
		{"DCS", "\x1bP1$r0m\x1b\\x", "␛P1$r0m␛\\x"},
		{"OSC 8 hyperlink", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "␛]8;;http://evil␛\\click␛]8;;␛\\"},
		{"NUL and DEL", "a\x00b\x7fc", "a␀b␡c"},
		{"every C0", "\x01\x02\x03\x08\x0b\x0c\x0e\x1a\x1f", "␁␂␃␈␋␌␎␚␟"},
		{"newline and tab become spaces", "a\nb\tc\r\nd", "a b c d"},
		{"lone CR visible", "safe\rEVIL", "safe␍EVIL"},
		{"line/paragraph separators", "a\u2028b\u2029c", "a b c"},
		{"8-bit CSI OSC ST", "\u009b31m\u009d0;x\u009c", "␦31m␦0;x␦"},
		{"NEL and other C1", "a\u0085b\u0080\u009f", "a␦b␦␦"},
		{"raw C1 byte is invalid UTF-8", "a\x9b2Jb", "a\uFFFD2Jb"},
		{"invalid UTF-8", "a\xff\xfeb\xc3", "a\uFFFD\uFFFDb\uFFFD"},
		{"overlong encoding", "\xc0\xaf", "\uFFFD\uFFFD"},
		{"bidi override removed", "abc\u202Eevil\u202Cdef", "abcevildef"},
		{"bidi embeddings removed", "\u202Aa\u202Bb\u202Dc", "abc"},
		{"bidi isolates removed", "\u2066a\u2067b\u2068c\u2069", "abc"},
		{"bidi marks removed", "a\u200Eb\u200Fc\u061Cd", "abcd"},
		{"zero-width space removed", "b\u200Bob", "bob"},
		{"BOM, word joiner, soft hyphen removed", "\uFEFFa\u2060b\u00ADc", "abc"},
		{"hangul filler names removed", "\u3164\u115F\u1160\uFFA0x", "x"},
		{"lone tag characters removed", "hi\U000E0041\U000E0042", "hi"},
		{"language tag removed", "\U000E0001en", "en"},
		{"noncharacter", "a\uFFFFb\uFDD0", "a\uFFFDb\uFFFD"},
		{"ZWJ emoji kept", "👩\u200D👩\u200D👧", "👩\u200D👩\u200D👧"},
		{"variation selector kept", "❤\uFE0F", "❤\uFE0F"},
		{"skin tone kept", "👍🏽", "👍🏽"},
		{"flag kept", "🇩🇪", "🇩🇪"},
		{"subdivision flag kept", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"},
		{"ZWNJ kept (Persian)", "می\u200Cخواهم", "می\u200Cخواهم"},
		{"CJK", "日本語", "日本語"},
		{"combining accent", "e\u0301", "e\u0301"},
		{"mark without base gets dotted circle", "\u0301x", "◌\u0301x"},
		{"zalgo capped", "a" + strings.Repeat("\u0301", 100), "a" + strings.Repeat("\u0301", 16)},
		{"arabic number sign kept", "\u0600١", "\u0600١"},
		{"replacement char kept", "\uFFFD", "\uFFFD"},
		{"control pictures stay", "␛[31m", "␛[31m"},
	})
}

func TestBlock(t *testing.T) {
	run(t, Block, []tcase{
		{"keeps newlines", "a\nb\n\nc", "a\nb\n\nc"},
		{"CRLF to LF", "a\r\nb\r\n", "a\nb\n"},
		{"lone CR visible", "a\rb", "a␍b"},
		{"separators to LF", "a\u2028b\u2029c", "a\nb\nc"},
		{"tab to tab stop", "\tx", "        x"},
		{"tab after text", "ab\tc", "ab      c"},
		{"tab after wide text", "日本\tc", "日本    c"},
		{"tab stops per line", "abcdefgh\tx\nab\ty", "abcdefgh        x\nab      y"},
		{"escapes inert", "\x1b[2J\x1b[H\x1b]52;c;Zm9v\x07", "␛[2J␛[H␛]52;c;Zm9v␇"},
		{"C1 and bidi", "\u009b2J\u202Eab", "␦2Jab"},
		{"other C0", "a\x0b\x0cb", "a␋␌b"},
		{"mark after newline gets base", "a\n\u0301", "a\n◌\u0301"},
	})
}

func TestPreview(t *testing.T) {
	run(t, Preview, []tcase{
		{"plain", "hi there", "hi there"},
		{"collapses and trims", "  hi \t  there  ", "hi there"},
		{"line breaks visible", "first line\n\nsecond\r\nthird\n", "first line ⏎ second ⏎ third"},
		{"escape inert", "\x1b[31mred\x1b[0m", "␛[31mred␛[0m"},
		{"only white space", " \n\t ", ""},
	})
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("plain ascii text ", 100)
	if n := testing.AllocsPerRun(100, func() { _ = Inline(s); _ = Block(s + "\n" + s); _ = Preview(s[:len(s)-1]) }); n != 1 {
		// one allocation is the s+"\n"+s concatenation above
		t.Errorf("allocations = %v, want 1", n)
	}
}

func TestWidth(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"日本語", 6},
		{"👩\u200D👩\u200D👧", 2},
		{"🇩🇪", 2},
		{"👍🏽", 2},
		{"e\u0301", 1},
		{"❤\uFE0F", 2},
		{"\x1b[31m", 5}, // ␛[31m: the escape is drawn, so it takes room
		{"ab\ncdef", 4}, // widest line
		{"a\u202Eb", 2}, // removed bidi control takes none
		{"\tx", 9},      // tab expanded
		{"한국어 텍스트", 13}, // Hangul syllables are wide
	}
	for _, c := range cases {
		if got := Width(c.in); got != c.want {
			t.Errorf("Width(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		in   string
		w    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello world", 8, "hello w…"},
		{"hello", 1, "…"},
		{"hello", 0, ""},
		{"日本語", 5, "日本…"},
		{"日本語", 4, "日…"}, // 日本 would be 4 but leaves no room for …
		{"日本語", 6, "日本語"},
		{"👩\u200D👩\u200D👧👩\u200D👩\u200D👧", 3, "👩\u200D👩\u200D👧…"},
		{"a\nb", 5, "a b"},
		{"\x1b[2Jabc", 4, "␛[2…"},
		{"e\u0301e\u0301e\u0301", 2, "e\u0301…"},
	}
	for _, c := range cases {
		got := Truncate(c.in, c.w)
		if got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
		if Width(got) > c.w {
			t.Errorf("Truncate(%q, %d) is %d wide", c.in, c.w, Width(got))
		}
	}
}

func TestWrap(t *testing.T) {
	cases := []struct {
		in   string
		w    int
		want []string
	}{
		{"hello world", 20, []string{"hello world"}},
		{"hello world", 5, []string{"hello", "world"}},
		{"hello world", 8, []string{"hello", "world"}},
		{"a b c d e f", 3, []string{"a b", "c d", "e f"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"one\n\ntwo", 10, []string{"one", "", "two"}},
		{"  indented text", 20, []string{"  indented text"}},
		{"日本語テキスト", 5, []string{"日本", "語テ", "キス", "ト"}},
		{"👩\u200D👩\u200D👧👩\u200D👩\u200D👧👩\u200D👩\u200D👧", 4, []string{"👩\u200D👩\u200D👧👩\u200D👩\u200D👧", "👩\u200D👩\u200D👧"}},
		{"日", 1, []string{"…"}},
		{"trailing   ", 8, []string{"trailing"}},
		{"\x1b[31mred\x1b[0m", 6, []string{"␛[31mr", "ed␛[0m"}},
		{"x", 0, nil},
		{"", 5, []string{""}},
		{"a\u00A0b c", 3, []string{"a\u00A0b", "c"}}, // no break at NBSP
	}
	for _, c := range cases {
		got := Wrap(c.in, c.w)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}

func TestClamp(t *testing.T) {
	if got := Clamp("short", 10); got != "short" {
		t.Errorf("Clamp short = %q", got)
	}
	if got := Clamp("hello world", 5); got != "hello… (6 more)" {
		t.Errorf("Clamp = %q", got)
	}
	// Never splits a grapheme cluster: the family emoji is 5 runes.
	if got := Clamp("ab👩\u200D👩\u200D👧cd", 4); got != "ab… (7 more)" {
		t.Errorf("Clamp cluster = %q", got)
	}
	big := strings.Repeat("x", 1<<20)
	got := Clamp(big, 4000)
	if !strings.HasSuffix(got, "… (1044576 more)") || utf8.RuneCountInString(got) > 4000+20 {
		t.Errorf("Clamp 1MiB: len %d, suffix %q", len(got), got[len(got)-20:])
	}
	if got := Clamp("a\xffb", 1); got != "a… (2 more)" {
		t.Errorf("Clamp invalid = %q", got)
	}
}
