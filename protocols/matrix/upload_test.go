package matrix_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// outFile writes b to a temp file and describes it as the outbox would.
func outFile(t *testing.T, name, mime string, b []byte) protocols.OutgoingFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return protocols.OutgoingFile{Path: p, Name: name, MIME: mime, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
}

func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	// Random trailing bytes make the file unique, so a hash match is no accident.
	tail := make([]byte, 64<<10)
	_, _ = rand.Read(tail)
	return append(buf.Bytes(), tail...)
}

// TestFileUploadEncryptedToNio: in an encrypted DM Polyglot encrypts the
// file on this device, uploads only ciphertext to the media repository and
// sends the key inside the Megolm event as m.image with its size, type and
// dimensions; matrix-nio decrypts the attachment and its SHA-256 matches
// the file. A file over the server's m.upload.size is refused before any
// upload, naming the limit. A file nio sends is downloaded and decrypted
// by Polyglot.
func TestFileUploadEncryptedToNio(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	bob := d.CreateUser("bob", "password-bob")
	nio := testserver.StartNioPeer(t, d, bob, "password-bob")
	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	ctx := context.Background()
	bobAddr := protocols.Address{Network: protocols.Matrix, ID: bob}

	if fe := a.c.FileEncryption(bobAddr); fe != protocols.EncE2EE {
		t.Fatalf("FileEncryption = %v, want e2ee", fe)
	}
	limit, err := a.c.UploadLimit(ctx)
	if err != nil || limit != 10<<20 {
		t.Fatalf("UploadLimit = %d, %v; want Dendrite's 10 MiB", limit, err)
	}

	res, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "c-1", To: bobAddr, Body: "hello", MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	room := res.Chat
	if _, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == string(room) }); err != nil {
		t.Fatal(err)
	}
	nio.MustDo(map[string]any{"op": "join", "room": room})
	if _, err := nio.WaitEvent(30*time.Second, bodyIs("hello")); err != nil {
		t.Fatal(err)
	}

	content := testPNG(t)
	f := outFile(t, "beach.png", "image/png", content)
	var progressed int64
	f.Progress = func(done, total int64) { progressed = done }
	fres, err := a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "c-file", To: bobAddr, Chat: room, Body: "the beach",
		MinEncryption: protocols.EncE2EE, File: &f})
	if err != nil {
		t.Fatalf("send file: %v", err)
	}
	if fres.Encryption != protocols.EncE2EE || len(fres.Attachments) != 1 || fres.Attachments[0].Key == "" || progressed != f.Size {
		t.Fatalf("result %+v, progress %d", fres, progressed)
	}
	ev, err := nio.WaitEvent(30*time.Second, bodyIs("the beach"))
	if err != nil {
		t.Fatalf("nio did not get the file: %v\n%v", err, nio.Events())
	}
	file, _ := ev["file"].(map[string]any)
	info, _ := ev["info"].(map[string]any)
	if ev["encrypted"] != true || ev["msgtype"] != "m.image" || file == nil || ev["url"] != nil || ev["filename"] != "beach.png" ||
		info["mimetype"] != "image/png" || info["size"] != float64(len(content)) || info["w"] != float64(40) || info["h"] != float64(30) {
		t.Fatalf("nio saw %v", ev)
	}
	got := nio.MustDo(map[string]any{"op": "download", "mxc": file["url"], "file": file})
	if got["sha256"] != f.SHA256 {
		t.Fatalf("nio's decrypted attachment: sha256 %v, want %s", got["sha256"], f.SHA256)
	}
	// The media repository holds ciphertext only.
	raw := nio.MustDo(map[string]any{"op": "download", "mxc": file["url"]})
	if raw["sha256"] == f.SHA256 || raw["size"] != float64(len(content)) {
		t.Fatalf("server copy: %v", raw)
	}
	// Polyglot fetches its own file back like any attachment.
	own, err := a.c.Download(ctx, fres.Attachments[0], t.TempDir())
	if b, _ := os.ReadFile(own); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("own download: %v", err)
	}

	// Over the limit: refused before an upload, the limit named.
	big := outFile(t, "big.iso", "application/octet-stream", make([]byte, 11<<20))
	_, err = a.c.Send(ctx, protocols.OutgoingMessage{ClientID: "c-big", To: bobAddr, Chat: room, MinEncryption: protocols.EncE2EE, File: &big})
	var tl *protocols.TooLargeError
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "10 MiB") {
		t.Fatalf("big file: %v", err)
	}

	// A file nio sends (encrypted) is downloaded and decrypted by Polyglot.
	theirs := []byte("%PDF-1.4 from bob " + strings.Repeat("z", 5000))
	nio.MustDo(map[string]any{"op": "send_file", "room": room, "data": base64.StdEncoding.EncodeToString(theirs), "name": "bob.pdf", "mime": "application/pdf"})
	m := a.waitMessage(30*time.Second, "bob.pdf")
	if len(m.Attachments) != 1 || m.Attachments[0].Key == "" {
		t.Fatalf("received %+v", m)
	}
	path, err := a.c.Download(ctx, m.Attachments[0], t.TempDir())
	if b, _ := os.ReadFile(path); err != nil || !bytes.Equal(b, theirs) {
		t.Fatalf("download of bob's file: %v", err)
	}
}
