package xtermtest

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A sixel picture Polyglot's encoder produces is drawn: four coloured
// quadrants at the cell the cursor was on, each exactly its 4×2 cells
// (the picture is 48×52 pixels, 8×4 cells of 6×13), nothing around it.
func TestSixelQuadrantsAreDrawn(t *testing.T) {
	x := Start(t, Options{Cols: 40, Rows: 12})
	x.Write(hideCursor + cup(5, 3) + sixelOf(t, quadrants(48, 52)))
	img := x.WaitFor(func(img image.Image) bool { return quadrantsAt(x, img, 5, 3) }, "the quadrants at (5,3)")
	around := []image.Rectangle{
		x.CellsRect(0, 0, 39, 2), x.CellsRect(0, 7, 39, 11), // rows above and below
		x.CellsRect(0, 3, 4, 6), x.CellsRect(13, 3, 39, 6), // columns left and right
	}
	for _, r := range around {
		if !Filled(img, r, Black) {
			t.Errorf("pixels %v around the picture are not background:\n%s", r, x.Describe(img))
		}
	}
}

// (a) xterm fills the pty's pixel size: TIOCGWINSZ ws_xpixel/ws_ypixel
// are the text area in pixels (cols×6, rows×13), so a program can work
// out the cell size without asking the terminal.
func TestWinsizeHasPixels(t *testing.T) {
	out := filepath.Join(t.TempDir(), "winsize")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	x := Start(t, Options{Cols: 40, Rows: 12, Env: []string{"XTERMTEST_WINSIZE=" + out}, Argv: []string{exe}})
	var got []byte
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got, err = os.ReadFile(out); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper in xterm wrote no winsize in 60 s: %v", err)
		}
	}
	want := fmt.Sprintf("12 40 %d %d", 40*x.Cell().X, 12*x.Cell().Y)
	if string(got) != want {
		t.Errorf("TIOCGWINSZ in xterm = %q (rows cols xpixel ypixel), want %q", got, want)
	}
}

// (b) Text printed over a picture erases the picture in exactly the
// cells it is printed in; the rest of the picture stays, also after
// xterm repaints the whole screen (reverse video on and off).
func TestTextOverSixelErasesItsCells(t *testing.T) {
	x := Start(t, Options{Cols: 40, Rows: 12})
	x.Write(hideCursor + cup(5, 3) + sixelOf(t, quadrants(48, 52)))
	x.WaitFor(func(img image.Image) bool { return quadrantsAt(x, img, 5, 3) }, "the quadrants at (5,3)")

	x.Write(cup(5, 6) + "ab") // over the two left cells of the picture's last (blue) row
	overprinted := func(img image.Image) bool {
		return Fraction(img, x.CellsRect(5, 6, 6, 6), Blue, 8) == 0 &&
			Fraction(img, x.CellsRect(5, 6, 6, 6), White, 8) > 0 && // the glyphs
			x.CellsAre(img, 7, 6, 8, 6, Blue) && x.CellsAre(img, 9, 6, 12, 6, Yellow) &&
			x.CellsAre(img, 5, 3, 8, 4, Red) && x.CellsAre(img, 9, 3, 12, 4, Green) &&
			x.CellsAre(img, 5, 5, 8, 5, Blue) && x.CellsAre(img, 9, 5, 12, 5, Yellow)
	}
	x.WaitFor(overprinted, "text at (5,6)-(6,6) with the rest of the picture intact")

	x.Write("\x1b[?5h") // reverse video: xterm repaints every cell
	x.WaitFor(func(img image.Image) bool { return x.CellIs(img, 30, 10, White) }, "in reverse video")
	x.Write("\x1b[?5l")
	x.WaitFor(func(img image.Image) bool { return x.CellIs(img, 30, 10, Black) && overprinted(img) },
		"after a full repaint, still text at (5,6)-(6,6) and the rest of the picture")
}

// (c) Erase in line erases the picture's cells on that line: EL 0 from
// the cursor to the end, EL 1 from the start to the cursor (inclusive),
// EL 2 the whole line. Other lines of the picture stay.
func TestEraseInLineErasesSixelCells(t *testing.T) {
	x := Start(t, Options{Cols: 40, Rows: 12})
	x.Write(hideCursor + cup(5, 3) + sixelOf(t, quadrants(48, 52)))
	x.WaitFor(func(img image.Image) bool { return quadrantsAt(x, img, 5, 3) }, "the quadrants at (5,3)")

	x.Write(cup(7, 3) + "\x1b[K" + cup(0, 4) + "\x1b[2K" + cup(9, 5) + "\x1b[1K")
	x.WaitFor(func(img image.Image) bool {
		return x.CellsAre(img, 5, 3, 6, 3, Red) && x.CellsAre(img, 7, 3, 39, 3, Black) && // EL 0 from column 7
			x.CellsAre(img, 0, 4, 39, 4, Black) && // EL 2
			x.CellsAre(img, 0, 5, 9, 5, Black) && x.CellsAre(img, 10, 5, 12, 5, Yellow) && // EL 1 to column 9
			x.CellsAre(img, 5, 6, 8, 6, Blue) && x.CellsAre(img, 9, 6, 12, 6, Yellow) // untouched
	}, "rows 3–5 of the picture erased as EL 0/2/1 say, row 6 intact")
}

