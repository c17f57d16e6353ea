package whatsapp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"polyglot/internal/download"
	"polyglot/protocols"
)

type mediaKind string

const (
	mediaImage    mediaKind = "image"
	mediaVideo    mediaKind = "video"
	mediaAudio    mediaKind = "audio"
	mediaDocument mediaKind = "document"
)

var mediaTypes = map[mediaKind]whatsmeow.MediaType{
	mediaImage:    whatsmeow.MediaImage,
	mediaVideo:    whatsmeow.MediaVideo,
	mediaAudio:    whatsmeow.MediaAudio,
	mediaDocument: whatsmeow.MediaDocument,
}

// mediaRef is what a download needs besides the direct path: the media
// key and hashes. It travels as the Attachment's Key, so media are fetched
// only when the user opens them.
type mediaRef struct {
	Kind      mediaKind `json:"t"`
	MediaKey  []byte    `json:"k"`
	EncSHA256 []byte    `json:"e"`
	SHA256    []byte    `json:"s"`
	// The message it came in, for asking the sender's phone to upload it
	// again when the server no longer has it.
	Chat   string `json:"c,omitempty"`
	ID     string `json:"i,omitempty"`
	Sender string `json:"f,omitempty"`
	FromMe bool   `json:"m,omitempty"`
}

func decodeRef(key string) (mediaRef, error) {
	var ref mediaRef
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err == nil {
		err = json.Unmarshal(raw, &ref)
	}
	if err != nil {
		return ref, fmt.Errorf("whatsapp: not a WhatsApp attachment: %w", err)
	}
	return ref, nil
}

func encodeRef(ref mediaRef) string {
	b, _ := json.Marshal(ref)
	return base64.RawURLEncoding.EncodeToString(b)
}

// withOrigin records in each attachment's Key the message it came in.
func withOrigin(atts []protocols.Attachment, m protocols.Message) {
	for i := range atts {
		ref, err := decodeRef(atts[i].Key)
		if err != nil {
			continue
		}
		ref.Chat, ref.ID, ref.Sender, ref.FromMe = string(m.Chat.ID), string(m.NetworkID), m.Sender.ID, m.Outgoing
		atts[i].Key = encodeRef(ref)
	}
}

type downloadable interface {
	whatsmeow.DownloadableMessage
	GetFileLength() uint64
}

func media(kind mediaKind, m downloadable, name, mimeType string, w, h int, dur time.Duration) protocols.Attachment {
	a := protocols.Attachment{
		Name: name, MIME: mimeType, Size: int64(m.GetFileLength()),
		URL: m.GetDirectPath(), Key: encodeRef(mediaRef{Kind: kind, MediaKey: m.GetMediaKey(), EncSHA256: m.GetFileEncSHA256(), SHA256: m.GetFileSHA256()}),
		Width: w, Height: h, Duration: dur,
	}
	return a
}

func ext(mimeType string) string {
	mt, _, _ := strings.Cut(mimeType, ";")
	switch mt {
	case "image/jpeg":
		return ".jpg"
	case "audio/ogg":
		return ".ogg"
	case "video/mp4":
		return ".mp4"
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// Download fetches an attachment, decrypts and verifies it (whatsmeow
// checks the MAC and both hashes) and writes it under dir.
func (c *Connector) Download(ctx context.Context, att protocols.Attachment, dir string) (string, error) {
	ref, err := decodeRef(att.Key)
	if err != nil {
		return "", err
	}
	mt, ok := mediaTypes[ref.Kind]
	if !ok || !strings.HasPrefix(att.URL, "/") {
		return "", errors.New("whatsapp: not a WhatsApp attachment")
	}
	if !c.connected() {
		return "", protocols.ErrNotConnected
	}
	data, err := c.cli.DownloadMediaWithPath(ctx, att.URL, ref.EncSHA256, ref.SHA256, ref.MediaKey, mt, "", false)
	if errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) || errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410) {
		// Expired on the server: ask the sender's phone to upload it again.
		path, rerr := c.reuploaded(ctx, ref)
		if rerr != nil {
			return "", fmt.Errorf("whatsapp: the server no longer has this file, and asking the sender's phone for it again failed: %w", rerr)
		}
		data, err = c.cli.DownloadMediaWithPath(ctx, path, ref.EncSHA256, ref.SHA256, ref.MediaKey, mt, "", false)
	}
	if err != nil {
		return "", fmt.Errorf("whatsapp: download: %w", err)
	}
	return download.Save(dir, att.Name, data)
}

// mediaRetryWait bounds the wait for the sender's phone to upload again.
var mediaRetryWait = 60 * time.Second

// awaitMediaRetry registers for the answer to a media-retry receipt.
func (c *Connector) awaitMediaRetry(id string) (<-chan *events.MediaRetry, func()) {
	ch := make(chan *events.MediaRetry, 1)
	c.mu.Lock()
	c.retries[id] = ch
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.retries, id)
		c.mu.Unlock()
	}
}

func (c *Connector) mediaRetry(e *events.MediaRetry) {
	c.mu.Lock()
	ch := c.retries[e.MessageID]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- e:
		default:
		}
	}
}

// reuploaded sends a media-retry receipt for ref's message and returns
// the new direct path the phone's upload answered with.
func (c *Connector) reuploaded(ctx context.Context, ref mediaRef) (string, error) {
	if ref.ID == "" {
		return "", errors.New("the message it came in is unknown")
	}
	chat, err := types.ParseJID(ref.Chat)
	if err != nil {
		return "", err
	}
	sender, _ := types.ParseJID(ref.Sender)
	answer, done := c.awaitMediaRetry(ref.ID)
	defer done()
	info := &types.MessageInfo{ID: ref.ID, MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsFromMe: ref.FromMe, IsGroup: chat.Server == types.GroupServer}}
	if err := c.cli.SendMediaRetryReceipt(ctx, info, ref.MediaKey); err != nil {
		return "", err
	}
	t := time.NewTimer(mediaRetryWait)
	defer t.Stop()
	select {
	case e := <-answer:
		return retriedPath(e, ref.MediaKey)
	case <-t.C:
		return "", errors.New("the phone did not answer (it may be offline)")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func retriedPath(e *events.MediaRetry, mediaKey []byte) (string, error) {
	n, err := whatsmeow.DecryptMediaRetryNotification(e, mediaKey)
	if err != nil {
		return "", err
	}
	if n.GetResult() != waMmsRetry.MediaRetryNotification_SUCCESS || n.GetDirectPath() == "" {
		return "", fmt.Errorf("the phone could not upload it again (%s)", n.GetResult())
	}
	return n.GetDirectPath(), nil
}
