package xtermtest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"strings"
	"testing"
)

// The cell geometry Start derives is exact: cells painted with
// background colours fill CellsRect edge to edge and not one pixel more.
func TestCellRectIsExact(t *testing.T) {
	x := Start(t, Options{Cols: 30, Rows: 8})
	if x.Cell() != image.Pt(6, 13) {
		t.Errorf("font %q: cell is %v pixels, want 6x13", Font, x.Cell())
	}
	red, green, blue := "\x1b[48;5;196m", "\x1b[48;5;46m", "\x1b[48;5;21m" // #ff0000 #00ff00 #0000ff
	x.Write(hideCursor + cup(0, 0) + red + " " +
		cup(10, 3) + green + "   " + cup(10, 4) + "   " +
		cup(29, 7) + blue + " \x1b[0m")
	img := x.WaitFor(func(img image.Image) bool {
		return x.CellIs(img, 0, 0, Red) && x.CellsAre(img, 10, 3, 12, 4, Green) && x.CellIs(img, 29, 7, Blue)
	}, "three painted areas")
	if got, want := img.Bounds().Size(), image.Pt(30*6, 8*13); got != want {
		t.Errorf("screenshot is %v pixels, want %v (30x8 cells, no border)", got, want)
	}
	// One pixel beyond each painted rectangle is background.
	for _, r := range []image.Rectangle{
		x.CellRect(0, 0).Add(image.Pt(1, 0)), x.CellRect(0, 0).Add(image.Pt(0, 1)),
		x.CellsRect(10, 3, 12, 4).Add(image.Pt(-1, 0)), x.CellsRect(10, 3, 12, 4).Add(image.Pt(1, 0)),
		x.CellsRect(10, 3, 12, 4).Add(image.Pt(0, -1)), x.CellsRect(10, 3, 12, 4).Add(image.Pt(0, 1)),
		x.CellRect(29, 7).Add(image.Pt(-1, 0)), x.CellRect(29, 7).Add(image.Pt(0, -1)),
	} {
		if f := Fraction(img, r, Black, 8); f == 0 || f == 1 {
			t.Errorf("rectangle %v shifted by one pixel: %.0f%% black, want some (the edge outside the painted cells)", r, 100*f)
		}
	}
	if !x.CellIs(img, 1, 0, Black) || !x.CellIs(img, 13, 3, Black) || !x.CellIs(img, 28, 7, Black) {
		t.Errorf("cells next to the painted ones are not background:\n%s", x.Describe(img))
	}
}

// xwdFile builds an XWD file of a 2×1 image, pixels p0 and p1 as 0xRRGGBB.
func xwdFile(bpp, byteOrder uint32, p0, p1 uint32) []byte {
	var b bytes.Buffer
	name := "t\x00\x00\x00"
	bytesPerLine := 2 * bpp / 8
	h := []uint32{100 + uint32(len(name)), 7, 2, 24, 2, 1, 0, byteOrder, 32, 0, 32, bpp,
		bytesPerLine, 4, 0xff0000, 0xff00, 0xff, 8, 256, 1, 2, 1, 0, 0, 0}
	_ = binary.Write(&b, binary.BigEndian, h)
	b.WriteString(name)
	b.Write(make([]byte, 12)) // one colormap entry
	for _, p := range []uint32{p0, p1} {
		px := make([]byte, 4)
		if byteOrder == 0 {
			binary.LittleEndian.PutUint32(px, p)
		} else {
			binary.BigEndian.PutUint32(px, p<<(32-bpp))
		}
		b.Write(px[:bpp/8])
	}
	return b.Bytes()
}

func TestDecodeXWD(t *testing.T) {
	for _, c := range []struct{ bpp, order uint32 }{{32, 0}, {32, 1}, {24, 0}, {24, 1}} {
		img, err := DecodeXWD(bytes.NewReader(xwdFile(c.bpp, c.order, 0xff8000, 0x0000ff)))
		if err != nil {
			t.Fatalf("%d bpp, byte order %d: %v", c.bpp, c.order, err)
		}
		if !Near(img.At(0, 0), rgb(0xff, 0x80, 0), 0) || !Near(img.At(1, 0), Blue, 0) {
			t.Errorf("%d bpp, byte order %d: pixels %v %v, want orange and blue", c.bpp, c.order, img.At(0, 0), img.At(1, 0))
		}
	}
	good := xwdFile(32, 0, 1, 2)
	bad := map[string][]byte{
		"truncated pixels": good[:len(good)-1],
		"truncated header": good[:40],
		"16 bpp":           patch(good, 11, 16),
		"XYPixmap":         patch(good, 2, 1),
		"huge":             patch(good, 4, 1<<20),
		"short lines":      patch(good, 12, 4),
	}
	for name, data := range bad {
		if _, err := DecodeXWD(bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "xwd") {
			t.Errorf("%s: err = %v, want an xwd error", name, err)
		}
	}
}

// patch sets header field i (a big-endian uint32) of a copy of f.
func patch(f []byte, i int, v uint32) []byte {
	g := append([]byte{}, f...)
	binary.BigEndian.PutUint32(g[4*i:], v)
	return g
}

// Keys and Type reach the program in the terminal as typed input.
func TestKeysReachTheProgram(t *testing.T) {
	x := Start(t, Options{Cols: 40, Rows: 5, Argv: []string{"sh", "-c", "read line && [ \"$line\" = 'hi there' ] && printf '\\033[41m%s\\033[m' '          ' && sleep 600"}})
	x.Type("hi there")
	x.Keys("Return")
	red := color.RGBA{205, 0, 0, 255}
	x.WaitFor(func(img image.Image) bool { return x.CellsAre(img, 0, 1, 9, 1, red) }, "a red bar after the typed line")
}
