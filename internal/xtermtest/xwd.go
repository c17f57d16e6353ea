package xtermtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/bits"
)

// DecodeXWD decodes an X Window Dump (what xwd writes) of a TrueColor or
// DirectColor visual in ZPixmap format with 24 or 32 bits per pixel —
// what Xvfb at depth 24 produces. No maintained Go decoder exists; the
// format is small (XWDFile.h):
//
//	header: 25 big-endian uint32 fields, then the window name
//	        (header_size - 100 bytes)
//	colormap: ncolors entries of 12 bytes (unused for TrueColor)
//	pixels: height rows of bytes_per_line bytes, each pixel
//	        bits_per_pixel/8 bytes in the header's byte_order
func DecodeXWD(r io.Reader) (image.Image, error) {
	var h struct {
		HeaderSize, FileVersion, PixmapFormat, PixmapDepth  uint32
		Width, Height, XOffset, ByteOrder                   uint32
		BitmapUnit, BitmapBitOrder, BitmapPad, BitsPerPixel uint32
		BytesPerLine, VisualClass                           uint32
		RedMask, GreenMask, BlueMask                        uint32
		BitsPerRGB, ColormapEntries, NColors                uint32
		WindowWidth, WindowHeight, WindowX, WindowY         uint32
		WindowBorderWidth                                   uint32
	}
	const headerFields = 100 // bytes of the fixed header
	if err := binary.Read(r, binary.BigEndian, &h); err != nil {
		return nil, fmt.Errorf("xwd header: %w", err)
	}
	switch {
	case h.FileVersion != 7:
		return nil, fmt.Errorf("xwd: file version %d, want 7", h.FileVersion)
	case h.HeaderSize < headerFields:
		return nil, fmt.Errorf("xwd: header size %d", h.HeaderSize)
	case h.PixmapFormat != 2:
		return nil, fmt.Errorf("xwd: pixmap format %d, only ZPixmap (2) is supported", h.PixmapFormat)
	case h.VisualClass != 4 && h.VisualClass != 5:
		return nil, fmt.Errorf("xwd: visual class %d, only TrueColor/DirectColor are supported", h.VisualClass)
	case h.BitsPerPixel != 24 && h.BitsPerPixel != 32:
		return nil, fmt.Errorf("xwd: %d bits per pixel, only 24 and 32 are supported", h.BitsPerPixel)
	case h.Width == 0 || h.Height == 0 || h.Width > 1<<14 || h.Height > 1<<14:
		return nil, fmt.Errorf("xwd: size %dx%d", h.Width, h.Height)
	case uint64(h.BytesPerLine) < uint64(h.Width)*uint64(h.BitsPerPixel/8):
		return nil, fmt.Errorf("xwd: %d bytes per line for %d pixels", h.BytesPerLine, h.Width)
	case h.RedMask == 0 || h.GreenMask == 0 || h.BlueMask == 0:
		return nil, errors.New("xwd: a colour mask is zero")
	}
	skip := int64(h.HeaderSize-headerFields) + int64(h.NColors)*12
	if _, err := io.CopyN(io.Discard, r, skip); err != nil {
		return nil, fmt.Errorf("xwd: window name and colormap: %w", err)
	}

	bpp := int(h.BitsPerPixel / 8)
	red, green, blue := newChannel(h.RedMask), newChannel(h.GreenMask), newChannel(h.BlueMask)
	img := image.NewRGBA(image.Rect(0, 0, int(h.Width), int(h.Height)))
	row := make([]byte, h.BytesPerLine)
	for y := 0; y < int(h.Height); y++ {
		if _, err := io.ReadFull(r, row); err != nil {
			return nil, fmt.Errorf("xwd: pixel row %d: %w", y, err)
		}
		for x := 0; x < int(h.Width); x++ {
			p := row[x*bpp : x*bpp+bpp]
			var v uint32
			for i := range p { // byte_order 0 is LSBFirst, 1 MSBFirst
				if h.ByteOrder == 0 {
					v |= uint32(p[i]) << (8 * i)
				} else {
					v = v<<8 | uint32(p[i])
				}
			}
			img.SetRGBA(x, y, color.RGBA{red.get(v), green.get(v), blue.get(v), 0xff})
		}
	}
	return img, nil
}

// channel extracts one colour from a pixel value by its mask, scaled to 8 bits.
type channel struct{ shift, width int }

func newChannel(mask uint32) channel {
	return channel{shift: bits.TrailingZeros32(mask), width: bits.OnesCount32(mask)}
}

func (c channel) get(v uint32) uint8 {
	x := (v >> c.shift) & (1<<c.width - 1)
	switch {
	case c.width >= 8:
		return uint8(x >> (c.width - 8))
	default: // e.g. 5 or 6 bits: scale to the full 0–255 range
		return uint8(x * 255 / (1<<c.width - 1))
	}
}
