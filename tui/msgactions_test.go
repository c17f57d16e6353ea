package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
)

func (f *fakeCore) act(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, fmt.Sprintf(format, args...))
	return f.actErr
}

func (f *fakeCore) Download(_ context.Context, id inbox.MessageID, index int) (string, error) {
	if err := f.act("download %d %d", id, index); err != nil {
		return "", err
	}
	return f.dlPath, nil
}

func (f *fakeCore) Edit(_ context.Context, id inbox.MessageID, body string) error {
	return f.act("edit %d %s", id, body)
}

func (f *fakeCore) React(_ context.Context, id inbox.MessageID, key string, remove bool) error {
	return f.act("react %d %s %v", id, key, remove)
}

func (f *fakeCore) Retract(_ context.Context, id inbox.MessageID) error {
	return f.act("retract %d", id)
}

func (f *fakeCore) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.acts...)
}

// actWorld is chatWorld(n) whose newest message (n) is the user's own and
// message n-1 carries an attachment with a hostile name.
func actWorld(n int) *fakeCore {
	f := chatWorld(n)
	ms := f.msgs[1]
	for i := range ms {
		ms[i].NetworkID = fmt.Sprintf("$%d", ms[i].ID)
		ms[i].Account = "mx"
	}
	ms[n-1].Outgoing, ms[n-1].SenderName, ms[n-1].Body = true, "", "my own words"
	ms[n-2].Body = ""
	ms[n-2].Attachments = []protocols.Attachment{{Name: "evil\x1b[2J\u202Egpj.exe", Size: 2048}}
	return f
}

// selectedBody is the body of the selected message.
func selectedBody(h *harness) string {
	m, ok := h.m.conv.selectedMsg()
	if !ok {
		return ""
	}
	return m.Body
}

func TestSelectionMovesScrollsAndPages(t *testing.T) {
	f := chatWorld(500)
	h := newHarness(t, f, 80, 24)
	h.keys("enter", "esc")
	if got := selectedBody(h); got != "message number 500" {
		t.Fatalf("leaving the composer selected %q, want the newest", got)
	}
	h.mustShow("▌ message number 500")
	h.keys("k", "k")
	if got := selectedBody(h); got != "message number 498" {
		t.Fatalf("k k selected %q", got)
	}
	h.mustShow("▌ message number 498", "  message number 500")
	h.keys("j")
	h.mustShow("▌ message number 499")
	for range 40 {
		h.keys("k")
	}
	if got := selectedBody(h); got != "message number 459" {
		t.Fatalf("after 40 more k: %q", got)
	}
	// The selection is on screen and older pages came by cursor, not all.
	h.mustShow("▌ message number 459")
	if got := len(h.m.conv.msgs); got <= 20 || got >= 500 {
		t.Fatalf("%d messages loaded; want a few pages, not the whole history", got)
	}
	h.keys("G")
	h.mustShow("▌ message number 500")
	// Paging moves the view; the selection follows into it.
	h.keys("pgup", "pgup")
	v := h.view()
	if !strings.Contains(v, "▌ ") || strings.Contains(v, "message number 500") {
		t.Fatalf("after paging up the selection is off screen or the view did not move:\n%s", v)
	}
	h.keys("i")
	h.mustNotShow("▌ ")
}

func TestOpenAttachmentDownloadsAndOpens(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "opener.sh")
	log := filepath.Join(dir, "opened")
	os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+log+"\necho noise on stdout\necho noise >&2\n"), 0o700)
	t.Setenv(OpenerEnv, script)

	f := actWorld(10)
	f.dlPath = filepath.Join(dir, "evil_[2Jgpj.exe")
	h := newHarness(t, f, 100, 24)
	h.keys("enter", "esc", "k")
	// The hostile name is drawn sanitized: no escape, no bidi override.
	v := h.view()
	if strings.ContainsAny(v, "\x1b\u202E") {
		t.Fatalf("the attachment name reached the screen raw: %q", v)
	}
	h.mustShow("📎 evil")
	h.keys("o")
	if got := f.actions(); len(got) != 1 || got[0] != "download 9 0" {
		t.Fatalf("o asked the core for %v, want download 9 0", got)
	}
	h.mustShow("opened " + f.dlPath)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if string(b) == f.dlPath {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the opener was not called with the path (got %q)", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// No attachment on the own message: said so, nothing asked.
	h.keys("j", "o")
	h.mustShow("this message has no attachment")
	if len(f.actions()) != 1 {
		t.Fatalf("actions %v", f.actions())
	}
}

