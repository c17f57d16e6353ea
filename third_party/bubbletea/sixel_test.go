package tea

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// Polyglot's patch: a sixel picture in a View line is drawn after the
// frame's text at its cell, again only when a line under it was
// repainted, and the lines it leaves are erased.
func TestSixelPicturesDrawnOverTheirCells(t *testing.T) {
	out := &bytes.Buffer{}
	r := newRenderer(out, false, 60).(*standardRenderer)
	r.ticker = time.NewTicker(time.Hour)
	defer r.ticker.Stop()
	r.altScreenActive, r.width, r.height = true, 20, 6
	dcs := "\x1bP0;1;0q\"1;1;4;4#0;2;100;0;0#0~~~~\x1b\\"
	frame := func(lines ...string) string {
		out.Reset()
		r.write(strings.Join(lines, "\n"))
		r.flush()
		return out.String()
	}
	pic := "ab" + SixelPicture(2, dcs) + "▀▀"

	got := frame("title", pic, "▀▀▀▀", "text", "", "composer")
	if strings.Contains(got, "tea-sixel") {
		t.Fatalf("the marker reached the terminal: %q", got)
	}
	if !strings.Contains(got, "ab▀▀") {
		t.Fatalf("the line's text is not painted as if the picture took no cells: %q", got)
	}
	// After the text: sixel scrolling on (pictures at the cursor), an
	// absolute move to row 2, column 3, then the picture.
	draw := ansi.CursorPosition(3, 2) + dcs
	if i, j := strings.Index(got, "composer"), strings.Index(got, sixelScrolling+draw); j < 0 || j < i {
		t.Fatalf("picture not drawn at its cell after the text: %q", got)
	}

	if got := frame("title", pic, "▀▀▀▀", "text changed", "", "composer"); strings.Contains(got, dcs) {
		t.Fatalf("a change outside the picture drew it again: %q", got)
	}
	if got := frame("title", pic, "▀▀▀x", "text changed", "", "composer"); !strings.Contains(got, draw) {
		t.Fatalf("a repainted line under the picture erased it and it was not drawn again: %q", got)
	}

	// The picture moves down a line: both of its old rows are erased, the
	// picture is drawn at the new place.
	got = frame("title", "", pic, "▀▀▀x", "", "composer")
	if strings.Count(got, ansi.EraseEntireLine) < 2 || !strings.Contains(got, ansi.CursorPosition(3, 3)+dcs) {
		t.Fatalf("a moved picture left its old rows or was not drawn anew: %q", got)
	}

	// Gone: its rows are erased and painted even though their text did not change.
	got = frame("title", "", "ab▀▀", "▀▀▀x", "", "composer")
	if strings.Contains(got, dcs) || strings.Count(got, ansi.EraseEntireLine) != 2 {
		t.Fatalf("a picture that left the frame was not erased: %q", got)
	}

	// A picture that reaches the last line is not drawn: xterm would
	// scroll the screen.
	if got := frame("title", "", "", "", "x"+SixelPicture(2, dcs), "last"); strings.Contains(got, dcs) {
		t.Fatalf("a picture reaching the last line was drawn: %q", got)
	}
}

// Outside the alternate screen rows are relative: pictures are left out.
func TestSixelPicturesOnlyOnTheAltScreen(t *testing.T) {
	out := &bytes.Buffer{}
	r := newRenderer(out, false, 60).(*standardRenderer)
	r.ticker = time.NewTicker(time.Hour)
	defer r.ticker.Stop()
	r.width, r.height = 20, 6
	r.write("a" + SixelPicture(1, "\x1bPq#0~\x1b\\") + "b")
	r.flush()
	if got := out.String(); strings.Contains(got, "\x1bP") || !strings.Contains(got, "ab") {
		t.Fatalf("inline frame: %q", got)
	}
}

// A picture that would run past its window is left out; one that fits stays.
func TestClipSixelPictures(t *testing.T) {
	pic := SixelPicture(3, "\x1bPq#0~\x1b\\")
	line := "ab" + pic + "cd"
	if got := ClipSixelPictures(line, 3); got != line {
		t.Errorf("a fitting picture was changed: %q", got)
	}
	if got := ClipSixelPictures(line, 2); got != "abcd" {
		t.Errorf("a picture past the window stayed: %q", got)
	}
	if got := ClipSixelPictures("plain", 1); got != "plain" {
		t.Errorf("plain line changed: %q", got)
	}
	if got, _ := takeSixelPictures("a\x1b_tea-sixel;2\x1b\\b", 0); got != "ab" {
		t.Errorf("a marker without its picture is not dropped: %q", got)
	}
}
