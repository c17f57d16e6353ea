package tui

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/tui/thumbnail"
)

// Pictures in a conversation: each image attachment shows as a thumbnail
// a few rows high. Thumbnails are fetched (through the core's download,
// which refuses a request not yet accepted), decoded within bounds and
// cached on disk in background commands; rendering happens when the
// history is rebuilt, so View only copies lines.

// ImageOptions say how pictures are shown.
type ImageOptions struct {
	// Protocol: thumbnail.Kitty, thumbnail.Sixel, thumbnail.Blocks or
	// thumbnail.Off ("" is off). Run resolves thumbnail.Auto from the
	// environment once; a served screen is resolved from its session's.
	Protocol thumbnail.Protocol
	// CellSize is the terminal's cell in pixels, asked again on every
	// resize (sixel pictures are sized in pixels). nil, or a zero answer:
	// thumbnail.DefaultCell.
	CellSize func() image.Point
	// CacheDir keeps thumbnails between runs ("" keeps none on disk).
	CacheDir string
	// CacheBytes bounds CacheDir (0: thumbnail.DefaultCacheBytes).
	CacheBytes int64
}

// Picture box: at most this many cells, less on a narrow screen.
const (
	picCols = 40
	picRows = 10
)

// pictures is one screen's picture settings.
type pictures struct {
	proto   thumbnail.Protocol
	profile termenv.Profile
	cache   *thumbnail.Cache
	limits  thumbnail.Limits
	// sent are the kitty image IDs this terminal has been sent.
	sent map[uint32]bool
	// fetching bounds concurrent downloads: a conversation of fifty
	// pictures does not open fifty connections at once.
	fetching chan struct{}
	// encoding bounds concurrent sixel encodes (tens of ms and ~10 MB of
	// garbage each for a photo): two at a time.
	encoding chan struct{}
	// tmux: kitty images go through tmux passthrough (a protocol forced
	// to kitty inside tmux; needs `set -g allow-passthrough on`).
	tmux bool
	// cell is the terminal's cell in pixels (sixel), from cellSize.
	cell     image.Point
	cellSize func() image.Point
}

// readCellSize asks the terminal's cell size again (on a resize: the font
// may have changed).
func (p *pictures) readCellSize() {
	c := thumbnail.DefaultCell
	if p.cellSize != nil {
		if got := p.cellSize(); got.X > 0 && got.Y > 0 {
			c = got
		}
	}
	p.cell = c
}

func newPictures(o ImageOptions, profile termenv.Profile, tmux bool) *pictures {
	p := &pictures{proto: o.Protocol, profile: profile, limits: thumbnail.DefaultLimits, sent: map[uint32]bool{},
		fetching: make(chan struct{}, 4), encoding: make(chan struct{}, 2), tmux: tmux, cellSize: o.CellSize}
	p.readCellSize()
	switch p.proto {
	case thumbnail.Kitty, thumbnail.Blocks, thumbnail.Sixel:
	case thumbnail.Auto:
		p.proto = thumbnail.Blocks
	default:
		p.proto = thumbnail.Off
	}
	// Half-blocks are colours only: a terminal without colour (NO_COLOR)
	// gets the one-line placeholder.
	if p.proto == thumbnail.Blocks && profile == termenv.Ascii {
		p.proto = thumbnail.Off
	}
	if o.CacheDir != "" {
		p.cache = thumbnail.NewCache(o.CacheDir, o.CacheBytes)
	}
	return p
}

// picKey names one attachment of one message.
type picKey struct {
	msg inbox.MessageID
	idx int
}

// picture is one thumbnail's state in a conversation view.
type picture struct {
	loading bool
	err     error
	img     *image.NRGBA // the thumbnail, up to thumbnail.Max pixels a side (kitty)
	// small is img shrunk to the most a half-block box shows, so a
	// resize redraws from a few hundred pixels, not a hundred thousand.
	small   *image.NRGBA
	kittyID uint32
	// lines are img drawn for a box maxCols wide (rebuilt on resize).
	lines   []string
	maxCols int
	// needsSend: kitty has not been sent this box size yet; sending: a
	// transmission is on its way (never two of one image).
	needsSend, sending bool
	// cell is the cell size lines were drawn for (sixel).
	cell image.Point
	// sixel is the picture encoded for sixelFor; encoding: an encode for
	// want is on its way.
	sixel          string
	sixelFor, want sixelBox
	encoding       bool
}

