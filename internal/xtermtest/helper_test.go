package xtermtest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/sixel"
	"golang.org/x/sys/unix"
)

// TestMain doubles as a helper command run inside xterm: with
// XTERMTEST_WINSIZE set it writes the terminal's TIOCGWINSZ to that file
// and stays until the terminal hangs up.
func TestMain(m *testing.M) {
	if out := os.Getenv("XTERMTEST_WINSIZE"); out != "" {
		ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
		msg := fmt.Sprint(err)
		if err == nil {
			msg = fmt.Sprintf("%d %d %d %d", ws.Row, ws.Col, ws.Xpixel, ws.Ypixel)
		}
		if err := os.WriteFile(out+".tmp", []byte(msg), 0o600); err == nil {
			_ = os.Rename(out+".tmp", out) // whole or absent
		}
		_, _ = io.Copy(io.Discard, os.Stdin) // until the pty hangs up
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Magenta marks a cell (SGR 48;5;201 is #ff00ff in xterm's 256 colours).
var Magenta = color.RGBA{0xff, 0, 0xff, 0xff}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{r, g, b, 0xff} }

// mark paints the cell at the cursor magenta: the way a screenshot shows
// where the cursor was.
const mark = "\x1b[48;5;201m \x1b[0m"

// hideCursor keeps xterm's cursor box out of the cells a test checks.
const hideCursor = "\x1b[?25l"

// cup moves the cursor to 0-based (col,row).
func cup(col, row int) string { return fmt.Sprintf("\x1b[%d;%dH", row+1, col+1) }

// quadrants is a w×h picture: red top left, green top right, blue bottom
// left, yellow bottom right.
func quadrants(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := Red
			switch {
			case x >= w/2 && y < h/2:
				c = Green
			case x < w/2 && y >= h/2:
				c = Blue
			case x >= w/2 && y >= h/2:
				c = Yellow
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// sixelOf is img as a complete sixel DCS sequence, as Polyglot would send it.
func sixelOf(t *testing.T, img image.Image) string {
	t.Helper()
	var b bytes.Buffer
	if err := (&sixel.Encoder{}).Encode(&b, img); err != nil {
		t.Fatalf("sixel encode: %v", err)
	}
	return ansi.SixelGraphics(0, 1, 0, b.Bytes())
}

// quadrantsAt says whether the 8×4-cell quadrants picture (48×52 pixels
// at 6×13) is on screen whole with its top left at cell (col,row).
func quadrantsAt(x *Term, img image.Image, col, row int) bool {
	return x.CellsAre(img, col, row, col+3, row+1, Red) &&
		x.CellsAre(img, col+4, row, col+7, row+1, Green) &&
		x.CellsAre(img, col, row+2, col+3, row+3, Blue) &&
		x.CellsAre(img, col+4, row+2, col+7, row+3, Yellow)
}
