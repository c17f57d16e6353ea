//go:build unix

package tui

import (
	"image"
	"os"

	"golang.org/x/sys/unix"
)

// cellSize is the terminal's cell in pixels, from the pty's window size
// (an ioctl, not a terminal query: nothing is written to the terminal).
// Zero when the terminal does not fill in pixels.
func cellSize(f *os.File) image.Point {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return image.Point{}
	}
	return image.Pt(int(ws.Xpixel)/int(ws.Col), int(ws.Ypixel)/int(ws.Row))
}
