package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/protocols"
)

// upConn is an obConn that can upload files: what it encrypts them with
// and the server's size limit are set by the test. Like a real connector,
// it reads the file through protocols.ReadOutgoing.
type upConn struct {
	*obConn
	fileEnc protocols.Encryption
	limit   int64
	got     [][]byte
}

func (c *upConn) FileEncryption(protocols.Address) protocols.Encryption { return c.fileEnc }
func (c *upConn) UploadLimit(context.Context) (int64, error)            { return c.limit, nil }

func (c *upConn) Send(ctx context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	if m.File != nil {
		b, err := protocols.ReadOutgoing(*m.File)
		if err != nil {
			return protocols.SendResult{}, err
		}
		c.mu.Lock()
		c.got = append(c.got, b)
		c.mu.Unlock()
	}
	return c.obConn.Send(ctx, m)
}

func fileWorld(t *testing.T, fileEnc protocols.Encryption, limit int64) (*obWorld, *upConn) {
	t.Helper()
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	w.in.Detach("wa")
	w.in.Detach("xm")
	up := &upConn{obConn: w.conns["mx"], fileEnc: fileEnc, limit: limit}
	w.in.Attach("mx", up)
	w.online(t, "mx", true)
	return w, up
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")

// TestSendFileGoesWithItsHashAndType: the outbox hands the connector the
// file with the size and SHA-256 recorded when the user sent it, the type
// sniffed from the content (not the name), and the caption as body; the
// stored message shows the attachment.
func TestSendFileGoesWithItsHashAndType(t *testing.T) {
	w, up := fileWorld(t, protocols.EncE2EE, 1<<20)
	content := append(append([]byte{}, pngHead...), strings.Repeat("x", 3000)...)
	path := writeFile(t, "holiday.dat", content)
	p, err := w.in.PlanRoute(context.Background(), w.conv, RouteOptions{File: true})
	if err != nil || p.NeedsOK || p.Route.Network != protocols.Matrix || p.Route.Encryption != protocols.EncE2EE {
		t.Fatalf("plan: %+v %v", p, err)
	}
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, File: path, Body: "the beach"})
	if err != nil || m.State != StateSent {
		t.Fatalf("send: %+v %v", m, err)
	}
	sum := sha256.Sum256(content)
	sent := up.sends()
	if len(sent) != 1 || sent[0].File == nil {
		t.Fatalf("sent: %+v", sent)
	}
	f := sent[0].File
	if f.Name != "holiday.dat" || f.MIME != "image/png" || f.Size != int64(len(content)) || f.SHA256 != hex.EncodeToString(sum[:]) || sent[0].Body != "the beach" {
		t.Fatalf("file: %+v body %q", f, sent[0].Body)
	}
	if len(up.got) != 1 || string(up.got[0]) != string(content) {
		t.Fatal("the connector did not read the same bytes")
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "holiday.dat" || m.Attachments[0].Size != int64(len(content)) {
		t.Fatalf("stored attachments: %+v", m.Attachments)
	}
	// A file without a caption is a message too.
	if m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, File: path}); err != nil || m.State != StateSent {
		t.Fatalf("no caption: %+v %v", m, err)
	}
}

