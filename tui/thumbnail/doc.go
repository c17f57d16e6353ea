// Package thumbnail turns a picture someone sent into a small image a
// terminal can show inline, and does it without trusting the file:
//
//   - Make checks the size of the file and the pixel count its header
//     declares (image.DecodeConfig) before decoding anything, and bounds
//     the decode in time, so a decompression bomb or a malformed file is
//     an error (the caller shows a placeholder), never a crash or a stall.
//   - Fit sizes a thumbnail to a box of terminal cells (a cell is about
//     twice as tall as wide).
//   - HalfBlocks draws it as "▀" cells with foreground (top pixel) and
//     background (bottom pixel) colours: works in any colour terminal,
//     over SSH and in tmux.
//   - Kitty transmits it once with the kitty graphics protocol (a virtual
//     placement, U=1) and draws Unicode placeholder cells (U+10EEEE with
//     row/column diacritics), so the cells stay plain text for a line
//     renderer.
//   - SixelImage encodes it as a sixel picture filling a box of cells
//     exactly (sized from the terminal's cell pixels); Bubble Tea's
//     patched renderer draws it over the cells (third_party/bubbletea).
//   - Cache keeps thumbnails on disk (0600 files, bounded total size,
//     oldest evicted first).
//   - Detect picks the protocol once from the environment; it never asks
//     the terminal.
package thumbnail
