package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
)

// fileFor writes n random bytes behind head into dir/name and returns the
// path and the SHA-256 of the content.
func fileFor(t *testing.T, dir, name string, head []byte, n int) (string, string) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	b = append(append([]byte{}, head...), b...)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// nioGotFile waits for nio to receive a file with the caption body, then
// has nio download and decrypt it and checks its SHA-256.
func nioGotFile(t *testing.T, x nioDM, body, sum string, what func() string) map[string]any {
	t.Helper()
	ev, err := x.nio.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "message" && ev["body"] == body && ev["file"] != nil
	})
	if err != nil {
		t.Fatalf("nio got no encrypted file %q: %v\n%s\nnio: %v", body, err, what(), x.nio.Events())
	}
	file := ev["file"].(map[string]any)
	got := x.nio.MustDo(map[string]any{"op": "download", "mxc": file["url"], "file": file})
	if got["sha256"] != sum || ev["encrypted"] != true {
		t.Fatalf("nio's copy: %v (want sha256 %s), event %v", got, sum, ev)
	}
	return ev
}

// TestMatrixSendFileCLIExitCodes: `polyglot send --file` sends a file to
// matrix-nio through the real Dendrite, encrypted (nio decrypts it and the
// hash matches) and exits 0; a file over Dendrite's 10 MiB limit exits 7
// naming the limit, with nothing sent; an unreadable path exits 66.
func TestMatrixSendFileCLIExitCodes(t *testing.T) {
	x := startNioDM(t, "a file follows")
	dir := t.TempDir()
	path, sum := fileFor(t, dir, "report.pdf", []byte("%PDF-1.4\n"), 200<<10)
	out, stderr, code := x.p.run("", "send", "--timeout", "60s", "--to", x.bob, "--file", path, "the report")
	if code != exitOK || !strings.Contains(out, "sent via Matrix (E2EE)") {
		t.Fatalf("send --file: exit %d: %s%s", code, out, stderr)
	}
	ev := nioGotFile(t, x, "the report", sum, func() string { return out + stderr })
	if ev["msgtype"] != "m.file" || ev["filename"] != "report.pdf" {
		t.Fatalf("nio saw %v", ev)
	}

	big, _ := fileFor(t, dir, "big.iso", nil, 11<<20)
	out, stderr, code = x.p.run("", "send", "--timeout", "60s", "--to", x.bob, "--file", big)
	if code != exitTooLarge || !strings.Contains(stderr, "limit of 10 MiB") {
		t.Fatalf("too large: exit %d, want %d: %s%s", code, exitTooLarge, out, stderr)
	}
	out, stderr, code = x.p.run("", "send", "--to", x.bob, "--file", filepath.Join(dir, "missing.png"))
	if code != exitNoInput || !strings.Contains(stderr, "cannot read the file") {
		t.Fatalf("missing: exit %d: %s%s", code, out, stderr)
	}
}

// TestMatrixSendFileFromTheTerminal: in the real binary under tmux,
// ctrl+a asks for a path (tab completes it), shows name, type, size and
// the route with its encryption, takes a caption, and enter sends: nio
// receives the encrypted file and its hash matches.
func TestMatrixSendFileFromTheTerminal(t *testing.T) {
	x := startNioDM(t, "hello from the script")
	dir := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	_, sum := fileFor(t, dir, "sunset-photo.png", png, 300<<10)

	s := tmuxtest.Start(t, 120, 40, append(x.p.env(), "LANG=C.UTF-8"), binPath)
	s.WaitFor(30*time.Second, "@alice:localhost online")
	openConversation(t, s, "bob")
	s.WaitFor(10*time.Second, "hello from the script")
	s.Keys("C-a")
	s.WaitFor(10*time.Second, "Send a file", "path:")
	s.Type(dir + "/suns")
	s.Keys("Tab")
	s.WaitFor(10*time.Second, "sunset-photo.png")
	s.Keys("Enter")
	s.WaitFor(20*time.Second, "sunset-photo.png · image/png · 300 KiB", "→ via Matrix", "E2EE", "caption (optional):")
	s.Type("the sunset")
	s.Keys("Enter")
	nioGotFile(t, x, "the sunset", sum, s.Screen)
	s.WaitGone(20*time.Second, "Send a file")
}

// TestXMPPSendFileCLI: `polyglot send --file` over XMPP (no OMEMO) uploads
// to the test Prosody's HTTP File Upload and sends the URL; slixmpp
// downloads it and gets the same bytes. A file over the upload service's
// limit (read from disco) exits 7 naming it, before anything is stored.
func TestXMPPSendFileCLI(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw-77")
	srv.Register("bob", "bob-pass")
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw-77")
	bob := srv.StartPeer("bob@localhost", "bob-pass")
	defer bob.Close()
	dir := t.TempDir()
	path, sum := fileFor(t, dir, "slides.pdf", []byte("%PDF-1.4\n"), 150<<10)
	out, stderr, code := p.run("", "send", "--to", "bob@localhost", "--file", path)
	if code != exitOK || !strings.Contains(out, "sent via XMPP (TLS only)") {
		t.Fatalf("send --file: exit %d: %s%s", code, out, stderr)
	}
	msg := bob.Must(20*time.Second, "the file URL", func(e testserver.PeerEvent) bool {
		return e.Ev == "message" && strings.HasPrefix(e.Body, "https://") && strings.Contains(e.XML, "jabber:x:oob")
	})
	bob.Do(map[string]any{"op": "download", "url": msg.Body})
	dl := bob.Must(20*time.Second, "slixmpp's download", func(e testserver.PeerEvent) bool { return e.Ev == "downloaded" || e.Ev == "error" })
	if dl.SHA256 != sum {
		t.Fatalf("slixmpp got %+v, want sha256 %s", dl, sum)
	}
	big, _ := fileFor(t, dir, "big.bin", nil, testserver.ProsodyUploadLimit+10)
	out, stderr, code = p.run("", "send", "--to", "bob@localhost", "--file", big)
	if code != exitTooLarge || !strings.Contains(stderr, "limit of 1 MiB") {
		t.Fatalf("too large: exit %d: %s%s", code, out, stderr)
	}
}

// TestDemoSendFile: in the demo (no account), ctrl+a sends a file to Alice
// like on a real network: the confirmation names it, its type, size and
// route, and the sent message shows the file in the conversation.
func TestDemoSendFile(t *testing.T) {
	s, _ := demoSession(t, "1")
	dir := t.TempDir()
	fileFor(t, dir, "agenda.txt", []byte("1. welcome\n"), 2<<10)
	s.WaitFor(10*time.Second, "Alice Martin")
	openConversation(t, s, "Alice Martin")
	s.Keys("C-a")
	s.WaitFor(10*time.Second, "Send a file", "path:")
	s.Type(dir + "/agen")
	s.Keys("Tab")
	s.WaitFor(10*time.Second, "agenda.txt")
	s.Keys("Enter")
	s.WaitFor(20*time.Second, "agenda.txt · text/plain", "→ via", "caption (optional):")
	s.Type("for tomorrow")
	s.Keys("Enter")
	s.WaitGone(20*time.Second, "Send a file")
	s.WaitFor(20*time.Second, "agenda.txt", "for tomorrow")
}
