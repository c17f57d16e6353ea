package tui

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// countingCore adds the unread count the title shows.
type countingCore struct {
	*fakeCore
	unread int
}

func (c *countingCore) UnreadConversations() (int, error) { return c.unread, nil }

// notifyRig is a root model whose notifications land in out, with a clock
// the test moves.
type notifyRig struct {
	*harness
	out   *bytes.Buffer
	clock time.Time
	core  *countingCore
}

func newNotifyRig(t *testing.T, set NotifySettings, tmux bool) *notifyRig {
	t.Helper()
	r := &notifyRig{out: &bytes.Buffer{}, clock: testNow, core: &countingCore{fakeCore: world(5)}}
	m := newRoot(Options{Core: r.core, Theme: asciiTheme(t), Now: func() time.Time { return r.clock }, PageSize: 20,
		Notify: set, Terminal: r.out, Tmux: tmux})
	t.Cleanup(m.close)
	r.harness = &harness{t: t, m: m}
	r.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	r.run(m.Init())
	return r
}

func (r *notifyRig) incoming(ids ...inbox.ConversationID) {
	var cs []inbox.Change
	for _, id := range ids {
		cs = append(cs, inbox.Change{Kind: inbox.ChangeMessages, Conversation: id},
			inbox.Change{Kind: inbox.ChangeIncoming, Conversation: id})
	}
	r.send(changesMsg{Changes: cs})
}

func (r *notifyRig) bells() int { return strings.Count(r.out.String(), bel) }

var bellOnly = NotifySettings{Enabled: true, Bell: true, Title: true, Desktop: DesktopOff}

func TestBellForAnotherConversation(t *testing.T) {
	r := newNotifyRig(t, bellOnly, false)
	r.incoming(2)
	if got := r.out.String(); got != bel {
		t.Fatalf("terminal got %q, want exactly one BEL", got)
	}
}

func TestNoBellWhileReadingUnlessBlurred(t *testing.T) {
	r := newNotifyRig(t, bellOnly, false)
	r.send(openConversationMsg{ID: 1})
	r.incoming(1)
	if n := r.bells(); n != 0 {
		t.Fatalf("%d bells for the conversation on screen with focus, want 0", n)
	}
	r.send(tea.BlurMsg{})
	r.incoming(1)
	if n := r.bells(); n != 1 {
		t.Fatalf("%d bells after the terminal lost focus, want 1", n)
	}
	// Focus back, a little later: reading it again is silent.
	r.clock = r.clock.Add(time.Minute)
	r.send(tea.FocusMsg{})
	r.incoming(1)
	if n := r.bells(); n != 1 {
		t.Fatalf("%d bells after focus returned, want still 1", n)
	}
	// Another conversation rings while one is open.
	r.incoming(3)
	if n := r.bells(); n != 2 {
		t.Fatalf("%d bells for another conversation while reading one, want 2", n)
	}
}

func TestBellBurstCoalesces(t *testing.T) {
	r := newNotifyRig(t, bellOnly, false)
	for i := 0; i < 10; i++ {
		r.incoming(inbox.ConversationID(2+i%3), 4, 5)
		r.clock = r.clock.Add(100 * time.Millisecond)
	}
	if n := r.bells(); n != 1 {
		t.Fatalf("a burst within %v rang %d times, want 1", alertGap, n)
	}
	r.clock = r.clock.Add(alertGap)
	r.incoming(2)
	if n := r.bells(); n != 2 {
		t.Fatalf("after the gap: %d bells, want 2", n)
	}
}

// Historical catch-up, own messages and receipts reach the TUI as plain
// message/list changes, never ChangeIncoming: no bell.
func TestNoBellWithoutIncoming(t *testing.T) {
	r := newNotifyRig(t, bellOnly, false)
	r.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 2},
		{Kind: inbox.ChangeConversations}, {Kind: inbox.ChangeRequests}, {Kind: inbox.ChangeTyping, Conversation: 2}}})
	if r.out.Len() != 0 {
		t.Fatalf("terminal got %q for changes without news", r.out.String())
	}
}

func TestSettingsSilence(t *testing.T) {
	for name, set := range map[string]NotifySettings{
		"bell off":     {Enabled: true, Title: true, Desktop: DesktopOff},
		"disabled":     {Enabled: false, Bell: true, Title: true, Desktop: DesktopOSC9},
		"zero options": {},
	} {
		t.Run(name, func(t *testing.T) {
			r := newNotifyRig(t, set, false)
			r.incoming(2)
			if r.out.Len() != 0 {
				t.Fatalf("terminal got %q", r.out.String())
			}
		})
	}
}

const hostileName = "evil\x1b]0;pwn\x07;x"

// hostileWorld makes conversation 2 a stranger with a hostile name whose
// last message tries to close the OSC and start its own.
func hostileWorld(r *notifyRig) {
	f := r.core.fakeCore
	f.convs[1].Title = hostileName
	f.convs[1].Request = true
	f.convs[1].Networks = []protocols.Network{protocols.WhatsApp}
	f.msgs[2] = []inbox.Message{{ID: 20, Conversation: 2, Network: protocols.WhatsApp, SenderName: hostileName,
		Body: "hi\x1b]777;notify;fake;popup\x07\x9b2J\u009b2J\x1b\\ there", At: testNow}}
}