// (d) With sixel scrolling on, xterm leaves the cursor on the last text
// row the picture touches, in the picture's first column — not on the
// line below it: text printed next overwrites the picture's bottom row.
// A picture reaching the bottom row scrolls the screen until its last
// row is the second to last line. xterm's default (sixelScrolling
// false, i.e. DECSDM set) instead draws every picture at the top left
// and leaves the cursor where it was; CSI ? 80 l turns scrolling on.
func TestCursorAfterSixel(t *testing.T) {
	cases := []struct {
		name      string
		resources []string
		pre       string // before the picture
		h         int    // picture height in pixels (48 wide)
		at        image.Point
		picture   image.Point // where the picture's top left is drawn
		cursor    image.Point // where the cursor is left
	}{
		{"52 px: 4 rows exactly", nil, "", 52, image.Pt(5, 3), image.Pt(5, 3), image.Pt(5, 6)},
		{"54 px: 2 px into a 5th row", nil, "", 54, image.Pt(5, 3), image.Pt(5, 3), image.Pt(5, 7)},
		{"fits above the last row: no scroll", nil, "", 52, image.Pt(5, 7), image.Pt(5, 7), image.Pt(5, 10)},
		{"ends on the last row: scrolls 1", nil, "", 52, image.Pt(5, 8), image.Pt(5, 7), image.Pt(5, 10)},
		{"1 row past the end: scrolls 2", nil, "", 52, image.Pt(5, 9), image.Pt(5, 7), image.Pt(5, 10)},
		{"xterm's default: top left, cursor stays", []string{"XTerm*sixelScrolling: false"}, "", 52, image.Pt(5, 3), image.Pt(0, 0), image.Pt(5, 3)},
		{"xterm's default after CSI ? 80 l", []string{"XTerm*sixelScrolling: false"}, "\x1b[?80l", 52, image.Pt(5, 3), image.Pt(5, 3), image.Pt(5, 6)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := Start(t, Options{Cols: 40, Rows: 12, Resources: c.resources})
			x.Write(hideCursor + c.pre + cup(c.at.X, c.at.Y) + sixelOf(t, quadrants(48, c.h)) + mark)
			p, m := c.picture, c.cursor
			x.WaitFor(func(img image.Image) bool {
				return x.CellsAre(img, p.X, p.Y, p.X+3, p.Y+1, Red) && x.CellsAre(img, p.X+4, p.Y, p.X+7, p.Y+1, Green) &&
					x.CellIs(img, p.X+7, p.Y+3, Yellow) && x.CellIs(img, m.X, m.Y, Magenta)
			}, fmt.Sprintf("the picture's top at %v and the cursor mark at %v", p, m))
		})
	}
}

// (e) DECSC before a picture and DECRC after it put the cursor back where
// the picture started (ESC 7 / ESC 8), so a program can draw a picture
// and carry on as if it had not moved the cursor.
func TestDECSCRestoresCursorAfterSixel(t *testing.T) {
	x := Start(t, Options{Cols: 40, Rows: 12})
	x.Write(hideCursor + cup(5, 3) + "\x1b7" + sixelOf(t, quadrants(48, 52)) + "\x1b8" + mark)
	img := x.WaitFor(func(img image.Image) bool {
		return x.CellIs(img, 5, 3, Magenta) && x.CellsAre(img, 6, 3, 8, 4, Red) &&
			x.CellsAre(img, 5, 5, 8, 6, Blue) && x.CellsAre(img, 9, 3, 12, 4, Green)
	}, "the cursor mark at (5,3), the picture's top left cell")
	if x.CellIs(img, 5, 6, Magenta) {
		t.Errorf("the cursor is also marked at (5,6), where the picture leaves it")
	}
}

// A picture with many colours keeps them: 64 distinct colours, one per
// cell, each drawn within sixel's 1% precision. (With 16 colour
// registers, as on a real VT340, xterm garbles such a picture; Start
// sets 256, what the encoder uses at most.)
func TestSixelKeepsManyColours(t *testing.T) {
	x := Start(t, Options{Cols: 70, Rows: 6})
	want := func(i int) color.RGBA { return rgb(uint8(i*4), uint8(255-i*4), uint8(i*2)) }
	pic := image.NewRGBA(image.Rect(0, 0, 64*6, 13))
	for px := 0; px < 64*6; px++ {
		for y := 0; y < 13; y++ {
			pic.SetRGBA(px, y, want(px/6))
		}
	}
	x.Write(hideCursor + cup(0, 2) + sixelOf(t, pic))
	x.WaitFor(func(img image.Image) bool {
		for i := 0; i < 64; i++ {
			if Fraction(img, x.CellRect(i, 2), want(i), 3) != 1 {
				return false
			}
		}
		return true
	}, "64 cells in row 2, each its own colour")
}
