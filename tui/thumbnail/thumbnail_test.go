package thumbnail

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/sixel"
	"github.com/muesli/termenv"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var cellRe = regexp.MustCompile(`(?:\x1b\[38;2;(\d+;\d+;\d+)m)?(?:\x1b\[48;2;(\d+;\d+;\d+)m)?▀`)

// cellColours splits a half-block line into each cell's (fg, bg) colours,
// carrying a colour over to the next cells until it changes.
func cellColours(t *testing.T, line string) [][2]string {
	t.Helper()
	var out [][2]string
	var fg, bg string
	for _, m := range cellRe.FindAllStringSubmatch(line, -1) {
		if m[1] != "" {
			fg = m[1]
		}
		if m[2] != "" {
			bg = m[2]
		}
		out = append(out, [2]string{fg, bg})
	}
	return out
}

// The four quadrants of the test picture (red, green / blue, yellow) come
// out as the colours of the matching half-block cells.
func TestThumbnailHalfBlocksQuadrants(t *testing.T) {
	img, err := Make(readTestdata(t, "quadrants.png"), Limits{}, Max, Max)
	if err != nil {
		t.Fatal(err)
	}
	cols, rows := Cells(img.Bounds().Dx(), img.Bounds().Dy(), 40, 10)
	if cols != 20 || rows != 10 {
		t.Fatalf("a square 64 px picture in 40×10 cells takes %d×%d cells, want 20×10", cols, rows)
	}
	lines := HalfBlocks(img, cols, rows, termenv.TrueColor)
	if len(lines) != rows {
		t.Fatalf("%d lines, want %d", len(lines), rows)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != cols {
			t.Fatalf("line %d is %d cells wide, want %d: %q", i, w, cols, l)
		}
		if !strings.HasSuffix(l, "\x1b[0m") {
			t.Fatalf("line %d does not reset its colours: %q", i, l)
		}
	}
	red, green, blue, yellow := "255;0;0", "0;255;0", "0;0;255", "255;255;0"
	for _, c := range []struct {
		row, col int
		want     string
	}{{1, 2, red}, {1, 17, green}, {8, 2, blue}, {8, 17, yellow}, {3, 7, red}, {6, 12, yellow}} {
		cells := cellColours(t, lines[c.row])
		if len(cells) != cols {
			t.Fatalf("row %d: %d cells parsed, want %d: %q", c.row, len(cells), cols, lines[c.row])
		}
		if got := cells[c.col]; got[0] != c.want || got[1] != c.want {
			t.Errorf("cell (%d,%d) is fg %s / bg %s, want %s for both", c.row, c.col, got[0], got[1], c.want)
		}
	}
}

// A 256-colour terminal gets 256-colour codes; one without colours gets
// no picture at all.
func TestThumbnailHalfBlocksProfiles(t *testing.T) {
	img, err := Make(readTestdata(t, "quadrants.png"), Limits{}, Max, Max)
	if err != nil {
		t.Fatal(err)
	}
	l := HalfBlocks(img, 4, 2, termenv.ANSI256)
	if !strings.Contains(l[0], "\x1b[38;5;196m") || strings.Contains(l[0], "38;2;") {
		t.Errorf("256-colour line: %q, want red as 38;5;196 and no 24-bit colour", l[0])
	}
	if got := HalfBlocks(img, 4, 2, termenv.Ascii); got != nil {
		t.Errorf("no-colour terminal got %q", got)
	}
}

// A PNG declaring 100000×100000 pixels is refused from its header, at
// once, without allocating the picture.
func TestThumbnailDecompressionBomb(t *testing.T) {
	start := time.Now()
	_, err := Make(readTestdata(t, "bomb.png"), Limits{}, Max, Max)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bomb: err = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "100000×100000") {
		t.Errorf("the error does not name the declared size: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing the bomb took %v", d)
	}
}

