package main

import (
	"fmt"
	"image"
	"image/color"
	"testing"

	"polyglot/internal/xtermtest"
	"polyglot/protocols/demo"
)

// quadrantBoxes finds the demo picture's four quadrants in a screenshot:
// each quadrant's colour's bounding box and how many pixels hold it.
type quadrantBoxes struct {
	box   [4]image.Rectangle
	count [4]int
}

func findQuadrants(img image.Image) quadrantBoxes {
	var q quadrantBoxes
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
			for i, want := range demo.PictureQuadrants {
				if c == want {
					q.box[i] = q.box[i].Union(image.Rect(x, y, x+1, y+1))
					q.count[i]++
				}
			}
		}
	}
	return q
}

// whole: the four quadrants form one picture of w×h pixels, each colour
// only in its own quarter (no second copy, no stale rows elsewhere).
func (q quadrantBoxes) whole(w, h int) bool {
	all := q.box[0].Union(q.box[1]).Union(q.box[2]).Union(q.box[3])
	if all.Dx() != w || all.Dy() != h {
		return false
	}
	for i := range q.box {
		// A quarter, give or take the row or column a scaled edge shares.
		if q.box[i].Dx() > w/2+1 || q.box[i].Dy() > h/2+1 || q.count[i] < (w/2-1)*(h/2-1) || q.count[i] > q.box[i].Dx()*q.box[i].Dy() {
			return false
		}
	}
	return q.box[0].Min == all.Min && q.box[3].Max == all.Max
}

// TestSixelPictureInXterm: in a real sixel terminal (xterm as a VT340,
// with its own default of sixel scrolling off) with `protocol = "sixel"`,
// the demo's picture is drawn as sixel in its place in Alice's
// conversation: 64×64 px in 6×13 px cells is a box of 11×5 cells, the
// picture filling it exactly (66×65 px), at a cell's corner, never at
// the top left of the screen. NO_COLOR keeps half-blocks out of the
// cells under it, so every coloured pixel is the sixel's. A message sent
// after it moves it up: it is drawn at its new place and nothing of it
// stays at the old one. Paging up moves it out of the window, leaving
// nothing behind, and paging down brings it back.
func TestSixelPictureInXterm(t *testing.T) {
	p := newProfile(t)
	writeConfig(t, p, "[images]\nprotocol = \"sixel\"\n")
	env := append(p.env(), "POLYGLOT_DEMO_SPEED=5", "LANG=C.UTF-8", "NO_COLOR=1")
	x := xtermtest.Start(t, xtermtest.Options{Cols: 100, Rows: 16, Env: env, Argv: []string{binPath},
		Resources: []string{"XTerm*sixelScrolling: false"}})

	// The inbox is up (text on the black screen), then Alice's
	// conversation is opened as a user would: n, her name, enter.
	x.WaitFor(func(img image.Image) bool {
		return xtermtest.Fraction(img, img.Bounds(), color.White, 60) > 0.01
	}, "the inbox drawn")
	x.Keys("n")
	x.Type("Alice")
	x.Keys("Return")

	cell := x.Cell()
	w, h := 11*cell.X, 5*cell.Y
	var first quadrantBoxes
	x.WaitFor(func(img image.Image) bool {
		first = findQuadrants(img)
		return first.whole(w, h)
	}, fmt.Sprintf("the picture drawn whole, %d×%d px", w, h))
	at := first.box[0].Min
	if at.X%cell.X != 0 || at.Y%cell.Y != 0 {
		t.Errorf("the picture starts at pixel %v, not at a cell's corner", at)
	}
	if at.Y < 2*cell.Y {
		t.Errorf("the picture is drawn at %v, over the screen's header (sixel scrolling off puts it at the top left)", at)
	}

	// A message sent after it pushes it up.
	x.Type("see you there")
	x.Keys("Return")
	x.WaitFor(func(img image.Image) bool {
		q := findQuadrants(img)
		if q.whole(w, h) && q.box[0].Min.X == at.X && q.box[0].Min.Y < at.Y {
			at = q.box[0].Min
			return true
		}
		return false
	}, "the picture whole, higher up, after a message was sent, with nothing of it left below")
	if at.Y%cell.Y != 0 {
		t.Errorf("the moved picture starts at pixel %v, not at a cell's corner", at)
	}

	// Page up: the history moves down, the picture out of the window.
	x.Keys("Prior")
	x.WaitFor(func(img image.Image) bool { return findQuadrants(img).count == [4]int{} },
		"the picture paged out of the window, nothing of it left")

	// Page down: back where it was.
	x.Keys("Next")
	x.WaitFor(func(img image.Image) bool {
		q := findQuadrants(img)
		return q.whole(w, h) && q.box[0].Min == at
	}, "the picture back at its place after page down")
	x.Keys("ctrl+c")
}
