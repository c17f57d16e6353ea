package sanitize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// C1Placeholder replaces every C1 control (U+0080–U+009F).
	C1Placeholder = '␦'
	// LineBreakMark stands for a line break in Preview.
	LineBreakMark = '⏎'
	// DottedCircle is the base given to a combining mark that has none.
	DottedCircle = '◌'

	maxMarkRun = 16 // combining marks kept after one base
	maxTagRun  = 8  // tag characters kept after a black flag (subdivision flags use ≤ 7)
	tabStop    = 8
	blackFlag  = 0x1F3F4
)

type mode int

const (
	modeInline mode = iota
	modePreview
	modeBlock
)

// Inline makes s safe to draw on one line: line breaks and tabs become one
// space each. Use it for names, room names, addresses and status texts.
func Inline(s string) string {
	if isPlainASCII(s, false) {
		return s
	}
	return clean(s, modeInline)
}

// Preview makes s safe for a one-line preview (the conversation list): runs
// of spaces and tabs collapse to one space, line breaks show as " ⏎ ", and
// white space at both ends is trimmed.
func Preview(s string) string {
	if isPlainASCII(s, false) && !strings.Contains(s, "  ") &&
		(s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')) {
		return s
	}
	return clean(s, modePreview)
}

// Block makes a message body safe to draw: it keeps "\n" (CR LF, lone LF,
// U+2028 and U+2029 all become "\n"), expands tabs to spaces up to the next
// 8-column tab stop and makes everything else inert like Inline.
func Block(s string) string {
	if isPlainASCII(s, true) {
		return s
	}
	return clean(s, modeBlock)
}

// isPlainASCII reports whether s is only printable ASCII (and "\n" when
// newlines are allowed), which every function passes through unchanged.
func isPlainASCII(s string, newlines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		if c == '\n' && newlines {
			continue
		}
		return false
	}
	return true
}

// cleaner carries the state of one pass.
type cleaner struct {
	b    strings.Builder
	mode mode

	prev     rune // last rune written; 0 at the start
	markRun  int  // combining marks (and ZWJ/ZWNJ) written since the last base
	tagRun   int  // tag characters written since the black flag
	measured int  // Block: byte offset in b up to which col is known
	col      int  // Block: cell column at measured

	pendingSpace bool // Preview: white space seen since the last visible rune
	pendingBreak bool // Preview: line break seen since the last visible rune
}

func clean(s string, m mode) string {
	c := &cleaner{mode: m}
	c.b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			c.emit(utf8.RuneError)
		case r == '\n' || r == 0x2028 || r == 0x2029:
			c.lineBreak()
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				i++
				c.lineBreak()
			} else {
				c.emit(0x2400 + r) // ␍
			}
		case r == '\t':
			c.tab()
		case r == ' ':
			c.space()
		case r < 0x20:
			c.emit(0x2400 + r)
		case r == 0x7f:
			c.emit(0x2421) // ␡
		case r >= 0x80 && r <= 0x9f:
			c.emit(C1Placeholder)
		case r >= 0xE0020 && r <= 0xE007F:
			// Tag characters only belong in subdivision flags (🏴 + tags);
			// elsewhere they hide text.
			if c.prev == blackFlag || (isTag(c.prev) && c.tagRun < maxTagRun) {
				c.tagRun++
				c.write(r)
			}
		case isMark(r):
			if c.markRun >= maxMarkRun {
				continue
			}
			c.flushPending()
			// A mark needs a base; a space of any width is none (and the
			// wrapper breaks there, which would split it from the mark).
			if c.prev == 0 || c.prev == '\n' || unicode.Is(unicode.Zs, c.prev) {
				c.write(DottedCircle)
			}
			c.markRun++
			c.write(r)
		case dropped(r):
			// invisible; removed
		case isNoncharacter(r):
			c.emit(utf8.RuneError)
		default:
			c.emit(r)
		}
	}
	return c.b.String()
}

// emit writes a visible base character.
func (c *cleaner) emit(r rune) {
	c.flushPending()
	c.markRun = 0
	c.tagRun = 0
	c.write(r)
}

func (c *cleaner) write(r rune) {
	c.b.WriteRune(r)
	c.prev = r
}

func (c *cleaner) flushPending() {
	if c.mode != modePreview {
		return
	}
	if c.b.Len() > 0 {
		switch {
		case c.pendingBreak:
			c.b.WriteString(" ⏎ ")
			c.prev = ' '
		case c.pendingSpace:
			c.b.WriteByte(' ')
			c.prev = ' '
		}
	}
	c.pendingSpace, c.pendingBreak = false, false
}

func (c *cleaner) space() {
	if c.mode == modePreview {
		c.pendingSpace = true
		return
	}
	c.emit(' ')
}

func (c *cleaner) lineBreak() {
	switch c.mode {
	case modePreview:
		c.pendingBreak = true
	case modeInline:
		c.emit(' ')
	case modeBlock:
		c.emit('\n')
		c.measured = c.b.Len()
		c.col = 0
	}
}

func (c *cleaner) tab() {
	if c.mode != modeBlock {
		c.space()
		return
	}
	out := c.b.String() // no copy
	c.col += lineWidth(out[c.measured:])
	n := tabStop - c.col%tabStop
	for range n {
		c.b.WriteByte(' ')
	}
	c.col += n
	c.measured = c.b.Len()
	c.prev = ' '
	c.markRun, c.tagRun = 0, 0
}

func isTag(r rune) bool { return r >= 0xE0020 && r <= 0xE007F }

// isMark reports combining marks (variation selectors included) and the
// joiners, which all extend the preceding character.
func isMark(r rune) bool {
	if r < 0x300 {
		return false
	}
	return r == 0x200C || r == 0x200D || unicode.In(r, unicode.Mn, unicode.Me)
}

// dropped reports invisible characters that are removed: bidi controls,
// zero-width spaces, fillers and the other format characters.
func dropped(r rune) bool {
	switch {
	case r < 0xAD:
		return false
	case r == 0xAD, // soft hyphen
		r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0: // Hangul fillers: blank "names"
		return true
	// Format characters that are visible and harmless: prepended number
	// signs (Arabic, Syriac, Kaithi).
	case r >= 0x600 && r <= 0x605, r == 0x6DD, r == 0x70F, r == 0x890, r == 0x891,
		r == 0x8E2, r == 0x110BD, r == 0x110CD:
		return false
	}
	// All other Cf: bidi controls (U+061C, U+200E/F, U+202A–202E,
	// U+2066–2069), U+200B, U+2060–2064, U+206A–206F, U+FEFF,
	// U+FFF9–FFFB, U+E0001, …
	return unicode.Is(unicode.Cf, r)
}

// isNoncharacter reports the 66 Unicode noncharacters, which have no glyph.
func isNoncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}
