package thumbnail

import (
	"fmt"
	"image"
	"strings"

	"github.com/charmbracelet/x/ansi/kitty"
)

// KittyID turns a cache key into a kitty image ID: 24 bits, so the
// placeholder cells can carry it in a 24-bit foreground colour, never 0.
func KittyID(key string) uint32 {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	if id := h & 0xFFFFFF; id != 0 {
		return id
	}
	return 1
}

// KittyTransmit is the sequence that sends img to a kitty terminal once,
// as image id with a virtual placement of cols×rows cells (a=T, U=1): the
// picture appears wherever placeholder cells of that id are drawn. q=2
// keeps the terminal from answering, so nothing lands in the input.
//
// wrap, when not nil, wraps each chunk (tmux passthrough: kitty's
// placeholders are made to work through tmux that way).
func KittyTransmit(id uint32, img image.Image, cols, rows int, wrap func(string) string) (string, error) {
	var b strings.Builder
	err := kitty.EncodeGraphics(&b, img, &kitty.Options{
		Action: kitty.TransmitAndPut, Quite: 2, ID: int(id), Format: kitty.PNG,
		VirtualPlacement: true, Columns: cols, Rows: rows, Chunk: true, ChunkFormatter: wrap,
	})
	return b.String(), err
}

// KittyPlaceholders are the cols×rows text cells showing image id: each
// is U+10EEEE with the diacritics of its row and column, and the id is the
// cells' foreground colour. They are plain text to a line renderer.
func KittyPlaceholders(id uint32, cols, rows int) []string {
	if cols <= 0 || rows <= 0 {
		return nil
	}
	fg := fmt.Sprintf("\x1b[38;2;%d;%d;%dm", (id>>16)&0xFF, (id>>8)&0xFF, id&0xFF)
	lines := make([]string, rows)
	var b strings.Builder
	for r := 0; r < rows; r++ {
		b.Reset()
		b.WriteString(fg)
		for c := 0; c < cols; c++ {
			b.WriteRune(kitty.Placeholder)
			b.WriteRune(kitty.Diacritic(r))
			b.WriteRune(kitty.Diacritic(c))
		}
		b.WriteString("\x1b[39m")
		lines[r] = b.String()
	}
	return lines
}
