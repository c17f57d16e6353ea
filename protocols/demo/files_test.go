package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"polyglot/protocols"
)

// TestSendFileInTheDemo: a file sent in the demo travels with the chat's
// class, comes back as the attachment the sender's message shows, and
// opens with the same bytes; the demo server announces a limit, as a real
// one does.
func TestSendFileInTheDemo(t *testing.T) {
	w := newWorld(t, 3, 50)
	c := connect(t, w, protocols.WhatsApp)
	up, ok := c.(protocols.Uploader)
	if !ok {
		t.Fatal("the demo connector cannot send files")
	}
	ctx := context.Background()
	data := []byte("minutes of the meeting")
	path := filepath.Join(t.TempDir(), "minutes.txt")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	to := protocols.Address{Network: protocols.WhatsApp, ID: "15550100009@s.whatsapp.net"}
	f := &protocols.OutgoingFile{Path: path, Name: "minutes.txt", MIME: "text/plain", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	res, err := c.Send(ctx, protocols.OutgoingMessage{ClientID: "f1", To: to, File: f})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encryption != up.FileEncryption(to) || len(res.Attachments) != 1 || res.Attachments[0].Name != "minutes.txt" {
		t.Fatalf("result %+v", res)
	}
	got, err := c.(protocols.Downloader).Download(ctx, res.Attachments[0], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Fatalf("opened %q, sent %q", b, data)
	}
	limit, err := up.UploadLimit(ctx)
	if err != nil || limit <= 0 {
		t.Fatalf("limit %d %v", limit, err)
	}
}
