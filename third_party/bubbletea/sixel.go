package tea

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Sixel pictures in a line renderer (Polyglot patch).
//
// A sixel image is pixels, not cells: written inside a line it would move
// the cursor by the picture's height and break the renderer's idea of
// where it is, and repainting the lines under it erases it. So a View line
// carries a picture as SixelPicture(rows, dcs): the renderer takes it out
// of the line, paints the text (the cells under the picture, e.g. a
// half-block copy of it), then draws the picture at its cell with an
// absolute cursor move. It is drawn again only when it is new or when a
// line it covers was repainted, and a line an old picture covered is
// erased before it is repainted, so no stale pixels stay behind. Pictures
// are drawn on the alternate screen only (inline mode has no absolute
// rows) and only when they end above the last line (xterm scrolls the
// screen for a picture that reaches it, even one that fits).

const sixelMarker = "\x1b_tea-sixel;"

// sixelScrolling resets DECSDM: pictures are drawn at the cursor.
const sixelScrolling = "\x1b[?80l"

// SixelPicture is a View fragment placing a sixel picture, given as its
// whole DCS string ("\x1bP…q…\x1b\\"), at the cell where the fragment
// stands; rows is how many lines, from this one down, it covers. It takes
// no cells: the line's text goes on as if it were not there.
func SixelPicture(rows int, dcs string) string {
	return sixelMarker + strconv.Itoa(rows) + "\x1b\\" + dcs
}

// ClipSixelPictures drops the pictures of line that would run past the
// end of a window where this line has rowsLeft lines left (itself
// included), so a picture scrolled half out of a pane is not drawn over
// what lies below the pane.
func ClipSixelPictures(line string, rowsLeft int) string {
	return rewriteSixelPictures(line, func(_ string, rows int, dcs string) string {
		if rows > rowsLeft {
			return ""
		}
		return SixelPicture(rows, dcs)
	})
}

// sixelPicture is one picture of a frame.
type sixelPicture struct {
	row, col, rows int
	dcs            string
}

// takeSixelPictures returns line without its pictures, and the pictures
// with their positions (row is the line's index in the frame).
func takeSixelPictures(line string, row int) (string, []sixelPicture) {
	var pics []sixelPicture
	text := rewriteSixelPictures(line, func(before string, rows int, dcs string) string {
		pics = append(pics, sixelPicture{row: row, col: ansi.StringWidth(before), rows: rows, dcs: dcs})
		return ""
	})
	return text, pics
}

// rewriteSixelPictures replaces each picture in line by what f returns for
// it; before is the rewritten line up to the picture. A malformed marker
// is dropped.
func rewriteSixelPictures(line string, f func(before string, rows int, dcs string) string) string {
	if !strings.Contains(line, sixelMarker) {
		return line
	}
	var out strings.Builder
	for {
		i := strings.Index(line, sixelMarker)
		if i < 0 {
			break
		}
		out.WriteString(line[:i])
		line = line[i+len(sixelMarker):]
		end := strings.Index(line, "\x1b\\")
		if end < 0 {
			return out.String()
		}
		rows, err := strconv.Atoi(line[:end])
		line = line[end+2:]
		// The DCS that follows; sixel data holds no ESC, so its ST ends it.
		if !strings.HasPrefix(line, "\x1bP") {
			continue
		}
		dcsEnd := strings.Index(line, "\x1b\\")
		if dcsEnd < 0 {
			return out.String()
		}
		dcs := line[:dcsEnd+2]
		line = line[dcsEnd+2:]
		if err == nil && rows > 0 {
			out.WriteString(f(out.String(), rows, dcs))
		}
	}
	out.WriteString(line)
	return out.String()
}

// sixelPlan is what one flush does about pictures. A frame without
// pictures, now or in the last frame, allocates nothing.
type sixelPlan struct {
	lines   []string       // the frame's lines without pictures
	pics    []sixelPicture // this frame's pictures that fit on screen
	repaint map[int]bool   // lines an old picture covered: erase and paint them
	painted []bool         // lines painted this flush (only with pictures)
}

// planSixels takes the pictures out of a frame and compares them with
// the last frame's. Off the alternate screen (alt false) they are only
// taken out.
func planSixels(newLines []string, last []sixelPicture, alt bool) sixelPlan {
	p := sixelPlan{lines: newLines}
	copied := false
	for i, l := range newLines {
		if !strings.Contains(l, sixelMarker) {
			continue
		}
		if !copied {
			p.lines, copied = append([]string(nil), newLines...), true
		}
		text, pics := takeSixelPictures(l, i)
		p.lines[i] = text
		for _, pic := range pics {
			if alt && pic.row+pic.rows < len(newLines) {
				p.pics = append(p.pics, pic)
			}
		}
	}
	if len(p.pics) > 0 {
		p.painted = make([]bool, len(newLines))
	}
	for _, old := range last {
		if !containsPicture(p.pics, old) {
			for r := old.row; r < old.row+old.rows; r++ {
				if p.repaint == nil {
					p.repaint = map[int]bool{}
				}
				p.repaint[r] = true
			}
		}
	}
	return p
}

// paint records that line i was painted.
func (p sixelPlan) paint(i int) {
	if p.painted != nil {
		p.painted[i] = true
	}
}

// draw writes the pictures that need drawing once the lines are painted:
// new ones, and those with a repainted line under them. Sixel scrolling
// goes on first (DECSDM reset): with it off, xterm's default, every
// picture lands at the screen's top left, not at the cursor.
func (p sixelPlan) draw(buf *bytes.Buffer, last []sixelPicture) {
	modeSet := false
	for _, pic := range p.pics {
		need := !containsPicture(last, pic)
		for r := pic.row; r < pic.row+pic.rows && !need; r++ {
			need = p.painted[r]
		}
		if need {
			if !modeSet {
				buf.WriteString(sixelScrolling)
				modeSet = true
			}
			buf.WriteString(ansi.CursorPosition(pic.col+1, pic.row+1))
			buf.WriteString(pic.dcs)
		}
	}
}

func containsPicture(list []sixelPicture, q sixelPicture) bool {
	for _, x := range list {
		if x == q {
			return true
		}
	}
	return false
}
