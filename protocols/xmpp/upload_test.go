package xmpp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

func xmppFile(t *testing.T, name, mime string, n int) (protocols.OutgoingFile, []byte) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return protocols.OutgoingFile{Path: p, Name: name, MIME: mime, Size: int64(n), SHA256: hex.EncodeToString(sum[:])}, b
}

// TestFileUploadHTTPToSlixmpp: without OMEMO a file goes by HTTP File
// Upload to the test Prosody's mod_http_file_share, its GET URL as body
// and OOB; slixmpp downloads the URL and gets the same bytes. The limit
// comes from disco and a larger file is refused before any upload. A file
// slixmpp sends (OOB) arrives as an attachment Polyglot downloads.
func TestFileUploadHTTPToSlixmpp(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := newClient(t, p, "alice", "alicepw", nil)
	bob := p.StartPeer("bob@localhost", "bobpw")
	bobAddr := protocols.Address{Network: protocols.XMPP, ID: "bob@localhost"}

	limit, err := alice.UploadLimit(ctx10(t))
	if err != nil || limit != testserver.ProsodyUploadLimit {
		t.Fatalf("UploadLimit = %d, %v; want %d from disco", limit, err, testserver.ProsodyUploadLimit)
	}
	if fe := alice.FileEncryption(bobAddr); fe != protocols.EncTransport {
		t.Fatalf("FileEncryption = %v, want transport", fe)
	}
	f, content := xmppFile(t, "notes.pdf", "application/pdf", 300<<10)
	res, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "file-1", To: bobAddr, File: &f, Body: "my notes"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encryption != protocols.EncTransport || len(res.Attachments) != 1 || !strings.HasPrefix(res.Attachments[0].URL, "https://") {
		t.Fatalf("result %+v", res)
	}
	url := res.Attachments[0].URL
	got := bob.Must(10*time.Second, "the file message", func(e testserver.PeerEvent) bool { return e.Ev == "message" && e.Body == url })
	if !strings.Contains(got.XML, "jabber:x:oob") || !strings.Contains(got.XML, "<url>"+url+"</url>") {
		t.Fatalf("no OOB: %s", got.XML)
	}
	bob.Message(10*time.Second, "my notes") // the caption follows
	bob.Do(map[string]any{"op": "download", "url": url})
	dl := bob.Must(20*time.Second, "slixmpp's download", func(e testserver.PeerEvent) bool { return e.Ev == "downloaded" || e.Ev == "error" })
	sum := sha256.Sum256(content)
	if dl.SHA256 != hex.EncodeToString(sum[:]) || dl.Size != int64(len(content)) {
		t.Fatalf("slixmpp got %+v", dl)
	}

	big, _ := xmppFile(t, "big.bin", "application/octet-stream", testserver.ProsodyUploadLimit+1)
	_, err = alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "file-big", To: bobAddr, File: &big})
	var tl *protocols.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != testserver.ProsodyUploadLimit || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("big: %v", err)
	}

	// slixmpp → Polyglot.
	theirs := bytes.Repeat([]byte("picture from bob "), 3000)
	bob.Do(map[string]any{"op": "send_file", "to": "alice@localhost", "service": "upload.localhost",
		"data": base64.StdEncoding.EncodeToString(theirs), "name": "from bob.png", "mime": "image/png"})
	sent := bob.Must(20*time.Second, "slixmpp's upload", func(e testserver.PeerEvent) bool { return (e.Ev == "sent" && e.URL != "") || e.Ev == "error" })
	if sent.URL == "" {
		t.Fatalf("slixmpp upload: %+v", sent)
	}
	me := waitEvent(t, alice, 20*time.Second, func(e protocols.MessageEvent) bool { return len(e.Message.Attachments) == 1 })
	a := me.Message.Attachments[0]
	if me.Message.Body != "" || a.URL != sent.URL || a.Name != "from bob.png" || a.MIME != "image/png" {
		t.Fatalf("received %+v", me.Message)
	}
	path, err := alice.Download(ctx10(t), a, t.TempDir())
	if b, _ := os.ReadFile(path); err != nil || !bytes.Equal(b, theirs) {
		t.Fatalf("download: %v", err)
	}
}

