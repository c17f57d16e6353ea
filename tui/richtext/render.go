package richtext

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"
)

// Render parses src and draws it at width cells; see Parse and
// (*Doc).Lines. reveal shows spoilers. A non-nil error means: draw the
// plain body instead.
func Render(src string, width int, st *Styles, reveal bool) ([]string, error) {
	d, err := Parse(src, Options{Markers: st.markers, RevealSpoilers: reveal})
	if err != nil {
		return nil, err
	}
	return d.Lines(width, st), nil
}

// cell is one grapheme cluster with its style.
type cell struct {
	s     string
	w     int
	f     flags
	space bool
}

// Lines draws the document as styled lines of at most width cells (width
// is raised to 1). Wrapped lines keep their spans' styles, quotation
// gutters and list indentation.
func (d *Doc) Lines(width int, st *Styles) []string {
	width = max(width, 1)
	var out []string
	for _, p := range d.paras {
		if p.rule {
			out = append(out, st.style(fDim).Render(strings.Repeat("─", min(width, 40))))
			continue
		}
		first, cont := cells(p.first), cells(p.cont)
		// Deep nesting in a narrow view: the text keeps at least half.
		first, cont = fit(first, width/2), fit(cont, width/2)
		tw := width - max(cellsWidth(first), cellsWidth(cont))
		text := cells(p.spans)
		if st.mentions != nil && !p.pre {
			markMentions(text, st.mentions)
		}
		var rows [][]cell
		if p.pre {
			rows = breakHard(text, tw)
		} else {
			rows = wrap(text, tw)
		}
		for i, r := range rows {
			prefix := cont
			if i == 0 {
				prefix = first
			}
			out = append(out, draw(prefix, st)+draw(r, st))
		}
	}
	return out
}

// cells splits spans into grapheme clusters. A cluster's width is the
// larger of the grapheme count (lipgloss) and the code-point count (tmux),
// so a line fits under both.
func cells(spans []span) []cell {
	var out []cell
	for _, sp := range spans {
		for s := sp.text; s != ""; {
			c, w := ansi.FirstGraphemeCluster(s, ansi.GraphemeWidth)
			if c == "" { // never loop on input the segmenter cannot split
				c, w = s[:1], 1
			}
			s = s[len(c):]
			if len(c) > 1 {
				cw := 0
				for _, r := range c {
					cw += runewidth.RuneWidth(r)
				}
				w = max(w, cw)
			}
			out = append(out, cell{s: c, w: w, f: sp.f, space: c == " "})
		}
	}
	return out
}

func cellsWidth(cs []cell) int {
	n := 0
	for _, c := range cs {
		n += c.w
	}
	return n
}

// fit cuts cells to at most w cells.
func fit(cs []cell, w int) []cell {
	for i, used := 0, 0; i < len(cs); i++ {
		if used += cs[i].w; used > w {
			return cs[:i]
		}
	}
	return cs
}

// ellipsisFor stands in for a cluster wider than the whole line.
func ellipsisFor(c cell) cell { return cell{s: "…", w: 1, f: c.f} }

// breakHard cuts a code block line into rows of w cells, keeping every
// space (indentation matters in code).
func breakHard(cs []cell, w int) [][]cell {
	rows := [][]cell{nil}
	used := 0
	for _, c := range cs {
		if c.w > w {
			c = ellipsisFor(c)
		}
		if used+c.w > w {
			rows = append(rows, nil)
			used = 0
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], c)
		used += c.w
	}
	return rows
}

// wrap breaks at spaces where it can and between clusters inside a word
// wider than w; the spaces a line breaks at are dropped. It follows
// sanitize.Wrap, but on styled cells.
func wrap(cs []cell, w int) [][]cell {
	var rows [][]cell
	var line []cell
	used := 0
	flush := func() {
		rows = append(rows, line)
		line, used = nil, 0
	}
	for i, start := 0, true; i < len(cs); start = false {
		j := i
		for j < len(cs) && cs[j].space {
			j++
		}
		k := j
		for k < len(cs) && !cs[k].space {
			k++
		}
		spaces, word := cs[i:j], cs[j:k]
		i = k
		if len(word) == 0 {
			break // trailing spaces
		}
		spW, ww := cellsWidth(spaces), cellsWidth(word)
		switch {
		case start:
			if spW+ww <= w { // indentation, kept when the first word fits
				line, used = append(line, spaces...), spW
			}
		case used+spW+ww <= w:
			line, used = append(line, spaces...), used+spW
		case used > 0:
			flush()
		}
		if used+ww <= w {
			line, used = append(line, word...), used+ww
			continue
		}
		if used > 0 {
			flush()
			if ww <= w {
				line, used = append(line, word...), ww
				continue
			}
		}
		for _, c := range word {
			if c.w > w {
				c = ellipsisFor(c)
			}
			if used+c.w > w {
				flush()
			}
			line, used = append(line, c), used+c.w
		}
	}
	flush()
	return rows
}

// draw renders a row, one styled run per change of flags.
func draw(cs []cell, st *Styles) string {
	var b, run strings.Builder
	for i, c := range cs {
		run.WriteString(c.s)
		if i == len(cs)-1 || cs[i+1].f != c.f {
			b.WriteString(st.style(c.f).Render(run.String()))
			run.Reset()
		}
	}
	return b.String()
}

// markMentions flags the cells that fall in a range find reports over the
// paragraph's text, so a name keeps its highlight however it wraps.
func markMentions(cs []cell, find func(string) [][2]int) {
	var b strings.Builder
	starts := make([]int, len(cs))
	for i, c := range cs {
		starts[i] = b.Len()
		b.WriteString(c.s)
	}
	for _, r := range find(b.String()) {
		for i := range cs {
			if starts[i] >= r[0] && starts[i] < r[1] {
				cs[i].f |= fMention
			}
		}
	}
}
