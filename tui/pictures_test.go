package tui

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
	"polyglot/tui/thumbnail"
)

// picCore serves each message's attachment from its own file and counts
// the downloads asked for.
type picCore struct {
	*fakeCore
	mu      sync.Mutex
	files   map[inbox.MessageID]string
	asked   []inbox.MessageID
	offline bool // Download says the account is not connected
}

func (p *picCore) Download(_ context.Context, id inbox.MessageID, index int) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, id)
	if p.offline {
		return "", fmt.Errorf("inbox: matrix account mx: %w", protocols.ErrNotConnected)
	}
	if f, ok := p.files[id]; ok {
		return f, nil
	}
	return "", fmt.Errorf("no file for message %d", id)
}

func (p *picCore) downloads() []inbox.MessageID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]inbox.MessageID(nil), p.asked...)
}

// quadrantPNG is a side×side picture: red, green / blue, yellow.
func quadrantPNG(t testing.TB, side int) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, side, side))
	cs := []color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 0, 255}}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			q := 0
			if x >= side/2 {
				q++
			}
			if y >= side/2 {
				q += 2
			}
			m.SetNRGBA(x, y, cs[q])
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// picWorld: conversation 1 ("Ada") holds n messages, each with one
// attachment whose file content(i) gives (nil: no file).
func picWorld(t testing.TB, n int, content func(i int) []byte) *picCore {
	f := chatWorld(n)
	dir := t.TempDir()
	pc := &picCore{fakeCore: f, files: map[inbox.MessageID]string{}}
	for i := range f.msgs[1] {
		m := &f.msgs[1][i]
		m.NetworkID, m.Account = fmt.Sprintf("$%d", m.ID), "mx"
		data := content(i)
		name := fmt.Sprintf("photo-%d.png", m.ID)
		m.Body = name
		m.Attachments = []protocols.Attachment{{Name: name, MIME: "image/png", Size: int64(len(data)), URL: "mxc://example.org/" + name}}
		if data != nil {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			pc.files[m.ID] = p
		}
	}
	return pc
}

func colourTheme(t testing.TB) *themes.Theme {
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.TrueColor)})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func picHarness(t testing.TB, core Core, proto thumbnail.Protocol, cacheDir string, w, h int) *harness {
	return newHarnessWith(t, Options{Core: core, Theme: colourTheme(t),
		Images: ImageOptions{Protocol: proto, CacheDir: cacheDir}}, w, h)
}

// A received picture shows as half-blocks in its colours, with its name
// under it, and the thumbnail lands in the disk cache (0600): a second
// screen draws it from there without downloading again.
func TestImageThumbnailShownAndCached(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	cache := filepath.Join(t.TempDir(), "thumbs")
	h := picHarness(t, pc, thumbnail.Blocks, cache, 100, 40)
	h.keys("enter")
	h.mustShow("▀", "📎 photo-1.png")
	h.mustNotShow("loading…")
	v := h.view()
	for _, c := range []string{"255;0;0", "0;255;0", "0;0;255", "255;255;0"} {
		if !strings.Contains(v, "\x1b[38;2;"+c+"m") {
			t.Errorf("no cell in colour %s", c)
		}
	}
	if got := pc.downloads(); len(got) != 1 {
		t.Fatalf("downloads %v, want one", got)
	}
	ents, _ := os.ReadDir(cache)
	if len(ents) != 1 {
		t.Fatalf("cache holds %d files, want 1", len(ents))
	}
	if st, _ := os.Stat(filepath.Join(cache, ents[0].Name())); st.Mode().Perm() != 0o600 {
		t.Errorf("cached thumbnail mode %v, want 0600", st.Mode().Perm())
	}
	h2 := picHarness(t, pc, thumbnail.Blocks, cache, 100, 40)
	h2.keys("enter")
	h2.mustShow("▀")
	if got := pc.downloads(); len(got) != 1 {
		t.Errorf("the second screen downloaded again: %v", got)
	}
}