func TestOpenerChoice(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	found := func(n string) (string, error) { return "/usr/bin/" + n, nil }
	missing := func(n string) (string, error) { return "", os.ErrNotExist }
	if argv, _ := opener(env(OpenerEnv, "my-open --new"), missing, "linux"); strings.Join(argv, " ") != "my-open --new" {
		t.Fatalf("POLYGLOT_OPENER ignored: %v", argv)
	}
	if argv, _ := opener(env(OpenerEnv, "my-open", "SSH_CONNECTION", "1 2 3 4"), found, "linux"); len(argv) != 1 || argv[0] != "my-open" {
		t.Fatalf("POLYGLOT_OPENER over SSH: %v", argv)
	}
	if argv, why := opener(env("SSH_TTY", "/dev/pts/1"), found, "linux"); argv != nil || !strings.Contains(why, "SSH") {
		t.Fatalf("over SSH a GUI opener was chosen: %v %q", argv, why)
	}
	if argv, _ := opener(env(), found, "linux"); len(argv) != 1 || argv[0] != "/usr/bin/xdg-open" {
		t.Fatalf("linux: %v", argv)
	}
	if argv, _ := opener(env(), found, "darwin"); len(argv) != 1 || argv[0] != "/usr/bin/open" {
		t.Fatalf("macOS: %v", argv)
	}
	if argv, why := opener(env(), missing, "linux"); argv != nil || !strings.Contains(why, "xdg-open") {
		t.Fatalf("no opener: %v %q", argv, why)
	}
}

func TestReplyEditReactDeleteIntents(t *testing.T) {
	f := actWorld(10)
	h := newHarness(t, f, 100, 30)
	h.keys("enter", "esc", "k", "k") // message 8 from Ada

	// Reply: the composer says to whom; the send carries the reference.
	h.keys("r")
	h.mustShow("↪ replying to Ada: message number 8")
	h.typeText("sure")
	h.keys("enter")
	if len(f.sent) != 1 || f.sent[0].ReplyTo != 8 || f.sent[0].Body != "sure" {
		t.Fatalf("reply sent %+v, want ReplyTo 8", f.sent)
	}
	h.mustNotShow("replying to")
	// esc drops a reply before it is sent.
	h.keys("esc", "k", "r")
	h.mustShow("↪ replying to")
	h.keys("esc")
	h.mustNotShow("replying to")

	// Edit: only own messages; prefilled; enter sends the correction and
	// the draft set aside comes back.
	h.typeText("draft")
	// The reply "sure" is now the newest; k k selects Ada's message 9.
	h.keys("esc", "G", "k", "k")
	h.keys("e")
	h.mustShow("only your own messages can be edited")
	h.keys("j", "e")
	h.mustShow("✎ editing your message", "my own words")
	for range len("words") {
		h.keys("backspace")
	}
	h.typeText("text")
	h.keys("enter")
	if got := f.actions(); len(got) != 1 || got[0] != "edit 10 my own text" {
		t.Fatalf("edit sent %v", got)
	}
	h.mustShow("edited")
	if h.m.conv.composer.value() != "draft" {
		t.Fatalf("after the edit the composer holds %q, want the draft back", h.m.conv.composer.value())
	}

	// React: the picker, a preset, then the same again removes it.
	h.keys("esc", "k", "+")
	h.mustShow("react: 1 👍")
	h.keys("1")
	f.mu.Lock()
	f.msgs[1][8].Reactions = []inbox.ReactionCount{{Key: "👍", Count: 1, Mine: true}}
	f.mu.Unlock()
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 1}}})
	h.keys("+", "1")
	h.keys("+", "🦀")
	want := []string{"edit 10 my own text", "react 9 👍 false", "react 9 👍 true", "react 9 🦀 false"}
	if got := f.actions(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("actions %v, want %v", got, want)
	}

	// Delete: own only, asks, n keeps, y deletes.
	h.keys("d")
	h.mustShow("only your own messages can be deleted")
	h.keys("j", "d")
	h.mustShow("delete this message for everyone? y/n")
	h.keys("n")
	h.keys("d", "y")
	if got := f.actions(); got[len(got)-1] != "retract 10" || len(got) != 5 {
		t.Fatalf("actions %v, want one retract 10 after the y", got)
	}
}

