package tui

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/inbox"
)

// syncBuffer is a terminal double: commands write from their goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCopyWritesOSC52WithoutControls(t *testing.T) {
	f := actWorld(10)
	f.msgs[1][7].Body = "paste \x1b]52;c;cm0gLXJmIH4K\x07me\u202Egnp.exe\nline two\ttab"
	h := newHarness(t, f, 100, 24)
	term := &syncBuffer{}
	h.m.env.term = term
	h.keys("enter", "esc", "k", "k")
	h.keys("y")
	want := "paste ]52;c;cm0gLXJmIH4Kmegnp.exe\nline two\ttab"
	seq := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(want)) + "\a"
	if got := term.String(); got != seq {
		t.Fatalf("y wrote %q, want %q", got, seq)
	}
	h.mustShow("copied")
	if strings.Contains(term.String(), "52;c;?") {
		t.Fatal("the clipboard was queried")
	}

	// A deleted message has nothing to copy; nothing is written.
	f.msgs[1][9].Deleted = true
	h.m.conv.msgs[9].Deleted = true
	h.keys("G", "y")
	h.mustShow("that message was deleted")
	if strings.Count(term.String(), "\x1b]52") != 1 {
		t.Fatalf("a second sequence went out: %q", term.String())
	}
}

func TestCopyCutsHugeText(t *testing.T) {
	body := strings.Repeat("é", maxCopyBytes) // two bytes each
	text, cut := copyText(inbox.Message{Body: body})
	if !cut || len(text) > maxCopyBytes || !strings.HasPrefix(body, text) {
		t.Fatalf("cut=%v len=%d", cut, len(text))
	}
}

func TestFirstLink(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"see https://example.org/a?b=1#c.", "https://example.org/a?b=1#c"},
		{"(docs: http://x.example/path_(1)) and more", "http://x.example/path_(1)"},
		{"(see https://x.example/a)", "https://x.example/a"},
		{"ftp://files.example/ then HTTPS://Up.Example/x!", "HTTPS://Up.Example/x"},
		{"javascript:alert(1) file:///etc/passwd", ""},
		{"https://\x1b]8;;evil\x1b\\ then https://ok.example/", "https://ok.example/"},
		{"no links here", ""},
		{"https:// nothing", ""},
	} {
		if got := firstLink(c.in); got != c.want {
			t.Errorf("firstLink(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOpenLinkUsesTheOpener(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "opener.sh")
	log := filepath.Join(dir, "opened")
	os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+log+"\n"), 0o700)
	t.Setenv(OpenerEnv, script)

	f := actWorld(10)
	f.msgs[1][8].Body = "the slides: https://slides.example/deck?id=7, enjoy"
	h := newHarness(t, f, 100, 24)
	h.keys("enter", "esc", "k", "O")
	h.mustShow("opened https://slides.example/deck?id=7")
	waitFile(t, log, "https://slides.example/deck?id=7")

	h.keys("j", "O")
	h.mustShow("this message has no http(s) link")

	// Over SSH without an opener of the user's choosing the link is shown.
	t.Setenv(OpenerEnv, "")
	t.Setenv("SSH_CONNECTION", "10.0.0.1 1 10.0.0.2 22")
	h.keys("k", "O")
	h.mustShow("https://slides.example/deck?id=7 (over SSH: not opened here")
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", path, b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEditorArgv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"VISUAL": "code -w", "EDITOR": "nano"}, "code -w"},
		{map[string]string{"EDITOR": "nano"}, "nano"},
		{map[string]string{"VISUAL": "  ", "EDITOR": ""}, "vi"},
	} {
		if got := strings.Join(editorArgv(env(c.env)), " "); got != c.want {
			t.Errorf("editorArgv(%v) = %q, want %q", c.env, got, c.want)
		}
	}
}

func TestEditedDraftComesBackUnsent(t *testing.T) {
	f := chatWorld(5)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.typeText("first try")

	path := filepath.Join(t.TempDir(), "draft.txt")
	os.WriteFile(path, []byte("line one\nline two\n"), 0o600)
	h.send(readDraft(1, path, "vi", nil))
	if got := h.m.conv.composer.value(); got != "line one\nline two" {
		t.Fatalf("composer holds %q after the editor", got)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the temporary draft file was left behind")
	}
	if len(f.sent) != 0 {
		t.Fatalf("the edited draft was sent: %v", f.sent)
	}
	h.mustShow("draft from the editor")

	// An editor that fails leaves the draft as it was.
	os.WriteFile(path, []byte("half-written"), 0o600)
	err := exec.Command("sh", "-c", "exit 3").Run()
	h.send(readDraft(1, path, "vim", err))
	if got := h.m.conv.composer.value(); got != "line one\nline two" {
		t.Fatalf("a failed editor changed the draft to %q", got)
	}
	h.mustShow("vim exited with status 3")
	h.send(readDraft(1, path, "vim", errors.New("boom")))
	h.mustShow("editor: boom")
}