// A message request's pictures are not fetched before the user accepts
// it: fetching would tell the sender's server the message was looked at.
func TestImageRequestNotFetchedBeforeConsent(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	pc.convs[0].Request = true
	h := picHarness(t, pc, thumbnail.Blocks, "", 100, 40)
	h.keys("enter")
	h.mustShow("🖼 photo-1.png", "accept the request to see it")
	h.mustNotShow("▀")
	if got := pc.downloads(); len(got) != 0 {
		t.Fatalf("a request's picture was downloaded: %v", got)
	}
	// Accepted: the conversation shows the picture.
	pc.mu.Lock()
	pc.convs[0].Request = false
	pc.mu.Unlock()
	h.keys("esc", "esc")
	h.keys("enter")
	h.mustShow("▀")
	if got := pc.downloads(); len(got) != 1 {
		t.Fatalf("downloads after accepting: %v, want one", got)
	}
}

// A picture whose account was offline says so, and is fetched when the
// conversation next changes with the account back.
func TestImageRetriedWhenAccountBack(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	pc.offline = true
	h := picHarness(t, pc, thumbnail.Blocks, "", 100, 40)
	h.keys("enter")
	h.mustShow("🖼 photo-1.png (", "not loaded: the account is offline")
	pc.mu.Lock()
	pc.offline = false
	pc.mu.Unlock()
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 1}}})
	h.mustShow("▀")
	h.mustNotShow("offline")
}

// Hostile or broken files become one placeholder line each; nothing
// crashes, nothing stalls.
func TestImagePlaceholdersForBadFiles(t *testing.T) {
	bomb, err := os.ReadFile(filepath.Join("thumbnail", "testdata", "bomb.png"))
	if err != nil {
		t.Fatal(err)
	}
	files := [][]byte{bomb, []byte("\x89PNG\r\n\x1a\nnot really"), nil}
	pc := picWorld(t, 3, func(i int) []byte { return files[i] })
	start := time.Now()
	h := picHarness(t, pc, thumbnail.Blocks, "", 100, 40)
	h.keys("enter")
	h.mustShow("🖼 photo-1.png (1.1 KiB) — too large to preview",
		"🖼 photo-2.png (18 B) — no preview: not a picture",
		"🖼 photo-3.png — no preview")
	h.mustNotShow("▀")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("bad files took %v", d)
	}
}

// With the protocol off, a picture is the attachment line it always was,
// and nothing is fetched.
func TestImageProtocolOff(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	h := picHarness(t, pc, thumbnail.Off, "", 100, 40)
	h.keys("enter")
	h.mustShow("📎 photo-1.png")
	h.mustNotShow("🖼", "▀")
	if got := pc.downloads(); len(got) != 0 {
		t.Fatalf("downloads with pictures off: %v", got)
	}
}

// NO_COLOR: no half-block picture (it is colour only), the one line
// naming the file; a sixel picture is still drawn, over blank cells.
func TestImageNoColor(t *testing.T) {
	th, err := themes.Builtin("dark", themes.Options{NoColor: true, Renderer: themes.ForProfile(termenv.ANSI)})
	if err != nil {
		t.Fatal(err)
	}
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	h := newHarnessWith(t, Options{Core: pc, Theme: th, Images: ImageOptions{Protocol: thumbnail.Blocks}}, 100, 40)
	h.keys("enter")
	h.mustShow("📎 photo-1.png")
	h.mustNotShow("▀", "\x1b[9")

	h = newHarnessWith(t, Options{Core: pc, Theme: th, Images: ImageOptions{Protocol: thumbnail.Sixel}}, 100, 40)
	h.keys("enter")
	h.mustShow("\x1bP0;1q", "📎 photo-1.png")
	h.mustNotShow("▀")
}