// sixelBox is the size a sixel picture was encoded for.
type sixelBox struct {
	cols, rows int
	cell       image.Point
}

// sixelMsg is an encoded (or failed) sixel picture.
type sixelMsg struct {
	conv inbox.ConversationID
	key  picKey
	box  sixelBox
	dcs  string
	err  error
}

// picMsg is a fetched (or failed) thumbnail.
type picMsg struct {
	conv  inbox.ConversationID
	key   picKey
	img   *image.NRGBA
	small *image.NRGBA
	err   error
}

// picSentMsg: a kitty image went to the terminal.
type picSentMsg struct {
	conv inbox.ConversationID
	key  picKey
	id   uint32
}

// isImage says whether an attachment is a picture to preview: by MIME
// type, or by extension when the network gave none.
func isImage(a protocols.Attachment) bool {
	if a.MIME != "" {
		return strings.HasPrefix(strings.ToLower(a.MIME), "image/")
	}
	switch strings.ToLower(filepath.Ext(a.Name)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp":
		return true
	}
	return false
}

// cacheKey identifies an attachment's thumbnail across runs.
func cacheKey(m inbox.Message, i int) string {
	a := m.Attachments[i]
	return fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", m.Network, m.Account, m.NetworkID, i, a.URL)
}

// picBox is the cell box pictures get at the history's body width.
func picBox(bodyWidth int) int { return max(0, min(picCols, bodyWidth)) }

// fetchPictures starts a fetch for every picture of the loaded messages
// that has none yet. A request's pictures wait for the user's consent:
// fetching them would tell the sender's server we looked.
func (c *conversationView) fetchPictures() tea.Cmd {
	pics := c.env.pics
	if pics == nil || pics.proto == thumbnail.Off || c.conv.ID != c.id || c.conv.Request {
		return nil
	}
	if c.pics == nil {
		c.pics = map[picKey]*picture{}
	}
	var cmds []tea.Cmd
	for _, m := range c.msgs {
		if m.Deleted {
			continue
		}
		for i, a := range m.Attachments {
			k := picKey{m.ID, i}
			if !isImage(a) {
				continue
			}
			// An account that was offline may be back: try again.
			if p := c.pics[k]; p != nil && !errors.Is(p.err, protocols.ErrNotConnected) {
				continue
			}
			if a.Size > pics.limits.MaxBytes {
				c.pics[k] = &picture{err: thumbnail.ErrTooLarge}
				continue
			}
			c.pics[k] = &picture{loading: true}
			cmds = append(cmds, fetchPicture(c.env, c.id, k, cacheKey(m, i)))
		}
	}
	return tea.Batch(cmds...)
}

// fetchPicture reads the thumbnail from the disk cache, or downloads the
// file (the same download `o` opens), decodes it within bounds and caches
// the thumbnail.
func fetchPicture(e *env, conv inbox.ConversationID, k picKey, ck string) tea.Cmd {
	pics := e.pics
	done := func(img *image.NRGBA) tea.Msg {
		m := picMsg{conv: conv, key: k, small: thumbnail.Shrink(img, picCols, 2*picRows)}
		if pics.proto == thumbnail.Kitty || pics.proto == thumbnail.Sixel {
			m.img = img // drawn by the terminal from the full thumbnail
		}
		return m
	}
	return func() tea.Msg {
		select {
		case pics.fetching <- struct{}{}:
			defer func() { <-pics.fetching }()
		case <-e.ctx.Done():
			return picMsg{conv: conv, key: k, err: e.ctx.Err()}
		}
		if pics.cache != nil {
			if b, ok := pics.cache.Get(ck); ok {
				if img, err := thumbnail.Make(b, pics.limits, thumbnail.Max, thumbnail.Max); err == nil {
					return done(img)
				}
			}
		}
		path, err := e.core.Download(e.ctx, k.msg, k.idx)
		if err != nil {
			return picMsg{conv: conv, key: k, err: err}
		}
		data, err := readCapped(path, pics.limits.MaxBytes)
		if err != nil {
			return picMsg{conv: conv, key: k, err: err}
		}
		img, err := thumbnail.Make(data, pics.limits, thumbnail.Max, thumbnail.Max)
		if err != nil {
			e.log.Info().Err(err).Int64("message", int64(k.msg)).Msg("no picture preview")
			return picMsg{conv: conv, key: k, err: err}
		}
		if pics.cache != nil {
			var b bytes.Buffer
			if err := png.Encode(&b, img); err == nil {
				if err := pics.cache.Put(ck, b.Bytes()); err != nil {
					e.log.Warn().Err(err).Msg("thumbnail cache")
				}
			}
		}
		return done(img)
	}
}