func TestThumbnailLimits(t *testing.T) {
	q := readTestdata(t, "quadrants.png")
	if _, err := Make(q, Limits{MaxBytes: 10}, Max, Max); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file over the size cap: err = %v", err)
	}
	if _, err := Make(q, Limits{MaxPixels: 64*64 - 1}, Max, Max); !errors.Is(err, ErrTooLarge) {
		t.Errorf("picture over the pixel cap: err = %v", err)
	}
	if _, err := Make([]byte("GIF89a\x08\x00\x08\x00"), Limits{}, Max, Max); !errors.Is(err, ErrFormat) {
		t.Errorf("malformed GIF: err = %v", err)
	}
	if _, err := Make(q[:len(q)/2], Limits{}, Max, Max); !errors.Is(err, ErrFormat) {
		t.Errorf("truncated PNG: err = %v", err)
	}
	// A big picture is scaled down, keeping its shape.
	big := image.NewNRGBA(image.Rect(0, 0, 2000, 1000))
	var b bytes.Buffer
	if err := png.Encode(&b, big); err != nil {
		t.Fatal(err)
	}
	img, err := Make(b.Bytes(), Limits{}, Max, Max)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != image.Pt(320, 160) {
		t.Errorf("2000×1000 scaled to %v, want 320×160", got)
	}
}

// Kitty: the picture is sent once with a virtual placement and no answer
// asked for; the cells are placeholders with row and column diacritics and
// the image ID as foreground colour.
func TestThumbnailKitty(t *testing.T) {
	img, err := Make(readTestdata(t, "quadrants.png"), Limits{}, Max, Max)
	if err != nil {
		t.Fatal(err)
	}
	id := KittyID("some key")
	seq, err := KittyTransmit(id, img, 20, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\x1b_G", "a=T", "U=1", "q=2", "f=100", "c=20", "r=10"} {
		if !strings.Contains(seq, want) {
			t.Errorf("transmission lacks %q: %.120q", want, seq)
		}
	}
	lines := KittyPlaceholders(id, 3, 2)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	want := "\U0010EEEE\u0305\u0305\U0010EEEE\u0305\u030D\U0010EEEE\u0305\u030E"
	if !strings.Contains(lines[0], want) {
		t.Errorf("row 0 = %q, want the cells %q", lines[0], want)
	}
	if !strings.Contains(lines[1], "\U0010EEEE\u030D\u0305") {
		t.Errorf("row 1 = %q lacks row diacritic 1", lines[1])
	}
	if fg := "\x1b[38;2;" + fmt.Sprintf("%d;%d;%d", id>>16&255, id>>8&255, id&255) + "m"; !strings.HasPrefix(lines[0], fg) {
		t.Errorf("row 0 does not carry the image id %d as colour %q: %q", id, fg, lines[0])
	}
}

func TestThumbnailDetect(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		conf Protocol
		env  func(string) string
		want Protocol
	}{
		{Auto, env("TERM", "xterm-kitty"), Kitty},
		{Auto, env("TERM", "xterm-256color", "KITTY_WINDOW_ID", "3"), Kitty},
		{Auto, env("TERM", "xterm-kitty", "TMUX", "/tmp/tmux-0/default,1,0"), Blocks},
		{Auto, env("TERM", "tmux-256color", "KITTY_WINDOW_ID", "3"), Blocks},
		{Auto, env("TERM", "xterm-256color"), Blocks},
		{Kitty, env("TMUX", "x"), Kitty},
		{Sixel, env(), Sixel},
		{Sixel, env("TMUX", "x"), Sixel},
		{Auto, env("TERM", "xterm-ghostty"), Kitty},
		{Auto, env("TERM", "foot"), Sixel},
		{Auto, env("TERM", "foot-extra"), Sixel},
		{Auto, env("TERM", "xterm-256color", "TERM_PROGRAM", "WezTerm"), Sixel},
		{Auto, env("TERM", "xterm-256color", "KONSOLE_VERSION", "220401"), Sixel},
		{Auto, env("TERM", "xterm-256color", "KONSOLE_VERSION", "211203"), Blocks},
		{Auto, env("TERM", "xterm-256color", "WT_SESSION", "b0a1"), Sixel},
		{Auto, env("TERM", "mlterm"), Sixel},
		{Auto, env("TERM", "foot", "TMUX", "/tmp/tmux-0/default,1,0"), Blocks},
		{Auto, env("TERM", "xterm-256color", "XTERM_VERSION", "XTerm(379)"), Blocks},
		{Off, env("TERM", "xterm-kitty"), Off},
	} {
		if got := Detect(c.conf, c.env); got != c.want {
			t.Errorf("Detect(%s) = %s, want %s", c.conf, got, c.want)
		}
	}
	if _, err := ParseProtocol("kity"); err == nil {
		t.Error("a misspelt protocol parsed")
	}
	if p, err := ParseProtocol(" Kitty "); err != nil || p != Kitty {
		t.Errorf("ParseProtocol(Kitty) = %q, %v", p, err)
	}
}