// Kitty: the cells are Unicode placeholders in the image's colour, and
// the image went to the terminal (Options.Terminal) before them.
func TestImageKittyScreen(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	var term bytes.Buffer
	h := newHarnessWith(t, Options{Core: pc, Theme: colourTheme(t), Terminal: &term,
		Images: ImageOptions{Protocol: thumbnail.Kitty}}, 100, 40)
	h.keys("enter")
	h.mustShow("\U0010EEEE\u0305\u0305")
	if !strings.Contains(term.String(), "a=T") || !strings.Contains(term.String(), "U=1") {
		t.Fatalf("no kitty transmission on the terminal: %.200q", term.String())
	}
	if strings.Contains(term.String(), "tmux;") {
		t.Errorf("passthrough outside tmux")
	}
	n := strings.Count(term.String(), "a=T")
	h.send(tea.WindowSizeMsg{Width: 100, Height: 40})
	if got := strings.Count(term.String(), "a=T"); got != n {
		t.Errorf("a redraw at the same size sent the picture again (%d transmissions)", got)
	}
	// Too narrow for 20 columns: the picture is sent again at 18×9 cells
	// and drawn at that size.
	h.send(tea.WindowSizeMsg{Width: 20, Height: 40})
	if !strings.Contains(term.String(), "c=18,r=9") {
		t.Fatalf("no transmission at the narrower size: %d in all", strings.Count(term.String(), "a=T"))
	}
	h.mustShow("\U0010EEEE\u0305\u0305")
	h.mustNotShow("loading…")
	if v := h.view(); strings.Count(v, "\U0010EEEE") != 18*9 {
		t.Errorf("%d placeholder cells on screen, want 18×9", strings.Count(v, "\U0010EEEE"))
	}
}

// Sixel: the picture's cells hold its half-blocks, and once encoded (in
// the background) the first of them carries the sixel picture, sized in
// the terminal's cell pixels; a font change (a resize with another cell
// size) encodes it again. A picture the window cuts off at the bottom is
// left out of the frame (it would cover the composer); its half-blocks show.
func TestImageSixelScreen(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	cell := image.Pt(6, 13)
	h := newHarnessWith(t, Options{Core: pc, Theme: colourTheme(t),
		Images: ImageOptions{Protocol: thumbnail.Sixel, CellSize: func() image.Point { return cell }}}, 100, 40)
	h.keys("enter")
	// 64 px square in 6×13 px cells: 11×5 cells, 66×65 px.
	h.mustShow("\x1bP0;1q\"1;1;66;65#")
	v := h.view()
	if !strings.Contains(v, "▀") || !strings.Contains(v, "\x1b[38;2;255;0;0m") {
		t.Errorf("no half-blocks under the picture")
	}
	if n := strings.Count(v, "\x1b_tea-sixel;5\x1b\\"); n != 1 {
		t.Fatalf("%d sixel pictures of 5 rows in the frame, want 1", n)
	}

	cell = image.Pt(10, 20)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 40})
	// 64 px square in 10×20 px cells: 7×4 cells, 70×80 px.
	h.mustShow("\x1bP0;1q\"1;1;70;80#")

	// Whatever the window cuts, a picture in the frame has all its rows
	// (half-blocks) under it: one cut off at the bottom is left out, or it
	// would be drawn over the lines below the history.
	for height := 8; height <= 16; height++ {
		h.send(tea.WindowSizeMsg{Width: 100, Height: height})
		for scroll := 0; scroll < 3; scroll++ {
			lines := strings.Split(h.view(), "\n")
			for i, l := range lines {
				if !strings.Contains(l, "\x1bP") {
					continue
				}
				for r := i; r < i+4; r++ {
					if r >= len(lines) || !strings.Contains(lines[r], "▀") {
						t.Fatalf("height %d, scrolled %d: the picture on line %d runs over line %d: %q", height, scroll, i, r, lines[min(r, len(lines)-1)])
					}
				}
			}
			h.send(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelUp})
		}
		h.send(tea.KeyMsg{Type: tea.KeyEnd})
	}
}

// Kitty forced inside tmux: every chunk of the picture goes through tmux
// passthrough, so the outer kitty gets it.
func TestImageKittyThroughTmux(t *testing.T) {
	pc := picWorld(t, 1, func(int) []byte { return quadrantPNG(t, 64) })
	var term bytes.Buffer
	h := newHarnessWith(t, Options{Core: pc, Theme: colourTheme(t), Terminal: &term, Tmux: true,
		Images: ImageOptions{Protocol: thumbnail.Kitty}}, 100, 40)
	h.keys("enter")
	h.mustShow("\U0010EEEE\u0305\u0305")
	out := term.String()
	if !strings.HasPrefix(out, "\x1bPtmux;\x1b\x1b_G") || strings.Count(out, "\x1bPtmux;") != strings.Count(out, "\x1b\x1b_G") {
		t.Fatalf("the picture is not wrapped chunk by chunk in tmux passthrough: %.120q", out)
	}
}