// TestSendFileUploadWeakerThanTextNeedsOK: where the text would go
// end-to-end but the upload would be readable by the server, the plan
// says so before anything is stored, Send refuses with the same
// DowngradeError as a text downgrade, and the user's yes sends it.
func TestSendFileUploadWeakerThanTextNeedsOK(t *testing.T) {
	w, up := fileWorld(t, protocols.EncTransport, 0)
	path := writeFile(t, "notes.txt", []byte("secret notes\n"))
	ctx := context.Background()
	p, err := w.in.PlanRoute(ctx, w.conv, RouteOptions{File: true})
	if err != nil || !p.NeedsOK || !p.Downgrade || p.Route.Encryption != protocols.EncTransport || p.Best.Encryption != protocols.EncE2EE ||
		!strings.Contains(p.Line, "needs your OK") || !strings.Contains(p.Line, "TLS only") {
		t.Fatalf("plan: %+v %v", p, err)
	}
	// The same route carries text end-to-end: no downgrade for a text.
	if p, _ := w.in.PlanRoute(ctx, w.conv, RouteOptions{}); p.NeedsOK || p.Downgrade {
		t.Fatalf("text plan: %+v", p)
	}
	_, err = w.in.Send(ctx, SendRequest{Conversation: w.conv, File: path})
	var de *DowngradeError
	if !errors.As(err, &de) {
		t.Fatalf("send without OK: %v", err)
	}
	if len(w.outgoing(t)) != 0 || len(up.attempts()) != 0 {
		t.Fatal("a refused file was stored or sent")
	}
	m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, File: path, AllowDowngrade: true})
	if err != nil || m.State != StateSent || !strings.Contains(m.Notice, "TLS only") {
		t.Fatalf("with OK: %+v %v", m, err)
	}
	if sent := up.sends(); len(sent) != 1 || sent[0].MinEncryption != protocols.EncTransport {
		t.Fatalf("sent: %+v", sent)
	}
}

// TestSendFileTooLargeNamesTheLimit: a file over the server's limit is
// refused before it is stored, and the error names the limit.
func TestSendFileTooLargeNamesTheLimit(t *testing.T) {
	w, up := fileWorld(t, protocols.EncE2EE, 1024)
	path := writeFile(t, "big.bin", make([]byte, 4096))
	_, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, File: path})
	var tl *protocols.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 1024 || !strings.Contains(err.Error(), "1 KiB") {
		t.Fatalf("err: %v", err)
	}
	if len(w.outgoing(t)) != 0 || len(up.attempts()) != 0 {
		t.Fatal("a too large file was stored or sent")
	}
}

// TestSendFileUnreadablePath: a missing path or a directory is refused
// before anything is stored.
func TestSendFileUnreadablePath(t *testing.T) {
	w, _ := fileWorld(t, protocols.EncE2EE, 0)
	for _, p := range []string{filepath.Join(t.TempDir(), "nope.png"), t.TempDir()} {
		_, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, File: p})
		if !errors.Is(err, ErrUnreadableFile) {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if len(w.outgoing(t)) != 0 {
		t.Fatal("stored")
	}
}

// TestSendFileRetryNeverSendsAChangedFile: a failed upload stays in the
// outbox with its file; a retry sends the same bytes; a file that changed
// meanwhile is refused whole, with a reason the user can act on.
func TestSendFileRetryNeverSendsAChangedFile(t *testing.T) {
	w, up := fileWorld(t, protocols.EncE2EE, 0)
	path := writeFile(t, "doc.pdf", []byte("%PDF-1.4 first version"))
	ctx := context.Background()
	up.mu.Lock()
	up.fail = func(protocols.OutgoingMessage) error { return errors.New("server said 500") }
	up.mu.Unlock()
	m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, File: path})
	if err == nil || m.State != StateFailed {
		t.Fatalf("first: %+v %v", m, err)
	}
	up.mu.Lock()
	up.fail = nil
	up.mu.Unlock()
	if err := w.in.Retry(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := w.state(t, m.ID); got != StateSent {
		t.Fatalf("retry: state %v", got)
	}
	if len(up.got) != 2 || string(up.got[1]) != "%PDF-1.4 first version" {
		t.Fatalf("retry bytes: %q", up.got)
	}

	// Queue one while offline, then change the file before it goes.
	path2 := writeFile(t, "later.pdf", []byte("%PDF-1.4 original"))
	w.online(t, "mx", false)
	m2, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, File: path2})
	if err != nil || m2.State != StateQueued {
		t.Fatalf("queued: %+v %v", m2, err)
	}
	if err := os.WriteFile(path2, []byte("%PDF-1.4 edited after"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.online(t, "mx", true)
	waitFor(t, "the changed file to fail", func() bool { return w.state(t, m2.ID) == StateFailed })
	m2, _ = w.in.Message(m2.ID)
	if !strings.Contains(m2.FailReason, "changed") || len(up.sends()) != 1 {
		t.Fatalf("changed file: %q, %d sent", m2.FailReason, len(up.sends()))
	}
}
