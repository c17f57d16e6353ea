package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"polyglot/internal/tmuxtest"
	"polyglot/protocols/demo"
)

// imageSession starts the demo world, where Alice sends a picture of four
// coloured quadrants on WhatsApp a few demo seconds in, and opens her
// conversation.
func imageSession(t *testing.T, extra ...string) *tmuxtest.Session {
	p := newProfile(t)
	env := append(p.env(), "POLYGLOT_DEMO_SPEED=5", "LANG=C.UTF-8")
	env = append(env, extra...)
	s := tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(20*time.Second, "Alice Martin")
	openConversation(t, s, "Alice Martin")
	return s
}

// cell is one terminal cell's character and colours as capture-pane -e
// gives them ("r;g;b", or "" for the default).
type cell struct {
	ch     rune
	fg, bg string
}

var sgrRe = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// paneCells reads capture-pane -e output into cells, following the SGR
// state across each line.
func paneCells(screen string) [][]cell {
	var rows [][]cell
	for _, line := range strings.Split(screen, "\n") {
		var row []cell
		var fg, bg string
		for len(line) > 0 {
			if m := sgrRe.FindStringSubmatchIndex(line); m != nil && m[0] == 0 {
				ps := strings.FieldsFunc(line[m[2]:m[3]], func(r rune) bool { return r == ';' || r == ':' })
				if len(ps) == 0 {
					fg, bg = "", ""
				}
				for i := 0; i < len(ps); i++ {
					switch ps[i] {
					case "0":
						fg, bg = "", ""
					case "39":
						fg = ""
					case "49":
						bg = ""
					case "38", "48":
						which, v := ps[i], ""
						if i+4 < len(ps) && ps[i+1] == "2" {
							v = strings.Join(ps[i+2:i+5], ";")
							i += 4
						} else if i+2 < len(ps) && ps[i+1] == "5" {
							v = "idx" + ps[i+2]
							i += 2
						}
						if which == "38" {
							fg = v
						} else {
							bg = v
						}
					}
				}
				line = line[m[1]:]
				continue
			}
			r, size := utf8.DecodeRuneInString(line)
			row = append(row, cell{ch: r, fg: fg, bg: bg})
			line = line[size:]
		}
		rows = append(rows, row)
	}
	return rows
}

// halfBlockBox finds the picture: the rows holding "▀" cells, and where
// they start. It fails unless they form one rectangle.
func halfBlockBox(t *testing.T, rows [][]cell) (top, left, w, h int) {
	t.Helper()
	top, left = -1, -1
	for y, row := range rows {
		first, n := -1, 0
		for x, c := range row {
			if c.ch == '▀' {
				if first < 0 {
					first = x
				}
				n++
			}
		}
		if n == 0 {
			continue
		}
		if top < 0 {
			top, left, w = y, first, n
		} else if first != left || n != w || y != top+h {
			t.Fatalf("picture row %d: %d cells from column %d, want %d from %d (rows from %d)", y, n, first, w, left, top)
		}
		h++
	}
	if top < 0 {
		t.Fatal("no half-block cells on screen")
	}
	return top, left, w, h
}

func rgb(i int) string {
	c := demo.PictureQuadrants[i]
	return fmt.Sprintf("%d;%d;%d", c.R, c.G, c.B)
}

// checkQuadrants: the four corners of the picture hold the four colours,
// top and bottom pixel of each cell alike.
func checkQuadrants(t *testing.T, screen string) (rows [][]cell, top, h int) {
	t.Helper()
	rows = paneCells(screen)
	top, left, w, h := halfBlockBox(t, rows)
	if w != 20 || h != 10 {
		t.Fatalf("the 64×64 px picture takes %d×%d cells, want 20×10", w, h)
	}
	for _, c := range []struct{ y, x, q int }{{1, 2, 0}, {1, w - 3, 1}, {h - 2, 2, 2}, {h - 2, w - 3, 3}} {
		got := rows[top+c.y][left+c.x]
		if want := rgb(c.q); got.fg != want || got.bg != want {
			t.Errorf("picture cell (%d,%d): fg %q bg %q, want %q for quadrant %d", c.y, c.x, got.fg, got.bg, want, c.q)
		}
	}
	return rows, top, h
}

