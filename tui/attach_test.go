package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

// fileConn is a routeConn that uploads files (reading them as a real
// connector does); the test sets what class an upload gets.
type fileConn struct {
	*routeConn
	fmu     sync.Mutex
	fileEnc protocols.Encryption
	files   []protocols.OutgoingMessage
}

func (c *fileConn) FileEncryption(protocols.Address) protocols.Encryption {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return c.fileEnc
}
func (c *fileConn) UploadLimit(context.Context) (int64, error) { return 1 << 20, nil }

func (c *fileConn) Send(ctx context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	if m.File != nil {
		if _, err := protocols.ReadOutgoing(*m.File); err != nil {
			return protocols.SendResult{}, err
		}
		c.fmu.Lock()
		c.files = append(c.files, m)
		c.fmu.Unlock()
	}
	return c.routeConn.Send(ctx, m)
}

func (c *fileConn) sentFiles() []protocols.OutgoingMessage {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return append([]protocols.OutgoingMessage(nil), c.files...)
}

func fileTUIWorld(t *testing.T, fileEnc protocols.Encryption) (*routeWorld, *fileConn, *harness, string) {
	t.Helper()
	w := newRouteWorld(t)
	fc := &fileConn{routeConn: w.conns[protocols.Matrix], fileEnc: fileEnc}
	w.in.Attach("mx", fc)
	w.in.Detach("xm")
	fc.set(protocols.EncE2EE)
	w.setOnline(t, protocols.Matrix, true)
	dir := t.TempDir()
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 2048)...)
	if err := os.WriteFile(filepath.Join(dir, "holiday-photo.png"), png, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "holiday-notes.txt"), []byte("notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 120, 30)
	h.send(openConversationMsg{ID: w.ada})
	return w, fc, h, dir
}

// TestFileAttachKeyCompletesShowsAndSends: ctrl+a asks for a path; tab
// completes it (listing the candidates when several match); enter shows
// name, sniffed type, size and the route with its encryption; a caption
// and enter send the file through the route plan.
func TestFileAttachKeyCompletesShowsAndSends(t *testing.T) {
	_, fc, h, dir := fileTUIWorld(t, protocols.EncE2EE)
	h.keys("ctrl+a")
	h.mustShow("Send a file", "path:")
	h.typeText(dir + "/hol")
	h.keys("tab")
	h.mustShow("holiday-notes.txt", "holiday-photo.png") // two candidates listed
	h.typeText("p")
	h.keys("tab")
	h.mustShow(dir + "/holiday-photo.png")
	h.keys("enter")
	h.mustShow("holiday-photo.png · image/png · 2", "→ via Matrix", "E2EE", "caption (optional):")
	h.typeText("from the beach")
	h.keys("enter")
	files := fc.sentFiles()
	if len(files) != 1 || files[0].File.Name != "holiday-photo.png" || files[0].Body != "from the beach" || files[0].File.MIME != "image/png" {
		t.Fatalf("sent: %+v", files)
	}
	h.mustNotShow("Send a file")
	h.mustShow("from the beach")
}

// TestFileAttachPastedPathAndDowngrade: a path pasted into the composer is
// taken by ctrl+a; an upload weaker than the text goes through the same
// downgrade prompt as a text, and y sends it.
func TestFileAttachPastedPathAndDowngrade(t *testing.T) {
	_, fc, h, dir := fileTUIWorld(t, protocols.EncTransport)
	h.typeText("'" + dir + "/holiday-notes.txt'")
	h.keys("ctrl+a")
	h.mustShow("holiday-notes.txt · text/plain", "needs your OK", "readable by the server")
	h.keys("enter")
	if len(fc.sentFiles()) != 0 {
		t.Fatal("sent without the OK")
	}
	h.mustShow("Encryption downgrade")
	h.keys("y")
	h.mustNotShow("holiday-notes.txt'") // the pasted path left the composer
	if files := fc.sentFiles(); len(files) != 1 || files[0].MinEncryption != protocols.EncTransport {
		t.Fatalf("after yes: %+v", files)
	}
	// An unreadable path says so and keeps the prompt.
	h.keys("ctrl+a")
	h.typeText(dir + "/missing.bin")
	h.keys("enter")
	h.mustShow("cannot read", "no such file")
	h.keys("esc")
	h.mustNotShow("Send a file")
	// Backing out keeps a pasted path in the composer.
	h.typeText(dir + "/holiday-notes.txt")
	h.keys("ctrl+a")
	h.mustShow("holiday-notes.txt · text/plain")
	h.keys("esc", "esc")
	h.mustNotShow("Send a file")
	h.mustShow(dir + "/holiday-notes.txt")
}

// TestFileAttachKeyRebinds: the key is a [keys] action like the others.
func TestFileAttachKeyRebinds(t *testing.T) {
	k, err := BindKeys(map[string]string{"attachfile": "ctrl+o"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(k.AttachFile.Keys(), ","), "ctrl+o") {
		t.Fatalf("keys: %v", k.AttachFile.Keys())
	}
}

// TestFileUploadProgressOnStatusBar: a file going up shows on the status
// bar with its share done, and goes away when the core lists none.
func TestFileUploadProgressOnStatusBar(t *testing.T) {
	_, _, h, _ := fileTUIWorld(t, protocols.EncE2EE)
	h.send(uploadsMsg{Ups: []inbox.UploadProgress{{Name: "big.iso", Done: 45 << 20, Total: 100 << 20}}})
	h.mustShow("uploading big.iso 45% of 100 MiB")
	h.send(uploadsMsg{})
	h.mustNotShow("uploading")
}
