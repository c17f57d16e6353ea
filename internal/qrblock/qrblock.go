// Package qrblock draws what a phone reads off the terminal to link a
// device: a QR code in half-blocks, or a pairing code as plain letters.
// Both `polyglot account add whatsapp` and the TUI's add form use it, so
// the phone reads the same from either.
package qrblock

import (
	"bytes"
	"errors"
	"strings"

	"github.com/mdp/qrterminal/v3"
	"rsc.io/qr"
)

// Glyphs are the only characters a drawn code contains: each cell is two
// modules, top and bottom, and the glyph's ink is the light one.
const Glyphs = "█▀▄ "

// ErrTooLong: the text does not fit in a QR code.
var ErrTooLong = errors.New("qrblock: text too long for a QR code")

// Lines encodes text (at error correction level L, as WhatsApp's web
// client does) and returns the rows of half-blocks, quiet zone included.
// The text itself is never drawn: every rune returned is one of Glyphs,
// checked here so nothing but blocks can reach a terminal.
func Lines(text string) ([]string, error) {
	// qrterminal ignores an encoding error and would then panic.
	if _, err := qr.Encode(text, qr.L); err != nil {
		return nil, ErrTooLong
	}
	var buf bytes.Buffer
	qrterminal.GenerateWithConfig(text, qrterminal.Config{
		Level: qrterminal.L, Writer: &buf, HalfBlocks: true, QuietZone: 2,
		BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK,
		WhiteChar: qrterminal.WHITE_WHITE, BlackWhiteChar: qrterminal.BLACK_WHITE,
	})
	var out []string
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		out = append(out, strings.Map(func(r rune) rune {
			if strings.ContainsRune(Glyphs, r) {
				return r
			}
			return -1
		}, l))
	}
	return out, nil
}

// PairCode is a pairing code as drawn: it comes from the server, so only
// what such a code is made of (ASCII letters, digits, a dash) is kept, at
// most 16 of them. Escape sequences lose their ESC and brackets, so what
// is left of them is inert text.
func PairCode(code string) string {
	var b strings.Builder
	for _, r := range code {
		if b.Len() >= 16 {
			break
		}
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		}
	}
	return b.String()
}
