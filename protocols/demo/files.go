package demo

import (
	"context"

	"polyglot/protocols"
)

// Sending files in the demo: a file goes like a message, with the class
// the chat's text has; its bytes stay in this process (the demo's "media
// server"), so the sender can open what they sent. Nothing leaves it.

// demoUploadLimit is the demo server's largest file, like a real one's.
const demoUploadLimit = 25 << 20

var _ protocols.Uploader = (*conn)(nil)

func (c *conn) FileEncryption(peer protocols.Address) protocols.Encryption {
	return c.PeerEncryption(peer)
}

func (c *conn) UploadLimit(context.Context) (int64, error) { return demoUploadLimit, nil }

// upload keeps a sent file's bytes and says where the peer "got" it.
func (c *conn) upload(f protocols.OutgoingFile, clientID protocols.ClientID) (protocols.Attachment, error) {
	data, err := protocols.ReadOutgoing(f)
	if err != nil {
		return protocols.Attachment{}, err
	}
	url := "demo://sent/" + string(clientID) + "/" + f.Name
	c.w.filesMu.Lock()
	if c.w.files == nil {
		c.w.files = map[string][]byte{}
	}
	c.w.files[url] = data
	c.w.filesMu.Unlock()
	if f.Progress != nil {
		f.Progress(f.Size, f.Size)
	}
	return protocols.Attachment{Name: f.Name, MIME: f.MIME, Size: f.Size, URL: url}, nil
}

// sentFile is a file the user sent in this demo run.
func (w *World) sentFile(url string) ([]byte, bool) {
	w.filesMu.Lock()
	defer w.filesMu.Unlock()
	b, ok := w.files[url]
	return b, ok
}