func TestDesktopOSC777HostileName(t *testing.T) {
	for _, preview := range []bool{false, true} {
		t.Run(fmt.Sprint("preview=", preview), func(t *testing.T) {
			r := newNotifyRig(t, NotifySettings{Enabled: true, Desktop: DesktopOSC777, Preview: preview}, false)
			hostileWorld(r)
			r.incoming(2)
			got := r.out.String()
			const head = "\x1b]777;notify;Polyglot;"
			if !strings.HasPrefix(got, head) || !strings.HasSuffix(got, bel) {
				t.Fatalf("not one OSC 777: %q", got)
			}
			if strings.Count(got, "\x1b") != 1 || strings.Count(got, bel) != 1 {
				t.Fatalf("remote text put ESC or BEL into the sequence: %q", got)
			}
			body := strings.TrimSuffix(strings.TrimPrefix(got, head), bel)
			if strings.Contains(body, ";") || strings.ContainsRune(body, '\u009b') {
				t.Fatalf("body %q holds a field separator or C1 control", body)
			}
			if !strings.Contains(body, "evil") || !strings.Contains(body, "WhatsApp") || !strings.Contains(body, "request") {
				t.Fatalf("body %q lacks who, network or that it is a request", body)
			}
			if strings.Contains(body, "there") != preview {
				t.Fatalf("preview=%v but body is %q", preview, body)
			}
		})
	}
}

func TestDesktopOSC9InTmux(t *testing.T) {
	r := newNotifyRig(t, NotifySettings{Enabled: true, Bell: true, Desktop: DesktopOSC9}, true)
	hostileWorld(r)
	r.incoming(2, 3)
	got := r.out.String()
	if !strings.HasPrefix(got, bel+"\x1bPtmux;") || !strings.HasSuffix(got, "\x1b\\") {
		t.Fatalf("want a bell then a tmux passthrough, got %q", got)
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(got, bel+"\x1bPtmux;"), "\x1b\\")
	// Inside passthrough every ESC is doubled; undoubled, exactly one OSC 9.
	seq := strings.ReplaceAll(inner, "\x1b\x1b", "\x1b")
	if strings.Count(inner, "\x1b") != 2 || !strings.HasPrefix(seq, "\x1b]9;Polyglot: ") || strings.Count(seq, bel) != 1 {
		t.Fatalf("passthrough content %q", inner)
	}
	if strings.Contains(seq, "there") {
		t.Fatalf("message text without preview = true: %q", seq)
	}
	if !strings.Contains(seq, "(+1 more)") {
		t.Fatalf("a second conversation in the burst is not counted: %q", seq)
	}
}

func TestNotifyTextCutsLongNames(t *testing.T) {
	s := notifyText(strings.Repeat("a;", 200), true)
	if n := len([]rune(s)); n > notifyTextMax || !strings.HasSuffix(s, "…") || strings.Contains(s, ";") {
		t.Fatalf("cut to %d runes: %q", n, s)
	}
}

func TestTitleShowsUnreadConversations(t *testing.T) {
	r := newNotifyRig(t, bellOnly, false)
	if r.m.notify.title != "Polyglot" {
		t.Fatalf("title at start %q", r.m.notify.title)
	}
	r.core.unread = 3
	r.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeConversations}}})
	if r.m.notify.title != "Polyglot (3)" {
		t.Fatalf("title %q, want Polyglot (3)", r.m.notify.title)
	}
	// The command Bubble Tea gets sets exactly that title.
	r.m.notify.title = ""
	cmd := r.m.notify.onUnread(unreadMsg{N: 3})
	if got := fmt.Sprint(cmd()); got != "Polyglot (3)" {
		t.Fatalf("window title command yields %q", got)
	}
	// Unchanged count: no command at all.
	if cmd := r.m.notify.onUnread(unreadMsg{N: 3}); cmd != nil {
		t.Fatal("same count set the title again")
	}
	off := newNotifyRig(t, NotifySettings{Enabled: true, Bell: true}, false)
	off.core.unread = 2
	off.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeConversations}}})
	if off.m.notify.title != "" {
		t.Fatalf("title = false still set %q", off.m.notify.title)
	}
}

// Bubble Tea treats its output as a terminal (window size, console mode)
// only if it has this shape (x/term.File); Terminal must keep it and pass
// the real descriptor through.
func TestTerminalKeepsTheTTYShape(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	term := NewTerminal(w)
	var f interface {
		io.ReadWriteCloser
		Fd() uintptr
	} = term
	if f.Fd() != w.Fd() {
		t.Fatalf("Fd %d, want the wrapped file's %d", f.Fd(), w.Fd())
	}
	if _, err := io.WriteString(term, bel); err != nil {
		t.Fatal(err)
	}
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != bel {
		t.Fatalf("read %q (%v) through the pipe", buf, err)
	}
	// Close left the file open: stdout belongs to the process, not the TUI.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("Close closed the wrapped file: %v", err)
	}
}