func TestActionErrorsAreSaid(t *testing.T) {
	f := actWorld(5)
	f.actErr = fmt.Errorf("inbox: reactions on WhatsApp: %w", protocols.ErrUnsupported)
	h := newHarness(t, f, 100, 24)
	h.keys("enter", "esc", "+", "1")
	h.mustShow("reaction: this network cannot do that")
	f.actErr = fmt.Errorf("inbox: x: %w", inbox.ErrRequestPending)
	h.keys("+", "2")
	h.mustShow("accept the request first")
}

// A reply shows what it answers; the route line asks the core for the
// reply's plan (the reply travels on the account the answered message
// came by: its ID means nothing on another network) and shows it.
func TestReplyQuoteAndRoute(t *testing.T) {
	f := actWorld(6)
	f.msgs[1][3].ReplyTo = "$3"
	f.msgs[1][3].Body = "answer"
	f.msgs[1][4].Account, f.msgs[1][4].Network, f.msgs[1][4].Body = "xm", protocols.XMPP, "over xmpp\x1b[31m"
	h := newHarness(t, f, 100, 30)
	h.keys("enter")
	h.mustShow("↪ Ada: message number 3", "answer")
	h.keys("esc", "k", "r")
	h.mustShow("↪ replying to Ada: over xmpp␛[31m", "→ Ada via XMPP · TLS TLS only · needs your OK")
	if o := f.planned[len(f.planned)-1]; o.ReplyTo != 5 || o.Route != nil {
		t.Fatalf("planned %+v, want the reply to message 5", o)
	}
	h.typeText("ok")
	h.keys("enter")
	if len(f.sent) != 1 || f.sent[0].Route != nil || f.sent[0].ReplyTo != 5 {
		t.Fatalf("reply %+v, want ReplyTo 5 and the core's plan", f.sent)
	}
	h.mustShow("→ Ada via Matrix")
}

// Several attachments: o asks which; a digit picks; other keys keep asking.
func TestOpenWhichAttachment(t *testing.T) {
	t.Setenv(OpenerEnv, "true")
	f := actWorld(4)
	f.msgs[1][2].Attachments = append(f.msgs[1][2].Attachments, protocols.Attachment{Name: "second.txt", Size: 10})
	f.dlPath = filepath.Join(t.TempDir(), "second.txt")
	h := newHarness(t, f, 100, 24)
	h.keys("enter", "esc", "k", "o")
	h.mustShow("open which attachment? 1–2")
	h.keys("x")
	h.mustShow("open which attachment? 1–2")
	h.keys("2")
	if got := f.actions(); len(got) != 1 || got[0] != "download 3 1" {
		t.Fatalf("actions %v, want download 3 1", got)
	}
	h.mustShow("opened " + f.dlPath)
	h.mustNotShow("open which attachment")
}

// An own reaction is drawn in the own-message colour: its key is
// sanitized once, before styling, so the colour is a real SGR sequence and
// never shows as "␛[…m"; a hostile key from the other side stays inert.
func TestOwnReactionShowsNoEscapeMarks(t *testing.T) {
	f := actWorld(3)
	f.msgs[1][2].Reactions = []inbox.ReactionCount{{Key: "❤️", Count: 1, Mine: true}, {Key: "\x1b[2J👀", Count: 2}}
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.ANSI256)})
	if err != nil {
		t.Fatal(err)
	}
	m := newRoot(Options{Core: f, Theme: th, Now: func() time.Time { return testNow }, PageSize: 20})
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
	h.run(m.Init())
	h.keys("enter")
	view := h.view()
	var line string
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "❤️1") {
			line = l
		}
	}
	if line == "" || strings.Count(line, "␛") != 1 || !strings.Contains(line, "\x1b[") || !strings.Contains(line, "␛[2J👀2") {
		t.Fatalf("reaction line %q: want the own ❤️1 coloured, no ␛ except the other side's inert one", line)
	}
}