// readCapped reads a file no larger than limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes", thumbnail.ErrTooLarge, st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = thumbnail.ErrTooLarge
	}
	return b, err
}

// onPicture stores a fetched thumbnail and redraws its message.
func (c *conversationView) onPicture(m picMsg) tea.Cmd {
	if m.conv != c.id || c.pics == nil {
		return nil
	}
	p := c.pics[m.key]
	if p == nil {
		return nil
	}
	p.loading, p.img, p.small, p.err = false, m.img, m.small, m.err
	p.lines, p.maxCols = nil, 0
	c.rerenderMsg(m.key.msg)
	return c.pictureWork()
}

// onPictureSent: the terminal has the kitty image; draw its cells. A
// resize meanwhile may need the picture at another size: send that too.
func (c *conversationView) onPictureSent(m picSentMsg) tea.Cmd {
	if m.conv != c.id || c.pics == nil {
		return nil
	}
	c.env.pics.sent[m.id] = true
	p := c.pics[m.key]
	if p == nil {
		return nil
	}
	p.sending = false
	if p.kittyID == m.id {
		p.needsSend = false
		c.rerenderMsg(m.key.msg)
		return nil
	}
	return c.pictureWork()
}

func (c *conversationView) rerenderMsg(id inbox.MessageID) {
	if i := indexOf(c.msgs, id); i >= 0 {
		c.rerender(i)
		c.clampOffset()
	}
}

// pictureWork is what the rendered history's pictures need done beside
// the frames: kitty images sent, sixel pictures encoded.
func (c *conversationView) pictureWork() tea.Cmd {
	pics := c.env.pics
	if pics == nil {
		return nil
	}
	switch pics.proto {
	case thumbnail.Kitty:
		return c.sendKitty()
	case thumbnail.Sixel:
		return c.encodeSixels()
	}
	return nil
}

// sendKitty sends the kitty images the rendered history needs and the
// terminal does not have, before the frame that shows their cells.
func (c *conversationView) sendKitty() tea.Cmd {
	pics := c.env.pics
	var cmds []tea.Cmd
	for k, p := range c.pics {
		if p.img == nil || !p.needsSend || p.sending {
			continue
		}
		if pics.sent[p.kittyID] {
			p.needsSend = false
			c.rerenderMsg(k.msg)
			continue
		}
		p.sending = true
		cols, rows := thumbnail.Cells(p.img.Bounds().Dx(), p.img.Bounds().Dy(), p.maxCols, picRows)
		var wrap func(string) string
		if pics.tmux {
			wrap = tmuxPassthrough
		}
		cmds = append(cmds, transmitKitty(c.env.term, wrap, c.id, k, p.kittyID, p.img, cols, rows))
	}
	return tea.Batch(cmds...)
}

// encodeSixels encodes, in the background, the sixel pictures the
// rendered history shows at a size they are not encoded for yet; their
// half-block copy shows meanwhile.
func (c *conversationView) encodeSixels() tea.Cmd {
	var cmds []tea.Cmd
	for k, p := range c.pics {
		if p.img == nil || p.encoding || p.want.cols == 0 || p.sixelFor == p.want {
			continue
		}
		p.encoding = true
		img, box, conv, key, slots, ctx := p.img, p.want, c.id, k, c.env.pics.encoding, c.env.ctx
		cmds = append(cmds, func() tea.Msg {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				return sixelMsg{conv: conv, key: key, box: box, err: ctx.Err()}
			}
			dcs, err := thumbnail.SixelImage(img, box.cols, box.rows, box.cell)
			return sixelMsg{conv: conv, key: key, box: box, dcs: dcs, err: err}
		})
	}
	return tea.Batch(cmds...)
}

// onSixel keeps an encoded picture and draws it, or encodes again when a
// resize changed the size it needs meanwhile. A picture that cannot be
// encoded keeps its half-blocks.
func (c *conversationView) onSixel(m sixelMsg) tea.Cmd {
	if m.conv != c.id || c.pics == nil {
		return nil
	}
	p := c.pics[m.key]
	if p == nil {
		return nil
	}
	p.encoding = false
	if m.err != nil {
		c.env.log.Info().Err(m.err).Msg("no sixel picture")
	}
	p.sixel, p.sixelFor = m.dcs, m.box
	if m.box == p.want {
		c.rerenderMsg(m.key.msg)
		return nil
	}
	return c.encodeSixels()
}

