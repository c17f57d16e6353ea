// Package qrblock draws a QR code as terminal text in half-blocks: the
// one rendering both `polyglot account add whatsapp` and the TUI's add
// form show, so a phone scans the same picture from either.
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
