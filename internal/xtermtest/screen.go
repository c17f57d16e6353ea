package xtermtest

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Common colours as xterm draws them (sixel colours are percentages, so
// 100% is 255).
var (
	Black  = color.RGBA{0, 0, 0, 0xff}
	White  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	Red    = color.RGBA{0xff, 0, 0, 0xff}
	Green  = color.RGBA{0, 0xff, 0, 0xff}
	Blue   = color.RGBA{0, 0, 0xff, 0xff}
	Yellow = color.RGBA{0xff, 0xff, 0, 0xff}
)

// waitTimeout is WaitFor's deadline: generous, a loaded machine never
// needs it; a test only waits this long when it fails.
var waitTimeout = 60 * time.Second

// WaitFor takes screenshots until cond accepts one and returns it. After
// 60 s it fails the test, saving the last screenshot as a PNG in the
// test's artifact directory (kept with go test -artifacts).
func (x *Term) WaitFor(cond func(image.Image) bool, what string) image.Image {
	x.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var img image.Image
	var err error
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if img, err = x.Screenshot(); err == nil && cond(img) {
			return img
		}
	}
	if img == nil {
		x.t.Fatalf("after %v, still not %s: no screenshot: %v", waitTimeout, what, err)
	}
	path := filepath.Join(x.t.ArtifactDir(), "last-screenshot.png")
	if f, ferr := os.Create(path); ferr == nil {
		_ = png.Encode(f, img)
		_ = f.Close()
	}
	x.t.Fatalf("after %v, still not %s (%v); last screenshot %s (kept with go test -artifacts), cells by colour:\n%s", waitTimeout, what, x, path, x.Describe(img))
	return nil
}

// Fraction is the share of pixels in r that are within tol (per channel,
// 0–255) of c.
func Fraction(img image.Image, r image.Rectangle, c color.Color, tol int) float64 {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return 0
	}
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if Near(img.At(x, y), c, tol) {
				n++
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy())
}

// Near says whether a and b differ by at most tol in each 8-bit channel.
func Near(a, b color.Color, tol int) bool {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(p, q uint32) bool {
		v := int(p>>8) - int(q>>8)
		return v <= tol && v >= -tol
	}
	return d(ar, br) && d(ag, bg) && d(ab, bb)
}

// Filled says whether every pixel of r is within tol of c.
func Filled(img image.Image, r image.Rectangle, c color.Color) bool {
	return Fraction(img, r, c, 8) == 1
}

// CellIs says whether cell (col,row) is filled with c, edge to edge.
func (x *Term) CellIs(img image.Image, col, row int, c color.Color) bool {
	return Filled(img, x.CellRect(col, row), c)
}

// CellsAre says whether every pixel of cells (c0,r0)–(c1,r1) is c.
func (x *Term) CellsAre(img image.Image, c0, r0, c1, r1 int, c color.Color) bool {
	return Filled(img, x.CellsRect(c0, r0, c1, r1), c)
}

// CellColor is the most common colour in cell (col,row).
func (x *Term) CellColor(img image.Image, col, row int) color.RGBA {
	count := map[color.RGBA]int{}
	r := x.CellRect(col, row).Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for xx := r.Min.X; xx < r.Max.X; xx++ {
			count[color.RGBAModel.Convert(img.At(xx, y)).(color.RGBA)]++
		}
	}
	var best color.RGBA
	for c, n := range count {
		if n > count[best] || (n == count[best] && less(c, best)) {
			best = c
		}
	}
	return best
}

func less(a, b color.RGBA) bool {
	return uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B) < uint32(b.R)<<16|uint32(b.G)<<8|uint32(b.B)
}

// Describe lists, for each colour other than the background (black),
// the cells whose most common colour it is: a failure message a human
// can read.
func (x *Term) Describe(img image.Image) string {
	cells := map[color.RGBA][]string{}
	for row := 0; row < x.rows; row++ {
		for col := 0; col < x.cols; col++ {
			if c := x.CellColor(img, col, row); c != Black {
				cells[c] = append(cells[c], fmt.Sprintf("(%d,%d)", col, row))
			}
		}
	}
	var lines []string
	for c, cs := range cells {
		if len(cs) > 24 {
			cs = append(cs[:24:24], fmt.Sprintf("… %d cells", len(cs)))
		}
		lines = append(lines, fmt.Sprintf("  #%02x%02x%02x: %s", c.R, c.G, c.B, strings.Join(cs, " ")))
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "  (all black)"
	}
	return strings.Join(lines, "\n")
}