// text is a row's characters.
func text(row []cell) string {
	var b strings.Builder
	for _, c := range row {
		b.WriteRune(c.ch)
	}
	return b.String()
}

// TestImageHalfBlocksInTmux: a received PNG shows inline as half-blocks in
// the right colours, with its name under it; after a resize the picture
// keeps its size and colours and the frame its layout.
func TestImageHalfBlocksInTmux(t *testing.T) {
	s := imageSession(t, "COLORTERM=truecolor")
	s.WaitFor(60*time.Second, "▀", "quadrants.png")
	// One capture for the colours and the text: the demo goes on meanwhile.
	rows, top, h := checkQuadrants(t, s.ScreenWithEscapes())
	if under := text(rows[top+h]); !strings.Contains(under, "📎 quadrants.png") {
		t.Errorf("the line under the picture is %q, want the file's name", under)
	}
	for _, r := range rows {
		if strings.Contains(text(r), "loading…") {
			t.Errorf("the placeholder stayed beside the picture: %q", text(r))
		}
	}

	s.Tmux("resize-window", "-x", "70", "-y", "30")
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc := s.Screen()
		lines := strings.Split(strings.TrimRight(sc, "\n"), "\n")
		// The frame fits: app bar on the first row, the conversation's
		// header on the second, the composer and status bar at the bottom.
		if len(lines) == 30 && strings.HasPrefix(lines[0], "Polyglot") && strings.HasPrefix(lines[1], "Alice Martin") &&
			strings.Contains(sc, "▀") && strings.Contains(sc, "Write a message") && widestLine(sc) <= 70 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after resizing to 70×30:\n%s", sc)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkQuadrants(t, s.ScreenWithEscapes())
	s.Keys("q")
}

func widestLine(screen string) int {
	n := 0
	for _, l := range strings.Split(screen, "\n") {
		n = max(n, len([]rune(strings.TrimRight(l, " "))))
	}
	return n
}

var kittyAPC = regexp.MustCompile(`\x1b_G([^;\x1b]*)(?:;[^\x1b]*)?\x1b\\`)

// TestImageKittyPlaceholders: with TERM=xterm-kitty (and no tmux in the
// client's view) the picture is sent once with the kitty graphics
// protocol as a virtual placement, answer suppressed, and drawn as
// Unicode placeholder cells carrying its image ID as colour.
func TestImageKittyPlaceholders(t *testing.T) {
	s := imageSession(t, "TERM=xterm-kitty", "TMUX=", "COLORTERM=truecolor")
	var raw string
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw = s.Raw()
		if strings.Contains(raw, "\U0010EEEE") && strings.Contains(raw, "a=T") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no kitty placement after 60 s; screen:\n%s", s.Screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var id int
	for _, m := range kittyAPC.FindAllStringSubmatch(raw, -1) {
		opts := "," + m[1] + ","
		if !strings.Contains(opts, ",a=T,") {
			continue
		}
		for _, want := range []string{",U=1,", ",q=2,", ",f=100,", ",c=20,", ",r=10,"} {
			if !strings.Contains(opts, want) {
				t.Errorf("the transmission %q lacks %q", m[1], want)
			}
		}
		for _, kv := range strings.Split(m[1], ",") {
			if v, ok := strings.CutPrefix(kv, "i="); ok {
				id, _ = strconv.Atoi(v)
			}
		}
	}
	if id == 0 {
		t.Fatalf("no image id in the transmission")
	}
	// Placeholder cells: row 0, columns 0 and 1, in the image ID's colour.
	colour := fmt.Sprintf("\x1b[38;2;%d;%d;%dm", id>>16&255, id>>8&255, id&255)
	row0 := "\U0010EEEE\u0305\u0305\U0010EEEE\u0305\u030D"
	at := strings.Index(raw, row0)
	if at < 0 {
		t.Fatalf("no placeholder cells with row/column diacritics in the pane output")
	}
	if c := strings.LastIndex(raw[:at], "\x1b["); c < 0 || !strings.HasPrefix(raw[c:], colour) {
		t.Errorf("the placeholder cells are not drawn in the image's colour %q", colour)
	}
	// The transmission came before the cells that show it.
	if strings.Index(raw, "a=T") > at {
		t.Errorf("the placeholders were drawn before the picture was sent")
	}
	if strings.Count(raw, "a=T") != 1 {
		t.Errorf("the picture was sent %d times, want once", strings.Count(raw, "a=T"))
	}
	s.Keys("q")
}

