package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif"  // first frame only: image.Decode reads no further
	_ "image/jpeg" // registered for image.Decode
	_ "image/png"
	"time"

	_ "golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"
)

// Limits bound what Make accepts. The zero value of a field means its
// default.
type Limits struct {
	MaxBytes  int64         // file size
	MaxPixels int64         // width × height the header declares
	MaxSide   int           // either side, in pixels
	Timeout   time.Duration // decode and scale together
}

// DefaultLimits: a 40 Mpx photo from a phone passes; a bomb does not.
var DefaultLimits = Limits{MaxBytes: 25 << 20, MaxPixels: 40_000_000, MaxSide: 20_000, Timeout: 5 * time.Second}

func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxPixels > 0 {
		d.MaxPixels = l.MaxPixels
	}
	if l.MaxSide > 0 {
		d.MaxSide = l.MaxSide
	}
	if l.Timeout > 0 {
		d.Timeout = l.Timeout
	}
	return d
}

// Errors Make returns; each words what the placeholder line says.
var (
	ErrTooLarge = errors.New("too large to preview")
	ErrFormat   = errors.New("not a picture this client can show")
	ErrTimeout  = errors.New("took too long to decode")
)

// decoding bounds the pixels being decoded at once (a decoder holds
// several bytes per pixel, a progressive JPEG more than ten): one picture
// at the pixel cap decodes alone, phone photos two or three at a time. A
// decode that overran its time bound keeps its share until it ends (Go
// cannot stop it), so overruns cannot pile up.
var decoding = semaphore.NewWeighted(48_000_000)

// Max is the stored thumbnail's largest side, in pixels: enough for a
// 40×10-cell box on a kitty terminal, small on disk.
const Max = 320

// Make decodes data within lim and returns it scaled to fit maxW×maxH
// pixels (never enlarged).
func Make(data []byte, lim Limits, maxW, maxH int) (*image.NRGBA, error) {
	lim = lim.orDefault()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes (the limit is %d)", ErrTooLarge, len(data), lim.MaxBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s declares %d×%d pixels", ErrFormat, format, cfg.Width, cfg.Height)
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return nil, fmt.Errorf("%w: %s declares %d×%d pixels", ErrTooLarge, format, cfg.Width, cfg.Height)
	}
	type result struct {
		img *image.NRGBA
		err error
	}
	done := make(chan result, 1)
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()
	share := min(int64(cfg.Width)*int64(cfg.Height), 48_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), lim.Timeout)
	defer cancel()
	if err := decoding.Acquire(ctx, share); err != nil {
		return nil, ErrTimeout
	}
	go func() {
		defer decoding.Release(share)
		defer func() {
			// A decoder bug on hostile input must not take the client down.
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("%w: decoder failed: %v", ErrFormat, r)}
			}
		}()
		src, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			done <- result{err: fmt.Errorf("%w: %v", ErrFormat, err)}
			return
		}
		b := src.Bounds()
		if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
			// The header lied about the size it was checked with.
			if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
				done <- result{err: fmt.Errorf("%w: %d×%d pixels", ErrTooLarge, b.Dx(), b.Dy())}
				return
			}
		}
		done <- result{img: scale(src, maxW, maxH)}
	}()
	select {
	case r := <-done:
		return r.img, r.err
	case <-timer.C:
		return nil, ErrTimeout
	}
}

// Shrink fits img into maxW×maxH pixels keeping its shape (never
// enlarging): e.g. a thumbnail down to the most a half-block box can show.
func Shrink(img image.Image, maxW, maxH int) *image.NRGBA { return scale(img, maxW, maxH) }

// scale fits src into maxW×maxH keeping its shape; a smaller picture keeps
// its size.
func scale(src image.Image, maxW, maxH int) *image.NRGBA {
	b := src.Bounds()
	w, h := fitPixels(b.Dx(), b.Dy(), maxW, maxH)
	if w == b.Dx() && h == b.Dy() {
		dst := image.NewNRGBA(image.Rect(0, 0, w, h))
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst
	}
	return boxScale(src, w, h)
}

// fitPixels is w×h scaled down (never up) to fit maxW×maxH, at least 1×1.
func fitPixels(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	// Compare w/maxW with h/maxH without floats.
	if int64(w)*int64(maxH) >= int64(h)*int64(maxW) {
		return maxW, max(1, int(int64(h)*int64(maxW)/int64(w)))
	}
	return max(1, int(int64(w)*int64(maxH)/int64(h))), maxH
}
