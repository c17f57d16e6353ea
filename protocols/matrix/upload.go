package matrix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // sizes of sent pictures
	_ "image/jpeg"
	_ "image/png"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

var _ protocols.Uploader = (*Connector)(nil)

// FileEncryption: in an encrypted room a file is encrypted on this device
// (its key travels inside the Megolm event), so it gets the text's class.
func (c *Connector) FileEncryption(peer protocols.Address) protocols.Encryption {
	return c.PeerEncryption(peer)
}

// limitCache keeps the server's m.upload.size for a while.
type limitCache struct {
	mu   sync.Mutex
	size int64
	at   time.Time
}

// UploadLimit is the homeserver's m.upload.size, from the authenticated
// media config (client v1) or, on older servers, /_matrix/media/v3/config.
func (c *Connector) UploadLimit(ctx context.Context) (int64, error) {
	c.upLimit.mu.Lock()
	size, at := c.upLimit.size, c.upLimit.at
	c.upLimit.mu.Unlock()
	if !at.IsZero() && time.Since(at) < 10*time.Minute {
		return size, nil
	}
	cli, _, _, err := c.client()
	if err != nil {
		return 0, err
	}
	resp, err := cli.GetMediaConfig(ctx)
	if err != nil || resp == nil {
		var legacy mautrix.RespMediaConfig
		if _, err2 := cli.MakeRequest(ctx, "GET", cli.BuildURL(mautrix.MediaURLPath{"v3", "config"}), nil, &legacy); err2 != nil {
			return 0, fmt.Errorf("matrix: media config: %w", err)
		}
		resp = &legacy
	}
	c.upLimit.mu.Lock()
	c.upLimit.size, c.upLimit.at = resp.UploadSize, time.Now()
	c.upLimit.mu.Unlock()
	return resp.UploadSize, nil
}

// msgTypeOf picks the message type a client shows the file as.
func msgTypeOf(mime string) event.MessageType {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return event.MsgImage
	case strings.HasPrefix(mime, "video/"):
		return event.MsgVideo
	case strings.HasPrefix(mime, "audio/"):
		return event.MsgAudio
	}
	return event.MsgFile
}

// fileContent uploads the file (encrypted first when enc is end-to-end)
// and builds its message: msgtype by type, info with type and size (and a
// picture's dimensions), the caption as body with the file name beside it.
func (c *Connector) fileContent(ctx context.Context, cli *mautrix.Client, f protocols.OutgoingFile, caption string, enc protocols.Encryption) (*event.MessageEventContent, error) {
	data, err := protocols.ReadOutgoing(f)
	if err != nil {
		return nil, err
	}
	if limit, err := c.UploadLimit(ctx); err == nil && limit > 0 && f.Size > limit {
		return nil, &protocols.TooLargeError{Network: protocols.Matrix, Size: f.Size, Limit: limit}
	}
	content := &event.MessageEventContent{MsgType: msgTypeOf(f.MIME), Body: f.Name,
		Info: &event.FileInfo{MimeType: f.MIME, Size: int(f.Size)}}
	if caption != "" {
		content.Body, content.FileName = caption, f.Name
	}
	if content.MsgType == event.MsgImage {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			content.Info.Width, content.Info.Height = cfg.Width, cfg.Height
		}
	}
	up := mautrix.ReqUploadMedia{ContentLength: f.Size, ContentType: f.MIME, FileName: f.Name}
	var file *attachment.EncryptedFile
	if enc.IsE2EE() {
		// The server stores only ciphertext under a neutral type and no name.
		file = attachment.NewEncryptedFile()
		file.EncryptInPlace(data)
		up.ContentType, up.FileName = "application/octet-stream", ""
	}
	up.Content = f.ProgressReader(bytes.NewReader(data))
	resp, err := cli.UploadMedia(ctx, up)
	if err != nil {
		if isTooLarge(err) {
			limit, _ := c.UploadLimit(ctx)
			return nil, &protocols.TooLargeError{Network: protocols.Matrix, Size: f.Size, Limit: limit}
		}
		return nil, c.sendError(fmt.Errorf("upload: %w", err))
	}
	if file != nil {
		content.File = &event.EncryptedFileInfo{EncryptedFile: *file, URL: resp.ContentURI.CUString()}
	} else {
		content.URL = resp.ContentURI.CUString()
	}
	return content, nil
}

func isTooLarge(err error) bool {
	return errors.Is(err, mautrix.MTooLarge) || strings.Contains(err.Error(), "M_TOO_LARGE")
}

// sendFile posts the file message with the client ID as txnId; a retry
// uploads again (the server drops the second event, not the media).
func (c *Connector) sendFile(ctx context.Context, cli *mautrix.Client, room id.RoomID, enc protocols.Encryption, msg protocols.OutgoingMessage) (protocols.SendResult, error) {
	content, err := c.fileContent(ctx, cli, *msg.File, msg.Body, enc)
	if err != nil {
		return protocols.SendResult{}, err
	}
	if msg.ReplyTo != "" {
		content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(id.EventID(msg.ReplyTo))
	}
	resp, err := cli.SendMessageEvent(ctx, room, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: string(msg.ClientID)})
	if err != nil {
		return protocols.SendResult{}, c.sendError(err)
	}
	att := attachmentOf(content)
	return protocols.SendResult{NetworkID: protocols.MessageID(resp.EventID.String()), Chat: protocols.ChatID(room.String()),
		Encryption: enc, At: time.Now(), Attachments: []protocols.Attachment{att}}, nil
}
