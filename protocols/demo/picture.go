package demo

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"sync"

	"polyglot/internal/download"
	"polyglot/protocols"
)

// The demo's one picture: a photo message whose file is four coloured
// quadrants (red, green / blue, yellow), so a test can tell from the
// terminal's cells that the picture is drawn the right way up.
const (
	pictureName = "quadrants.png"
	pictureURL  = "demo://pictures/" + pictureName
	pictureSide = 64
)

// Quadrant colours, top left, top right, bottom left, bottom right.
var PictureQuadrants = [4]color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 0, 255}}

var pictureOnce = sync.OnceValue(func() []byte {
	m := image.NewNRGBA(image.Rect(0, 0, pictureSide, pictureSide))
	h := pictureSide / 2
	for y := 0; y < pictureSide; y++ {
		for x := 0; x < pictureSide; x++ {
			q := 0
			if x >= h {
				q++
			}
			if y >= h {
				q += 2
			}
			m.SetNRGBA(x, y, PictureQuadrants[q])
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic("demo: encoding the picture: " + err.Error())
	}
	return b.Bytes()
})

// PictureBytes is the demo picture's file.
func PictureBytes() []byte { return pictureOnce() }

// sendPicture: the peer key sends the demo picture with a caption.
func (c *conn) sendPicture(key, caption string) {
	p := c.byKey[key]
	if p == nil {
		return
	}
	c.mu.Lock()
	lg := c.chatLocked(p.chat, false)
	c.liveCount++
	now := c.w.now()
	m := c.message(lg, p, caption, now, networkID(c.net, c.w.seed, "live", string(p.chat), strconv.FormatUint(c.liveCount, 10)))
	m.Attachments = []protocols.Attachment{{Name: pictureName, MIME: "image/png", Size: int64(len(PictureBytes())),
		URL: pictureURL, Width: pictureSide, Height: pictureSide}}
	lg.msgs = append(lg.msgs, m)
	c.mu.Unlock()
	c.emit(protocols.MessageEvent{Message: m})
}

// Download saves the demo picture (the only file the demo world holds)
// the way a real connector saves what it fetched.
func (c *conn) Download(ctx context.Context, att protocols.Attachment, dir string) (string, error) {
	if err := c.check(ctx); err != nil {
		return "", err
	}
	if b, ok := c.w.sentFile(att.URL); ok {
		return download.Save(dir, att.Name, b)
	}
	if att.URL != pictureURL {
		return "", fmt.Errorf("demo: no file at %q", att.URL)
	}
	return download.Save(dir, att.Name, PictureBytes())
}

var _ protocols.Downloader = (*conn)(nil)
