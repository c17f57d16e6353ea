// Package xtermtest drives a real sixel terminal for end-to-end tests:
// Debian's xterm (379, built with sixel graphics) as a VT340 on a private
// headless X server (Xvfb, unix socket only, its own cookie), so a test
// can check that a picture is actually drawn. tmux 3.3a has no sixel.
//
// Start runs a command in an xterm of a fixed size in cells with the
// built-in "fixed" font (6×13 pixels a cell) and no borders; Screenshot
// is the window as on screen (xwd, decoded by DecodeXWD); CellRect maps a
// cell to its pixels; WaitFor polls screenshots until a condition holds.
// Started without a command, the terminal shows whatever Write sends.
//
// What xterm 379 does with sixel pictures, each shown by a test here:
//
//   - (a) It fills the pty's TIOCGWINSZ pixel size: ws_xpixel and
//     ws_ypixel are cols×6 and rows×13 (TestWinsizeHasPixels).
//   - (b) Text printed over a picture erases the picture in exactly the
//     cells printed; the rest stays, also after a full repaint
//     (TestTextOverSixelErasesItsCells).
//   - (c) EL 0/1/2 (CSI K, 1K, 2K) erase the picture's cells in the
//     erased part of that line only (TestEraseInLineErasesSixelCells).
//   - (d) With sixel scrolling on, the cursor is left on the last text
//     row the picture touches, in the picture's first column — not below
//     it, so the next text overwrites the picture's bottom row. A picture
//     that would reach the bottom line scrolls the screen until it ends
//     on the second to last line. xterm's default is sixelScrolling
//     false (DECSDM set): every picture is drawn at the top left of the
//     screen and the cursor does not move; CSI ? 80 l turns scrolling on.
//     Start turns it on by resource (TestCursorAfterSixel).
//   - (e) DECSC/DECRC (ESC 7 / ESC 8) around a picture put the cursor
//     back where the picture started (TestDECSCRestoresCursorAfterSixel).
//
// Start sets 256 colour registers (numColorRegisters), what the sixel
// encoder uses at most; with 16, as on a real VT340, xterm garbles a
// picture of more colours (TestSixelKeepsManyColours).
package xtermtest
