package sanitize

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// ellipsis ends a truncated line.
const ellipsis = "…"

// nextCluster returns the first grapheme cluster of s and its width in
// cells. s must be non-empty sanitized text. Two ASCII characters never
// join, so plain ASCII skips the segmenter.
func nextCluster(s string) (string, int) {
	if s[0] < utf8.RuneSelf && (len(s) == 1 || s[1] < utf8.RuneSelf) {
		return s[:1], 1
	}
	return ansi.FirstGraphemeCluster(s, ansi.GraphemeWidth)
}

// lineWidth is the width of sanitized text without line breaks.
func lineWidth(s string) int {
	w := 0
	for len(s) > 0 {
		c, cw := nextCluster(s)
		w += cw
		s = s[len(c):]
	}
	return w
}

// Width is the number of terminal cells the widest line of s occupies once
// sanitized (s may hold several lines, as in Block).
func Width(s string) int {
	s = Block(s)
	widest := 0
	for line := range strings.SplitSeq(s, "\n") {
		widest = max(widest, lineWidth(line))
	}
	return widest
}

// Truncate returns Inline(s) cut to at most w cells, ending in "…" when it
// was cut. It never splits a grapheme cluster (a wide character that does
// not fit leaves the line one cell short). w <= 0 yields "".
func Truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = Inline(s)
	if len(s) <= w && isPlainASCII(s, false) {
		return s
	}
	tail, tailW := ellipsis, lineWidth(ellipsis)
	if tailW > w {
		tail, tailW = "", 0
	}
	used, cut := 0, -1 // cut: byte length that fits with the tail
	for i := 0; i < len(s); {
		c, cw := nextCluster(s[i:])
		if used+cw > w {
			if cut < 0 {
				cut = i
			}
			return s[:cut] + tail
		}
		used += cw
		i += len(c)
		if cut < 0 && used > w-tailW {
			cut = i - len(c)
		}
	}
	return s
}

// Wrap sanitizes s like Block and breaks it into lines of at most w cells:
// at spaces where it can, inside a word (between grapheme clusters) where a
// word is wider than w. The spaces a line breaks at are dropped; leading
// indentation of a paragraph is kept when it fits. An empty paragraph stays
// an empty line. A single cluster wider than w (a wide character when w is
// 1) is shown as "…". w <= 0 yields nil.
func Wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	s = Block(s)
	var out []string
	for para := range strings.SplitSeq(s, "\n") {
		out = wrapLine(out, para, w)
	}
	return out
}

type wrapper struct {
	out  []string
	w    int
	line strings.Builder
	used int
}

func (p *wrapper) flush() {
	p.out = append(p.out, p.line.String())
	p.line.Reset()
	p.used = 0
}

// placeWord puts a word (no spaces) on the current line, breaking it
// between clusters when it does not fit on a line of its own.
func (p *wrapper) placeWord(word string, ww int) {
	if p.used+ww <= p.w {
		p.line.WriteString(word)
		p.used += ww
		return
	}
	if p.used > 0 {
		p.flush()
		if ww <= p.w {
			p.line.WriteString(word)
			p.used = ww
			return
		}
	}
	for len(word) > 0 {
		c, cw := nextCluster(word)
		word = word[len(c):]
		if cw > p.w {
			c, cw = ellipsis, lineWidth(ellipsis)
			if cw > p.w {
				c, cw = ".", 1
			}
		}
		if p.used+cw > p.w {
			p.flush()
		}
		p.line.WriteString(c)
		p.used += cw
	}
}

func wrapLine(out []string, para string, w int) []string {
	p := &wrapper{out: out, w: w}
	if para == "" {
		p.flush()
		return p.out
	}
	start := true
	for len(para) > 0 {
		// A run of spaces, then a word; trailing spaces are dropped.
		sp := spaceRun(para)
		spaces := para[:sp]
		para = para[sp:]
		wl := wordLen(para)
		word := para[:wl]
		para = para[wl:]
		if word == "" {
			break
		}
		spW, ww := lineWidth(spaces), lineWidth(word)
		switch {
		case start:
			if spW+ww <= w { // indentation, kept when the first word still fits
				p.line.WriteString(spaces)
				p.used = spW
			}
		case p.used+spW+ww <= w:
			p.line.WriteString(spaces)
			p.used += spW
		case p.used > 0:
			p.flush()
		}
		start = false
		p.placeWord(word, ww)
	}
	p.flush()
	return p.out
}

// isBreakSpace reports spaces a line may break at (not the no-break ones).
func isBreakSpace(r rune) bool {
	if r == ' ' {
		return true
	}
	if r < utf8.RuneSelf || r == 0xA0 || r == 0x2007 || r == 0x202F {
		return false
	}
	return unicode.Is(unicode.Zs, r)
}

func spaceRun(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isBreakSpace(r) {
			break
		}
		i += n
	}
	return i
}

func wordLen(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isBreakSpace(r) {
			break
		}
		i += n
	}
	return i
}

// Clamp limits s to maxRunes runes, cut at a grapheme boundary, and appends
// "… (N more)" naming how many runes were left out, so a 1 MiB body cannot
// freeze the view. Apply it before or after Block; it does not sanitize.
func Clamp(s string, maxRunes int) string {
	maxRunes = max(maxRunes, 0)
	total := utf8.RuneCountInString(s)
	if total <= maxRunes {
		return s
	}
	kept, runes := 0, 0 // bytes and runes of whole clusters that fit
	for kept < len(s) {
		c, _ := ansi.FirstGraphemeCluster(s[kept:], ansi.GraphemeWidth)
		if c == "" { // never loop on input the segmenter cannot split
			c = s[kept : kept+1]
		}
		n := utf8.RuneCountInString(c)
		if runes+n > maxRunes {
			break
		}
		kept += len(c)
		runes += n
	}
	return s[:kept] + ellipsis + " (" + strconv.Itoa(total-runes) + " more)"
}