// The cache stays under its bound, dropping the least recently used
// thumbnails, and its files are private.
func TestThumbnailCacheBound(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "thumbs")
	c := NewCache(dir, 10_000)
	blob := bytes.Repeat([]byte{1}, 3000)
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Put(k, blob); err != nil {
			t.Fatal(err)
		}
	}
	// Use "a" so "b" is the oldest.
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(c.path("b"), old, old)
	_ = os.Chtimes(c.path("c"), old.Add(time.Minute), old.Add(time.Minute))
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a missing")
	}
	if err := c.Put("d", blob); err != nil {
		t.Fatal(err)
	}
	if n := c.Size(); n > 10_000 {
		t.Errorf("cache holds %d bytes, bound 10000", n)
	}
	if _, ok := c.Get("b"); ok {
		t.Error("the least recently used thumbnail survived eviction")
	}
	for _, k := range []string{"a", "d"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	st, err := os.Stat(c.path("d"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
}

// BenchmarkThumbnailMake: a 24 Mpx camera JPEG (6000×4000) to a thumbnail,
// bounds checks included: the background work one received photo costs.
func BenchmarkThumbnailMake(b *testing.B) {
	src := image.NewYCbCr(image.Rect(0, 0, 6000, 4000), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Make(buf.Bytes(), Limits{}, Max, Max); err != nil {
			b.Fatal(err)
		}
	}
}

// A decode that overruns its time bound returns ErrTimeout at the bound,
// not when the decoder finishes.
func TestThumbnailTimeBound(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 3000, 3000))); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := Make(b.Bytes(), Limits{Timeout: time.Millisecond}, Max, Max)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("9 Mpx decode with a 1 ms bound: err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned after %v", d)
	}
}

// A sixel picture fills its cell box exactly (it covers the half-blocks
// under it) and decodes back to the picture's four quadrants.
func TestSixelImageFillsItsCells(t *testing.T) {
	img, err := Make(readTestdata(t, "quadrants.png"), Limits{}, Max, Max)
	if err != nil {
		t.Fatal(err)
	}
	cell := image.Pt(6, 13)
	cols, rows := SixelCells(img.Bounds().Dx(), img.Bounds().Dy(), 40, 10, cell)
	if cols < 1 || rows < 1 || cols > 40 || rows > 10 {
		t.Fatalf("box %dx%d", cols, rows)
	}
	dcs, err := SixelImage(img, cols, rows, cell)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dcs, "\x1bP0;1q") || !strings.HasSuffix(dcs, "\x1b\\") || strings.Count(dcs, "\x1b") != 2 {
		t.Fatalf("not one sixel DCS string: %q…", dcs[:min(40, len(dcs))])
	}
	got, err := new(sixel.Decoder).Decode(strings.NewReader(strings.TrimSuffix(strings.TrimPrefix(dcs, "\x1bP0;1q"), "\x1b\\")))
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bounds(); b.Dx() != cols*cell.X || b.Dy() != rows*cell.Y {
		t.Fatalf("sixel is %v, want %dx%d pixels", b, cols*cell.X, rows*cell.Y)
	}
	w, h := got.Bounds().Dx(), got.Bounds().Dy()
	for _, q := range []struct {
		name    string
		x, y    int
		r, g, b uint32
	}{{"red", w / 4, h / 4, 255, 0, 0}, {"green", 3 * w / 4, h / 4, 0, 255, 0}, {"blue", w / 4, 3 * h / 4, 0, 0, 255}, {"yellow", 3 * w / 4, 3 * h / 4, 255, 255, 0}} {
		r, g, b, _ := got.At(q.x, q.y).RGBA()
		if r>>8 != q.r || g>>8 != q.g || b>>8 != q.b {
			t.Errorf("%s quadrant is %d,%d,%d", q.name, r>>8, g>>8, b>>8)
		}
	}
}
