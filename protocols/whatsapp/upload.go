package whatsapp

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/gif" // sizes of sent pictures
	_ "image/jpeg"
	_ "image/png"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"polyglot/protocols"
)

var _ protocols.Uploader = (*Connector)(nil)

// maxUpload is the largest file Polyglot sends over WhatsApp: WhatsApp's
// servers publish no limit to clients (its apps allow documents up to
// 2 GB), and whatsmeow encrypts a file in memory; 100 MiB keeps that sane.
const maxUpload = 100 << 20

// FileEncryption: whatsmeow encrypts every upload with a fresh media key
// that travels inside the Signal-encrypted message, as the text does.
func (c *Connector) FileEncryption(peer protocols.Address) protocols.Encryption {
	return c.PeerEncryption(peer)
}

// UploadLimit is maxUpload (see there).
func (c *Connector) UploadLimit(context.Context) (int64, error) { return maxUpload, nil }

// upload is whatsmeow's Upload; tests replace it (no WhatsApp server here).
func (c *Connector) upload(ctx context.Context, data []byte, kind mediaKind) (whatsmeow.UploadResponse, error) {
	if c.uploadHook != nil {
		return c.uploadHook(ctx, data, mediaTypes[kind])
	}
	if !c.connected() {
		return whatsmeow.UploadResponse{}, protocols.ErrNotConnected
	}
	return c.cli.Upload(ctx, data, mediaTypes[kind])
}

// mediaKindOf is the WhatsApp message type a file goes as. Only the types
// WhatsApp's apps play inline go as image/video/audio; the rest (an SVG,
// a TIFF, a FLAC) go as a document so they arrive intact.
func mediaKindOf(mimeType string) mediaKind {
	switch {
	case mimeType == "image/jpeg" || mimeType == "image/png" || mimeType == "image/webp" || mimeType == "image/gif":
		return mediaImage
	case mimeType == "video/mp4" || mimeType == "video/3gpp":
		return mediaVideo
	case strings.HasPrefix(mimeType, "audio/ogg") || mimeType == "audio/mpeg" || mimeType == "audio/mp4" || mimeType == "audio/aac" || mimeType == "audio/amr":
		return mediaAudio
	}
	return mediaDocument
}

// buildFile is the message for an uploaded file: the encryption material
// (media key, SHA-256 of plaintext and ciphertext) and where it lies
// (URL, direct path), its type and length, and the caption.
func buildFile(f protocols.OutgoingFile, kind mediaKind, up whatsmeow.UploadResponse, caption string, data []byte) *waE2E.Message {
	now := proto.Int64(time.Now().Unix())
	var capt *string
	if caption != "" {
		capt = proto.String(caption)
	}
	switch kind {
	case mediaImage:
		im := &waE2E.ImageMessage{URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			Mimetype: proto.String(f.MIME), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
			FileLength: proto.Uint64(up.FileLength), MediaKeyTimestamp: now, Caption: capt}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			im.Width, im.Height = proto.Uint32(uint32(cfg.Width)), proto.Uint32(uint32(cfg.Height))
		}
		return &waE2E.Message{ImageMessage: im}
	case mediaVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, Mimetype: proto.String(f.MIME), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
			FileLength: proto.Uint64(up.FileLength), MediaKeyTimestamp: now, Caption: capt}}
	case mediaAudio:
		// An audio message has no caption: it goes as a text after it.
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, Mimetype: proto.String(f.MIME), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
			FileLength: proto.Uint64(up.FileLength), MediaKeyTimestamp: now}}
	}
	return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
		MediaKey: up.MediaKey, Mimetype: proto.String(f.MIME), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
		FileLength: proto.Uint64(up.FileLength), MediaKeyTimestamp: now, FileName: proto.String(f.Name), Title: proto.String(f.Name),
		Caption: capt}}
}

// sendFile uploads the file (whatsmeow encrypts it) and sends its message
// under the ID kept for the client ID; a retry uploads again and sends
// the same ID, which the peer's phone drops as a duplicate.
func (c *Connector) sendFile(ctx context.Context, msg protocols.OutgoingMessage) (protocols.SendResult, error) {
	f := *msg.File
	if f.Size > maxUpload {
		return protocols.SendResult{}, &protocols.TooLargeError{Network: protocols.WhatsApp, Size: f.Size, Limit: maxUpload}
	}
	data, err := protocols.ReadOutgoing(f)
	if err != nil {
		return protocols.SendResult{}, err
	}
	to, class, id, err := c.prepareSend(ctx, msg)
	if err != nil {
		return protocols.SendResult{}, err
	}
	kind := mediaKindOf(f.MIME)
	if f.Progress != nil {
		f.Progress(0, f.Size)
	}
	up, err := c.upload(ctx, data, kind)
	if err != nil {
		return protocols.SendResult{}, fmt.Errorf("whatsapp: upload: %w", err)
	}
	if f.Progress != nil {
		f.Progress(f.Size, f.Size)
	}
	wm := buildFile(f, kind, up, msg.Body, data)
	resp, err := c.sendMessage(ctx, to, wm, id)
	if err != nil {
		return protocols.SendResult{}, err
	}
	_, _, atts := content(wm)
	if kind == mediaAudio && strings.TrimSpace(msg.Body) != "" {
		capID, err := c.messageID(ctx, string(msg.ClientID)+"/caption", to)
		if err == nil {
			_, err = c.sendMessage(ctx, to, &waE2E.Message{Conversation: proto.String(msg.Body)}, capID)
		}
		if err != nil {
			c.log.Warn().Err(err).Msg("caption of an audio message not sent")
		}
	}
	return protocols.SendResult{NetworkID: protocols.MessageID(id), Chat: protocols.ChatID(to.String()), Encryption: class,
		At: stamp(resp.Timestamp), Attachments: atts}, nil
}
