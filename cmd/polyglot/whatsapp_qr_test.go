package main

import (
	"crypto/rand"
	"encoding/base64"
	"image"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"polyglot/internal/tmuxtest"
)

// fakeWhatsAppQR is shaped like the codes WhatsApp sends to link a
// device: ref, noise key, identity key, adv secret.
func fakeWhatsAppQR(t *testing.T) string {
	t.Helper()
	part := func(n int) string {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	return "2@" + part(48) + "," + part(32) + "," + part(32) + "," + part(32)
}

// decodeQR reads the half-block QR code on a captured screen back into its
// text. Each cell is two modules, top and bottom; the glyph's ink is the
// light colour (█ both light, ▀ top, ▄ bottom, space neither), so the
// picture is inverted to get dark modules on light.
func decodeQR(screen string) (string, error) {
	var rows []string
	for _, l := range strings.Split(screen, "\n") {
		if len([]rune(l)) > 20 && strings.Trim(l, "█▀▄ ") == "" {
			rows = append(rows, l)
		}
	}
	if len(rows) == 0 {
		return "", os.ErrNotExist
	}
	const scale, margin = 4, 8
	w := 0
	for _, r := range rows {
		w = max(w, len([]rune(r)))
	}
	h := 2 * len(rows)
	img := image.NewGray(image.Rect(0, 0, (w+2*margin)*scale, (h+2*margin)*scale))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	set := func(x, y int, light bool) {
		c := color.Gray{Y: 0}
		if light {
			c.Y = 255
		}
		for dy := 0; dy < scale; dy++ {
			for dx := 0; dx < scale; dx++ {
				img.SetGray((x+margin)*scale+dx, (y+margin)*scale+dy, c)
			}
		}
	}
	for y, r := range rows {
		x := 0
		for _, ch := range r {
			set(x, 2*y, ch == '█' || ch == '▀')
			set(x, 2*y+1, ch == '█' || ch == '▄')
			x++
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// TestWhatsAppQRInTheTerminal: `account add whatsapp` draws the code
// WhatsApp sent (supplied here through the test seam: no WhatsApp server
// can run in tests) so that a QR decoder reading the terminal's cells gets
// the same string back, counts down the seconds it stays valid, redraws
// when the code rotates, and when no phone scanned any, says so and leaves
// nothing behind.
func TestWhatsAppQRInTheTerminal(t *testing.T) {
	p := newProfile(t)
	first, second := fakeWhatsAppQR(t), fakeWhatsAppQR(t)
	codes := filepath.Join(p.root, "codes")
	if err := os.WriteFile(codes, []byte(first+"\n"+second+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(p.env(), "LANG=C.UTF-8", testQREnv+"="+codes, testQREveryEnv+"=4s")
	s := tmuxtest.Start(t, 100, 50, env, binPath, "account", "add", "whatsapp")

	screen, _ := s.WaitFor(10*time.Second, "Scan with the phone", "This code changes in")
	if got, err := decodeQR(screen); err != nil || got != first {
		t.Fatalf("decoded %q (%v), want the first code %q\n%s", got, err, first, screen)
	}
	// The countdown moves while the code stays.
	s.WaitFor(4*time.Second, "This code changes in 2 s")

	// Rotation: the screen is redrawn with the second code.
	deadline := time.Now().Add(8 * time.Second)
	for {
		screen = s.Screen()
		if got, err := decodeQR(screen); err == nil && got == second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second code never appeared:\n%s", screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(screen, "Scan with the phone"); n != 1 {
		t.Fatalf("rotation appended instead of redrawing (%d titles):\n%s", n, screen)
	}

	// No phone scanned: the link ends, nothing saved.
	s.WaitFor(10*time.Second, "no phone linked in time", "nothing was saved")
	if _, err := os.Stat(p.configFile()); !os.IsNotExist(err) {
		t.Fatalf("config.toml written after an unscanned link: %v", err)
	}
	_ = filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), "whatsapp.db") || strings.HasPrefix(d.Name(), ".whatsapp-link-")) {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
}