// transmitKitty writes the kitty image to the terminal (beside the
// renderer's frames, never inside one: the line renderer cannot carry it).
func transmitKitty(term io.Writer, wrap func(string) string, conv inbox.ConversationID, k picKey, id uint32, img image.Image, cols, rows int) tea.Cmd {
	return func() tea.Msg {
		seq, err := thumbnail.KittyTransmit(id, img, cols, rows, wrap)
		if err == nil && term != nil {
			_, err = io.WriteString(term, seq)
		}
		if err != nil {
			return picMsg{conv: conv, key: k, err: err}
		}
		return picSentMsg{conv: conv, key: k, id: id}
	}
}

// pictureLines draws attachment i of m: the picture when it is here
// (drawn), else one line saying why not (yet); nil when pictures are off.
// name is already sanitized.
func (c *conversationView) pictureLines(m inbox.Message, i int, name, size string, bodyWidth int) (lines []string, drawn bool) {
	st := c.env.st
	pics := c.env.pics
	label := "🖼 " + name
	if size != "" {
		label += " (" + size + ")"
	}
	if pics == nil || pics.proto == thumbnail.Off {
		return nil, false
	}
	if c.conv.Request {
		return []string{st.dim.Render(label + " — accept the request to see it")}, false
	}
	var p *picture
	if c.pics != nil {
		p = c.pics[picKey{m.ID, i}]
	}
	switch {
	case p == nil || p.loading:
		return []string{st.dim.Render(label + " — loading…")}, false
	case p.err != nil:
		return []string{st.dim.Render(label + " — " + picError(p.err))}, false
	}
	box := picBox(bodyWidth)
	if box < 4 {
		return []string{st.dim.Render(label)}, false
	}
	if p.lines == nil || p.maxCols != box || p.cell != pics.cell {
		p.maxCols, p.cell = box, pics.cell
		src := p.small
		if p.img != nil && (pics.proto == thumbnail.Kitty || pics.proto == thumbnail.Sixel) {
			src = p.img
		}
		b := src.Bounds()
		cols, rows := thumbnail.Cells(b.Dx(), b.Dy(), box, picRows)
		switch pics.proto {
		case thumbnail.Kitty:
			id := thumbnail.KittyID(fmt.Sprintf("%s/%dx%d", cacheKey(m, i), cols, rows))
			p.kittyID = id
			p.needsSend = !pics.sent[id]
			p.lines = thumbnail.KittyPlaceholders(id, cols, rows)
		case thumbnail.Sixel:
			// The box follows the cell's real shape; half-blocks fill it
			// until the picture is encoded, and stay under it.
			cols, rows = thumbnail.SixelCells(b.Dx(), b.Dy(), box, picRows, pics.cell)
			p.want = sixelBox{cols, rows, pics.cell}
			p.lines = thumbnail.HalfBlocks(p.small, cols, rows, pics.profile)
			if p.lines == nil { // no colours: blank cells under the picture
				p.lines = slices.Repeat([]string{strings.Repeat(" ", cols)}, rows)
			}
		default:
			p.lines = thumbnail.HalfBlocks(p.small, cols, rows, pics.profile)
		}
	}
	if p.needsSend {
		// The cells would show nothing until the terminal has the image.
		return []string{st.dim.Render(label + " — loading…")}, false
	}
	if p.sixel != "" && p.sixelFor == p.want && len(p.lines) == p.want.rows {
		return append([]string{tea.SixelPicture(len(p.lines), p.sixel) + p.lines[0]}, p.lines[1:]...), true
	}
	return p.lines, true
}

// picError words why a picture shows no preview.
func picError(err error) string {
	switch {
	case errors.Is(err, thumbnail.ErrTooLarge):
		return "too large to preview (o opens it)"
	case errors.Is(err, thumbnail.ErrFormat):
		return "no preview: not a picture this client can show (o opens it)"
	case errors.Is(err, thumbnail.ErrTimeout):
		return "no preview: it took too long to decode"
	case errors.Is(err, inbox.ErrRequestPending):
		return "accept the request to see it"
	case errors.Is(err, protocols.ErrNotConnected):
		return "not loaded: the account is offline"
	case errors.Is(err, protocols.ErrUnsupported):
		return "no preview: this network's files cannot be downloaded here yet"
	}
	return "no preview (o opens it)"
}