// TestImageFromMatrixPeer: matrix-nio uploads a PNG of four coloured
// quadrants into the end-to-end encrypted DM (AES-CTR, key inside the
// Megolm event); Polyglot downloads and decrypts it in the background
// and shows it inline in the right colours, with nothing opened.
func TestImageFromMatrixPeer(t *testing.T) {
	x := startNioDM(t, "hi bob, send me the map")
	p, nio, room := x.p, x.nio, x.room
	opened := filepath.Join(p.root, "opened")
	opener := filepath.Join(p.root, "opener.sh")
	os.WriteFile(opener, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+opened+"\n"), 0o700)
	env := append(p.env(), "LANG=C.UTF-8", "COLORTERM=truecolor", "POLYGLOT_OPENER="+opener)
	s := tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(30*time.Second, "@alice:localhost online")
	s.WaitFor(10*time.Second, "bob")
	openConversation(t, s, "bob")
	s.WaitFor(10*time.Second, "hi bob, send me the map")

	sent := nio.MustDo(map[string]any{"op": "send_file", "room": room, "name": "map.png",
		"mime": "image/png", "data": base64.StdEncoding.EncodeToString(demo.PictureBytes())})
	if sent["encrypted_file"] != true {
		t.Fatalf("nio uploaded the picture unencrypted: %v", sent)
	}
	s.WaitFor(60*time.Second, "▀", "📎 map.png")
	checkQuadrants(t, s.ScreenWithEscapes())
	if _, err := os.Stat(opened); err == nil {
		t.Fatal("showing the picture opened it")
	}
	// The thumbnail is cached, private.
	ents, _ := filepath.Glob(filepath.Join(p.root, ".cache", "polyglot", "thumbnails", "*.png"))
	if len(ents) != 1 {
		t.Fatalf("%d cached thumbnails, want 1", len(ents))
	}
	if st, err := os.Stat(ents[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cached thumbnail: %v %v, want mode 0600", err, st.Mode().Perm())
	}
	s.Keys("q")
}

// sixelDraw is a sixel picture drawn at a cell: the absolute move, then
// the DCS with its raster size in pixels.
var sixelDraw = regexp.MustCompile(`\x1b\[(\d+);(\d+)H\x1bP0;1q"1;1;(\d+);(\d+)#`)

// TestImageSixelOverItsCells: TERM=foot names a sixel terminal, so the
// picture goes out as sixel, after the frame's text, exactly over the
// half-block copy of it, its box sized from the pty's cell pixels (a
// detached tmux reports 16×32 px cells).
func TestImageSixelOverItsCells(t *testing.T) {
	s := imageSession(t, "TERM=foot", "TMUX=", "COLORTERM=truecolor")
	var m []string
	deadline := time.Now().Add(60 * time.Second)
	for m == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no sixel picture after 60 s; screen:\n%s", s.Screen())
		}
		time.Sleep(50 * time.Millisecond)
		all := sixelDraw.FindAllStringSubmatch(s.Raw(), -1)
		if len(all) > 0 {
			m = all[len(all)-1]
		}
	}
	row, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	if m[3] != "64" || m[4] != "64" {
		t.Errorf("the 64×64 px picture is drawn %s×%s px, want 64×64 (4×2 cells of 16×32)", m[3], m[4])
	}
	top, left, w, h := halfBlockBox(t, paneCells(s.ScreenWithEscapes()))
	if w != 4 || h != 2 {
		t.Errorf("the half-blocks under the picture take %d×%d cells, want 4×2", w, h)
	}
	if row-1 != top || col-1 != left {
		t.Errorf("the picture is drawn at row %d column %d, its cells are at row %d column %d", row, col, top+1, left+1)
	}
	s.Keys("q")
}