// TestFileUploadAESGCMOverOMEMO: to a peer with OMEMO the file is
// encrypted here (AES-256-GCM) before the upload, and the aesgcm:// URL
// with IV and key travels only inside the OMEMO message, as Conversations
// does: the server's copy (fetched as anyone with the URL would) is not
// the file, while the receiving Polyglot decrypts it to the same bytes.
func TestFileUploadAESGCMOverOMEMO(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	p.Register("carol", "carolpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	bin := newInbox(t, bob)
	// A first message sets up the sessions (and tells alice bob's devices).
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "a-0", To: xmppAddr("bob@localhost"), Body: "hi", MinEncryption: protocols.EncE2EE}); err != nil {
		t.Fatal(err)
	}
	bin.body("hi")
	if fe := alice.FileEncryption(xmppAddr("bob@localhost")); fe != protocols.EncE2EE {
		t.Fatalf("FileEncryption = %v, want e2ee", fe)
	}
	f, content := xmppFile(t, "secret-plan.pdf", "application/pdf", 100<<10)
	res, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "a-file", To: xmppAddr("bob@localhost"), File: &f, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encryption != protocols.EncE2EE || len(res.Attachments) != 1 || !strings.HasPrefix(res.Attachments[0].URL, "aesgcm://") {
		t.Fatalf("result %+v", res)
	}
	bin.until("the file", func(ms []protocols.Message) bool {
		for _, m := range ms {
			if len(m.Attachments) == 1 {
				return true
			}
		}
		return false
	})
	var got protocols.Message
	for _, m := range bin.msgs {
		if len(m.Attachments) == 1 {
			got = m
		}
	}
	a := got.Attachments[0]
	if got.Encryption != protocols.EncE2EE || got.Body != "" || a.URL != res.Attachments[0].URL {
		t.Fatalf("bob got %+v", got)
	}
	path, err := bob.Download(ctx10(t), a, t.TempDir())
	if b, _ := os.ReadFile(path); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("bob's download: %v", err)
	}
	// What the server holds, fetched by a client nobody here wrote.
	carol := p.StartPeer("carol@localhost", "carolpw")
	https := "https://" + strings.TrimPrefix(strings.SplitN(a.URL, "#", 2)[0], "aesgcm://")
	carol.Do(map[string]any{"op": "download", "url": https})
	dl := carol.Must(20*time.Second, "the server's copy", func(e testserver.PeerEvent) bool { return e.Ev == "downloaded" || e.Ev == "error" })
	if dl.Size != int64(len(content))+16 || dl.SHA256 == f.SHA256 || bytes.Contains([]byte(dl.SHA256), []byte(f.SHA256)) {
		t.Fatalf("server copy %+v: want ciphertext (size+16, another hash)", dl)
	}
	// A tampered key does not open it.
	bad := a
	flip := "00"
	if strings.HasSuffix(a.URL, "00") {
		flip = "ff"
	}
	bad.URL = a.URL[:len(a.URL)-2] + flip
	if _, err := bob.Download(ctx10(t), bad, t.TempDir()); err == nil {
		t.Fatal("a wrong key decrypted the file")
	}
}

// TestFileUploadAESGCMInOMEMORoom: in a members-only room with OMEMO a
// file goes aesgcm-encrypted like the room's text, and another member
// decrypts it to the same bytes.
func TestFileUploadAESGCMInOMEMORoom(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "alicepw")
	p.Register("bob", "bobpw")
	alice := omemoClient(t, p, "alice", "alicepw", t.TempDir(), "a1")
	bob := omemoClient(t, p, "bob", "bobpw", t.TempDir(), "b1")
	ain, bin := newInbox(t, alice), newInbox(t, bob)
	room := "files@" + p.MUCDomain()
	if _, err := alice.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	privateRoom(t, alice, room, "bob@localhost")
	if _, err := bob.Join(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	waitRoomE2EE(t, alice, ain, room)
	if fe := alice.FileEncryption(xmppAddr(room)); fe != protocols.EncE2EE {
		t.Fatalf("FileEncryption(room) = %v", fe)
	}
	f, content := xmppFile(t, "minutes.txt", "text/plain", 20<<10)
	res, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "room-file", Chat: protocols.ChatID(room), Group: true, File: &f, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encryption != protocols.EncE2EE || !strings.HasPrefix(res.Attachments[0].URL, "aesgcm://") {
		t.Fatalf("result %+v", res)
	}
	var got protocols.Message
	bin.until("the room file", func(ms []protocols.Message) bool {
		for _, m := range ms {
			if len(m.Attachments) == 1 {
				got = m
				return true
			}
		}
		return false
	})
	if got.Encryption != protocols.EncE2EE || !got.Chat.Group {
		t.Fatalf("bob got %+v", got)
	}
	path, err := bob.Download(ctx10(t), got.Attachments[0], t.TempDir())
	if b, _ := os.ReadFile(path); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("bob's download: %v", err)
	}
}
