package thumbnail

import (
	"bytes"
	"image"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/sixel"
)

// DefaultCell is the cell size, in pixels, assumed when the terminal does
// not report one (the pty's pixel size is 0, as under ConPTY).
var DefaultCell = image.Pt(10, 20)

// SixelCells is the box of cells a w×h pixel picture takes when cells are
// cell pixels big and the box is at most maxCols×maxRows: the picture
// keeps its proportions and, when it is small, its size (rounded up to
// whole cells).
func SixelCells(w, h, maxCols, maxRows int, cell image.Point) (cols, rows int) {
	if w <= 0 || h <= 0 || maxCols <= 0 || maxRows <= 0 || cell.X <= 0 || cell.Y <= 0 {
		return 0, 0
	}
	pw, ph := fitPixels(w, h, maxCols*cell.X, maxRows*cell.Y)
	return min(maxCols, (pw+cell.X-1)/cell.X), min(maxRows, (ph+cell.Y-1)/cell.Y)
}

// SixelImage is img as a sixel DCS string filling cols×rows cells of cell
// pixels exactly, so it covers the half-block copy drawn under it. Pixels
// are composed over black as half-blocks are.
func SixelImage(img image.Image, cols, rows int, cell image.Point) (string, error) {
	w, h := cols*cell.X, rows*cell.Y
	if img == nil || w <= 0 || h <= 0 {
		return "", ErrFormat
	}
	px := boxScale(img, w, h)
	for i := 0; i < len(px.Pix); i += 4 {
		a := px.Pix[i+3]
		px.Pix[i], px.Pix[i+1], px.Pix[i+2], px.Pix[i+3] = over(px.Pix[i], a), over(px.Pix[i+1], a), over(px.Pix[i+2], a), 255
	}
	var payload bytes.Buffer
	if err := new(sixel.Encoder).Encode(&payload, px); err != nil {
		return "", err
	}
	// P2=1: pixels the data leaves unset stay as they are (there are none:
	// every pixel is set), never the terminal's background colour.
	return ansi.SixelGraphics(0, 1, 0, payload.Bytes()), nil
}