// fiftyPictures opens a conversation of 50 pictures, all on screen (each
// shows want once), and runs the View benchmark on it.
func fiftyPictures(b *testing.B, images ImageOptions, want string) *harness {
	png := quadrantPNG(b, 256)
	pc := picWorld(b, 50, func(int) []byte { return png })
	h := newHarnessWith(b, Options{Core: pc, Theme: colourTheme(b), Images: images}, 120, 700)
	h.keys("enter")
	if n := strings.Count(h.view(), want); n < 50 {
		b.Fatalf("%d pictures on screen, want 50", n)
	}
	b.Run("View", func(b *testing.B) {
		for b.Loop() {
			_ = h.m.View()
		}
	})
	return h
}

// BenchmarkImageView: a conversation with 50 pictures on screen. View only
// copies the lines drawn when the history was rebuilt; the rebuild (a
// resize: every picture re-drawn for the new width) is measured too, and
// the disk cache holds 50 thumbnails under a bound that fits 20.
func BenchmarkImageView(b *testing.B) {
	cache := filepath.Join(b.TempDir(), "thumbs")
	h := fiftyPictures(b, ImageOptions{Protocol: thumbnail.Blocks, CacheDir: cache, CacheBytes: 20 * 1024}, "📎 photo-")
	b.Run("Rebuild", func(b *testing.B) {
		w := 40
		for b.Loop() {
			w = 81 - w // 40 ↔ 41 columns: a new picture box, every picture drawn again
			h.m.conv.setSize(w, 690)
		}
	})
	// The disk cache stays under its bound (20 KiB here: fewer than the
	// 50 thumbnails fit), and the view holds only the small pictures.
	b.Run("Memory", func(b *testing.B) {
		var mem int
		for b.Loop() {
			mem = 0
			for _, p := range h.m.conv.pics {
				if p.small != nil {
					mem += len(p.small.Pix)
				}
				if p.img != nil {
					mem += len(p.img.Pix)
				}
			}
		}
		size := thumbnail.NewCache(cache, 20*1024).Size()
		b.ReportMetric(float64(size), "cache-bytes")
		b.ReportMetric(float64(mem), "pixel-bytes")
		if size > 20*1024 {
			b.Fatalf("cache holds %d bytes, bound %d", size, 20*1024)
		}
	})
}

// BenchmarkImageViewSixel: the same 50 pictures drawn as sixel (8×16 px
// cells). View also clips the pictures at the window's edges; Encode is
// one picture's background encode at the largest box (40×10 cells,
// 320×160 px) from a photo-like thumbnail of many colours; Memory is what
// the encoded pictures hold.
func BenchmarkImageViewSixel(b *testing.B) {
	cell := image.Pt(8, 16)
	h := fiftyPictures(b, ImageOptions{Protocol: thumbnail.Sixel, CellSize: func() image.Point { return cell }}, "\x1bP0;1q")
	b.Run("Encode", func(b *testing.B) {
		photo := image.NewNRGBA(image.Rect(0, 0, thumbnail.Max, thumbnail.Max))
		for y := 0; y < thumbnail.Max; y++ {
			for x := 0; x < thumbnail.Max; x++ {
				photo.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / thumbnail.Max), uint8(y * 255 / thumbnail.Max), uint8((x ^ y) & 255), 255})
			}
		}
		var dcs string
		for b.Loop() {
			var err error
			if dcs, err = thumbnail.SixelImage(photo, 40, 10, cell); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(dcs)), "sixel-bytes")
	})
	b.Run("Memory", func(b *testing.B) {
		var n int
		for b.Loop() {
			n = 0
			for _, p := range h.m.conv.pics {
				n += len(p.sixel)
			}
		}
		b.ReportMetric(float64(n), "sixel-bytes")
	})
}
