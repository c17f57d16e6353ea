package thumbnail

import (
	"image"
	"image/color"
)

// boxScale resizes src to w×h by averaging the source pixels under each
// destination pixel (a box filter): each source pixel is read once, so a
// large photo shrinks in time proportional to its pixel count (a sample
// of them for a big reduction), with little aliasing. An axis that grows is sampled nearest-neighbour. Colours are
// averaged weighted by alpha, so transparent pixels do not darken edges.
func boxScale(src image.Image, w, h int) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || sw <= 0 || sh <= 0 {
		return dst
	}
	px := pixelReader(src)
	if w > sw || h > sh {
		for y := 0; y < h; y++ {
			sy := b.Min.Y + y*sh/h
			for x := 0; x < w; x++ {
				dst.SetNRGBA(x, y, px(b.Min.X+x*sw/w, sy))
			}
		}
		return dst
	}
	// Sums per destination pixel: alpha-weighted colour, alpha, count.
	n := w * h
	sr, sg, sb := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	sa, cnt := make([]uint64, n), make([]uint32, n)
	xmap := make([]int, sw)
	for x := range xmap {
		xmap[x] = x * w / sw
	}
	// A big reduction reads every step-th pixel of every step-th row:
	// each destination pixel still averages 16 or more samples.
	step := max(1, min(sw/w, sh/h)/4)
	for y := 0; y < sh; y += step {
		row := (y * h / sh) * w
		for x := 0; x < sw; x += step {
			c := px(b.Min.X+x, b.Min.Y+y)
			i := row + xmap[x]
			a := uint64(c.A)
			sr[i] += uint64(c.R) * a
			sg[i] += uint64(c.G) * a
			sb[i] += uint64(c.B) * a
			sa[i] += a
			cnt[i]++
		}
	}
	for i := 0; i < n; i++ {
		if cnt[i] == 0 || sa[i] == 0 {
			continue
		}
		o := i * 4
		dst.Pix[o] = uint8(sr[i] / sa[i])
		dst.Pix[o+1] = uint8(sg[i] / sa[i])
		dst.Pix[o+2] = uint8(sb[i] / sa[i])
		dst.Pix[o+3] = uint8(sa[i] / uint64(cnt[i]))
	}
	return dst
}

// pixelReader reads src's pixels as NRGBA, directly from the pixel
// buffers of the types the decoders produce (a method call per pixel
// through image.Image is several times slower).
func pixelReader(src image.Image) func(x, y int) color.NRGBA {
	switch m := src.(type) {
	case *image.NRGBA:
		return func(x, y int) color.NRGBA {
			i := m.PixOffset(x, y)
			return color.NRGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3]}
		}
	case *image.RGBA:
		return func(x, y int) color.NRGBA {
			i := m.PixOffset(x, y)
			return unpremultiply(m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3])
		}
	case *image.YCbCr:
		return func(x, y int) color.NRGBA {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			return color.NRGBA{r, g, b, 255}
		}
	case *image.Gray:
		return func(x, y int) color.NRGBA {
			v := m.Pix[m.PixOffset(x, y)]
			return color.NRGBA{v, v, v, 255}
		}
	case *image.Paletted:
		pal := make([]color.NRGBA, len(m.Palette))
		for i, c := range m.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		return func(x, y int) color.NRGBA {
			if i := int(m.Pix[m.PixOffset(x, y)]); i < len(pal) {
				return pal[i]
			}
			return color.NRGBA{}
		}
	}
	return func(x, y int) color.NRGBA { return color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA) }
}

func unpremultiply(r, g, b, a uint8) color.NRGBA {
	if a == 0 {
		return color.NRGBA{}
	}
	if a == 255 {
		return color.NRGBA{r, g, b, a}
	}
	u := func(v uint8) uint8 { return uint8(min(255, uint32(v)*255/uint32(a))) }
	return color.NRGBA{u(r), u(g), u(b), a}
}
