package tui

import (
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"unicode"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/rs/zerolog"

	"polyglot/inbox"
)

// Copy (y), open link (O) and compose in $EDITOR (ctrl+e): the three ways
// a message leaves or enters the TUI through the user's own tools.

// maxCopyBytes bounds what one OSC 52 carries: terminals cap the sequence
// (xterm ~100 kB, tmux's input buffer ~1 MB); a longer text is cut and the
// status says so.
const maxCopyBytes = 64 * 1024

// osc52 is the clipboard write for text: ESC ] 52 ; c ; base64 BEL. It
// works over SSH (the terminal at the user's end does the writing) and in
// tmux with `set -g set-clipboard on`, which takes it into tmux's buffer
// and passes it on. It only writes: the "?" query form is never sent.
func osc52(text string) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + bel
}

// copyText is what y copies of m: the body with terminal controls removed
// (a paste must not carry escape sequences into a shell), lines and tabs
// kept; cut reports that it was cut to maxCopyBytes.
func copyText(m inbox.Message) (text string, cut bool) {
	s := strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return -1
		case unicode.IsControl(r), r == 0x2028, r == 0x2029,
			r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069: // bidi overrides
			return -1
		}
		return r
	}, m.Body)
	if len(s) > maxCopyBytes {
		s, cut = s[:maxCopyBytes], true
		for len(s) > 0 && !utf8Start(s[len(s)-1:]) {
			s = s[:len(s)-1]
		}
		s = strings.ToValidUTF8(s, "")
	}
	return s, cut
}

func utf8Start(b string) bool { return b[0]&0xC0 != 0x80 }

// copyMessage copies the selected message through the terminal.
func (c *conversationView) copyMessage() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	text, cut := copyText(m)
	if strings.TrimSpace(text) == "" {
		return cmdOf(statusMsg{Text: "this message has no text to copy"})
	}
	out := c.env.term
	if out == nil {
		return cmdOf(statusMsg{Text: "copy: no terminal to write the clipboard through", Err: true})
	}
	done := "copied"
	if cut {
		done = "copied (the first 64 KiB)"
	}
	seq := osc52(text)
	return func() tea.Msg {
		if _, err := io.WriteString(out, seq); err != nil {
			return statusMsg{Text: "copy failed: " + err.Error(), Err: true}
		}
		return statusMsg{Text: done}
	}
}

// urlPattern finds http(s) links in plain text; trimLink then drops the
// punctuation a sentence puts after one.
var urlPattern = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'\x00-\x1f\x7f]+`)

// firstLink is the first http or https link in text, or "".
func firstLink(text string) string {
	for _, raw := range urlPattern.FindAllString(text, 8) {
		l := trimLink(raw)
		u, err := url.Parse(l)
		if err != nil || u.Host == "" || (strings.ToLower(u.Scheme) != "http" && strings.ToLower(u.Scheme) != "https") {
			continue
		}
		if strings.IndexFunc(l, func(r rune) bool { return unicode.IsControl(r) || !unicode.IsPrint(r) }) >= 0 {
			continue
		}
		return l
	}
	return ""
}

// trimLink drops trailing sentence punctuation, and a closing bracket
// that has no opening one inside the link ("(see https://x.org/a)").
func trimLink(s string) string {
	for len(s) > 0 {
		last := s[len(s)-1]
		switch {
		case strings.IndexByte(".,;:!?*'\"", last) >= 0:
			s = s[:len(s)-1]
		case last == ')' && strings.Count(s, "(") < strings.Count(s, ")"),
			last == ']' && strings.Count(s, "[") < strings.Count(s, "]"),
			last == '}' && strings.Count(s, "{") < strings.Count(s, "}"):
			s = s[:len(s)-1]
		default:
			return s
		}
	}
	return s
}

// openLink opens the first link of the selected message with the opener
// attachments use ($POLYGLOT_OPENER, else xdg-open/open, not over SSH).
func (c *conversationView) openLink() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	link := firstLink(m.Body)
	if link == "" {
		return cmdOf(statusMsg{Text: "this message has no http(s) link"})
	}
	log, remote := c.env.log, c.env.remote
	return func() tea.Msg {
		text, err := openTarget(link, log, remote)
		return statusMsg{Text: text, Err: err}
	}
}

// openTarget opens a link or file with the opener rules of opener(), in
// the background; the text says what happened, with remote text made
// safe to show.
func openTarget(target string, log zerolog.Logger, remote bool) (text string, failed bool) {
	shown := inline(target, 80)
	argv, why := opener(os.Getenv, exec.LookPath, runtime.GOOS)
	if remote {
		argv, why = nil, remoteNotOpened
	}
	if argv == nil {
		return shown + " (" + why + ")", false
	}
	if err := startOpener(argv, target, log); err != nil {
		return "could not open " + shown + ": " + err.Error(), true
	}
	return "opened " + shown, false
}

// editorMsg carries the composer's text back from $EDITOR.
type editorMsg struct {
	Conv inbox.ConversationID
	Text string
	Err  error
}

// editorArgv is the user's editor: $VISUAL, else $EDITOR, else vi; split
// on spaces (no shell), so "code -w" works.
func editorArgv(getenv func(string) string) []string {
	for _, v := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(getenv(v)); len(f) > 0 {
			return f
		}
	}
	return []string{"vi"}
}

// openEditor hands the draft to $EDITOR in a private temporary file; the
// terminal goes to the editor until it exits, then the edited text comes
// back into the composer (not sent).
func (c *conversationView) openEditor() tea.Cmd {
	f, err := os.CreateTemp("", "polyglot-draft-*.txt")
	if err != nil {
		return cmdOf(statusMsg{Text: "editor: " + err.Error(), Err: true})
	}
	path := f.Name()
	_, werr := f.WriteString(c.composer.value())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return cmdOf(statusMsg{Text: "editor: " + werr.Error(), Err: true})
	}
	argv := editorArgv(os.Getenv)
	cmd := exec.Command(argv[0], append(argv[1:], path)...)
	conv := c.id
	return tea.ExecProcess(cmd, func(err error) tea.Msg { return readDraft(conv, path, argv[0], err) })
}

// readDraft reads the edited file back and removes it.
func readDraft(conv inbox.ConversationID, path, editor string, runErr error) tea.Msg {
	defer os.Remove(path)
	if runErr != nil {
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			runErr = errors.New(editor + " exited with status " + itoa(int64(ee.ExitCode())) + ": the draft is unchanged")
		}
		return editorMsg{Conv: conv, Err: runErr}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return editorMsg{Conv: conv, Err: err}
	}
	// Editors end a file with a newline; the composer does not want it.
	return editorMsg{Conv: conv, Text: strings.TrimRight(string(b), "\r\n")}
}

// onEditor puts the edited text in the composer.
func (c *conversationView) onEditor(m editorMsg) tea.Cmd {
	if m.Conv != c.id {
		return nil
	}
	if m.Err != nil {
		return cmdOf(statusMsg{Text: "editor: " + m.Err.Error(), Err: true})
	}
	c.composer.set(m.Text)
	return tea.Batch(c.enterComposer(), cmdOf(statusMsg{Text: "draft from the editor: enter sends"}))
}
