package thumbnail

import (
	"errors"
	"testing"

	"github.com/muesli/termenv"
)

// FuzzThumbnail feeds malformed pictures through the whole path (bounded
// decode, scaling, both renderers): it must return a picture or one of
// Make's errors, never panic or hang. Seeds: testdata/fuzz/FuzzThumbnail
// and the test pictures.
func FuzzThumbnail(f *testing.F) {
	f.Add(readTestdata(f, "quadrants.png"))
	f.Add(readTestdata(f, "bomb.png"))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Make(data, lim, Max, Max)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTimeout) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		b := img.Bounds()
		if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > Max || b.Dy() > Max {
			t.Fatalf("thumbnail of %v", b)
		}
		cols, rows := Cells(b.Dx(), b.Dy(), 40, 10)
		if cols < 1 || cols > 40 || rows < 1 || rows > 10 {
			t.Fatalf("%v fits in %d×%d cells", b, cols, rows)
		}
		if l := HalfBlocks(img, cols, rows, termenv.TrueColor); len(l) != rows {
			t.Fatalf("%d half-block lines, want %d", len(l), rows)
		}
		if _, err := KittyTransmit(KittyID("k"), img, cols, rows, nil); err != nil {
			t.Fatal(err)
		}
	})
}
