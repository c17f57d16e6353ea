package thumbnail

import (
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"

	"github.com/muesli/termenv"
)

// Cells is the box of terminal cells a w×h pixel picture takes when it
// fits maxCols×maxRows cells. A cell is about twice as tall as wide, so a
// cell holds two half-block pixels stacked: the box is maxCols×2·maxRows
// such pixels. Pictures smaller than that keep their size.
func Cells(w, h, maxCols, maxRows int) (cols, rows int) {
	if w <= 0 || h <= 0 || maxCols <= 0 || maxRows <= 0 {
		return 0, 0
	}
	pw, ph := fitPixels(w, h, maxCols, 2*maxRows)
	return pw, (ph + 1) / 2
}

// HalfBlocks draws img in cols×rows cells of "▀": the top pixel in the
// foreground colour, the bottom one in the background colour, in the
// colours profile can show. Each line ends by resetting the colours.
// A profile without colours draws nothing (nil).
func HalfBlocks(img image.Image, cols, rows int, profile termenv.Profile) []string {
	if img == nil || cols <= 0 || rows <= 0 || profile == termenv.Ascii {
		return nil
	}
	px := boxScale(img, cols, 2*rows)
	lines := make([]string, rows)
	var b strings.Builder
	for y := 0; y < rows; y++ {
		b.Reset()
		var lastFg, lastBg string
		for x := 0; x < cols; x++ {
			fg := sgr(profile, px.NRGBAAt(x, 2*y), false)
			bg := sgr(profile, px.NRGBAAt(x, 2*y+1), true)
			// Repeat a colour only when it changes: a flat sky stays short.
			if fg != lastFg {
				b.WriteString(fg)
				lastFg = fg
			}
			if bg != lastBg {
				b.WriteString(bg)
				lastBg = bg
			}
			b.WriteString("▀")
		}
		b.WriteString("\x1b[0m")
		lines[y] = b.String()
	}
	return lines
}

// sgr is the escape sequence setting c (composed over black) as the
// foreground or background colour.
func sgr(p termenv.Profile, c color.NRGBA, bg bool) string {
	r, g, bl := over(c.R, c.A), over(c.G, c.A), over(c.B, c.A)
	if p == termenv.TrueColor {
		b := make([]byte, 0, 20)
		b = append(b, "\x1b[38;2;"...)
		if bg {
			b[2] = '4'
		}
		b = strconv.AppendUint(b, uint64(r), 10)
		b = append(b, ';')
		b = strconv.AppendUint(b, uint64(g), 10)
		b = append(b, ';')
		b = strconv.AppendUint(b, uint64(bl), 10)
		return string(append(b, 'm'))
	}
	tc := p.Color(fmt.Sprintf("#%02x%02x%02x", r, g, bl))
	if tc == nil {
		return ""
	}
	return "\x1b[" + tc.Sequence(bg) + "m"
}

func over(v, a uint8) uint8 { return uint8(uint16(v) * uint16(a) / 255) }
