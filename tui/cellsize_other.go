//go:build !unix

package tui

import (
	"image"
	"os"
)

// cellSize is unknown here: thumbnail.DefaultCell is used.
func cellSize(*os.File) image.Point { return image.Point{} }
