package tui

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/tui/sanitize"
)

// NotifySettings say how the TUI announces new messages; cmd fills them
// from config.toml's [notifications]. The zero value announces nothing.
type NotifySettings struct {
	Enabled bool        // master switch
	Bell    bool        // ring the terminal bell (BEL)
	Title   bool        // "Polyglot (3)" in the terminal title (OSC 2)
	Desktop DesktopKind // desktop notification through the terminal
	Preview bool        // message text in desktop notifications
}

// DesktopKind is the escape sequence a desktop notification uses.
type DesktopKind string

const (
	DesktopOff DesktopKind = "off"
	// DesktopOSC9: ESC ] 9 ; text BEL (iTerm2, WezTerm, Windows Terminal,
	// Ghostty, kitty).
	DesktopOSC9 DesktopKind = "osc9"
	// DesktopOSC777: ESC ] 777 ; notify ; title ; body BEL (foot, rxvt,
	// VTE/GNOME, WezTerm, Ghostty).
	DesktopOSC777 DesktopKind = "osc777"
)

func (s NotifySettings) desktop() bool {
	return s.Enabled && (s.Desktop == DesktopOSC9 || s.Desktop == DesktopOSC777)
}

// alerts says whether new messages make any sound or popup (and so whether
// terminal focus matters).
func (s NotifySettings) alerts() bool { return s.Enabled && (s.Bell || s.desktop()) }

func (s NotifySettings) title() bool { return s.Enabled && s.Title }

// Terminal is the one writer to the terminal: Bubble Tea's renderer gets it
// through tea.WithOutput and notifications write through it too, under the
// same lock, so a bell or OSC sequence never lands inside a frame. (The
// standard renderer writes each frame and each control sequence with one
// Write call.) It passes Fd and Read through so Bubble Tea still sees a TTY
// (window size, raw mode).
type Terminal struct {
	mu sync.Mutex
	f  *os.File
}

// NewTerminal wraps f (normally os.Stdout).
func NewTerminal(f *os.File) *Terminal { return &Terminal{f: f} }

func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f.Write(p)
}

func (t *Terminal) Read(p []byte) (int, error) { return t.f.Read(p) }

// Close does nothing: the TUI does not own stdout.
func (t *Terminal) Close() error { return nil }

func (t *Terminal) Fd() uintptr { return t.f.Fd() }

const (
	bel = "\a"
	// alertGap coalesces bursts: a catch-up of hundreds of live messages
	// rings once.
	alertGap = 2 * time.Second
	// notifyTextMax is how many characters of a remote name or text a
	// desktop notification carries.
	notifyTextMax = 100
	// XTWINOPS title stack: keep the user's title and give it back on exit
	// (terminals without a stack ignore both).
	pushTitle = "\x1b[22;0t"
	popTitle  = "\x1b[23;0t"
)

// notifier is the root's notification state. It lives in the Update loop;
// reads and writes happen in tea.Cmds.
type notifier struct {
	set  NotifySettings
	out  io.Writer
	tmux bool
	core Core
	now  func() time.Time

	focused   bool      // terminal focus (assumed until a BlurMsg says otherwise)
	lastAlert time.Time // when the bell/popup last went off
	title     string    // title last set, "" before the first count
	counting  bool      // an unread count is in flight
	recount   bool      // changes arrived while counting
}

// UnreadCounter is the optional Core method behind the title count
// (*inbox.Inbox has it); without it the title stays untouched.
type UnreadCounter interface {
	UnreadConversations() (int, error)
}

func newNotifier(o Options, e *env) *notifier {
	return &notifier{set: o.Notify, out: o.Terminal, tmux: o.Tmux, core: e.core, now: e.now, focused: true}
}

// Messages the notifier's commands return.
type (
	unreadMsg struct {
		N   int
		Err error
	}
	// alertMsg carries what a desktop notification says: the newest
	// conversation with news and its last message.
	alertMsg struct {
		Conv  inbox.Conversation
		Last  *inbox.Message
		Known bool // Conv was read (false: a collapsed change named none)
		More  int  // other conversations with news in the same burst
	}
)

func (n *notifier) init() tea.Cmd { return n.countUnread() }

// onChanges reacts to the core's change feed. looking is the conversation
// on screen (0: none).
func (n *notifier) onChanges(cs []inbox.Change, looking inbox.ConversationID) tea.Cmd {
	if !n.set.Enabled {
		return nil
	}
	var news []inbox.ConversationID
	recount := false
	for _, c := range cs {
		switch c.Kind {
		case inbox.ChangeIncoming:
			recount = true
			if c.Conversation != 0 && c.Conversation == looking && n.focused {
				continue // the user is reading it
			}
			news = append(news, c.Conversation)
		case inbox.ChangeConversations, inbox.ChangeMessages, inbox.ChangeRequests:
			recount = true
		}
	}
	var cmds []tea.Cmd
	if recount {
		cmds = append(cmds, n.countUnread())
	}
	if len(news) > 0 {
		cmds = append(cmds, n.alert(news))
	}
	return tea.Batch(cmds...)
}

func (n *notifier) onFocus(focused bool) { n.focused = focused }

// countUnread reads the count for the title; one read at a time, and one
// more afterwards if changes came in meanwhile.
func (n *notifier) countUnread() tea.Cmd {
	uc, ok := n.core.(UnreadCounter)
	if !n.set.title() || !ok {
		return nil
	}
	if n.counting {
		n.recount = true
		return nil
	}
	n.counting = true
	return func() tea.Msg {
		c, err := uc.UnreadConversations()
		return unreadMsg{N: c, Err: err}
	}
}

func (n *notifier) onUnread(msg unreadMsg) tea.Cmd {
	n.counting = false
	var next tea.Cmd
	if n.recount {
		n.recount = false
		next = n.countUnread()
	}
	if msg.Err != nil {
		return next
	}
	t := windowTitle(msg.N)
	if t == n.title {
		return next
	}
	n.title = t
	return tea.Batch(tea.SetWindowTitle(t), next)
}

// windowTitle is the terminal title for n unread conversations.
func windowTitle(n int) string {
	if n <= 0 {
		return "Polyglot"
	}
	return "Polyglot (" + strconv.Itoa(n) + ")"
}

// alert rings and/or pops up for news, at most once per alertGap.
func (n *notifier) alert(news []inbox.ConversationID) tea.Cmd {
	if !n.set.alerts() || n.out == nil {
		return nil
	}
	now := n.now()
	if !n.lastAlert.IsZero() && now.Sub(n.lastAlert) < alertGap && now.Sub(n.lastAlert) >= 0 {
		return nil
	}
	n.lastAlert = now
	if !n.set.desktop() {
		return n.write(bel)
	}
	id, more, c := news[len(news)-1], len(news)-1, n.core
	return func() tea.Msg {
		a := alertMsg{More: more}
		if id == 0 {
			return a
		}
		conv, err := c.Conversation(id)
		if err != nil {
			return a // still worth the popup, without a name
		}
		a.Conv, a.Known = conv, true
		if ms, err := c.Messages(id, inbox.Cursor{}, 1); err == nil && len(ms) == 1 {
			a.Last = &ms[0]
		}
		return a
	}
}

func (n *notifier) onAlert(a alertMsg) tea.Cmd {
	var b strings.Builder
	if n.set.Bell {
		b.WriteString(bel)
	}
	b.WriteString(desktopSequence(n.set, n.tmux, a))
	return n.write(b.String())
}

func (n *notifier) write(s string) tea.Cmd {
	if s == "" || n.out == nil {
		return nil
	}
	out := n.out
	return func() tea.Msg {
		_, _ = io.WriteString(out, s)
		return nil
	}
}

// desktopSequence is the OSC 9 or OSC 777 notification for a, wrapped for
// tmux passthrough when inside tmux. Every remote string goes through
// notifyText first, so nothing can end the OSC early.
func desktopSequence(set NotifySettings, tmux bool, a alertMsg) string {
	if !set.desktop() {
		return ""
	}
	osc777 := set.Desktop == DesktopOSC777
	body := alertBody(set.Preview, a, osc777)
	var seq string
	if osc777 {
		seq = "\x1b]777;notify;Polyglot;" + body + bel
	} else {
		// The prefix names the app and keeps a name starting "4;" from
		// reading as Windows Terminal's OSC 9;4 progress report.
		seq = "\x1b]9;Polyglot: " + body + bel
	}
	if tmux {
		seq = tmuxPassthrough(seq)
	}
	return seq
}

// alertBody says who wrote on which network, and the text only when the
// user asked for previews.
func alertBody(preview bool, a alertMsg, osc777 bool) string {
	clean := func(s string) string { return notifyText(s, osc777) }
	if !a.Known {
		return "New messages"
	}
	who := clean(a.Conv.Title)
	net := ""
	if a.Last != nil && a.Last.Network != "" {
		net = networkName(a.Last.Network)
	} else if len(a.Conv.Networks) > 0 {
		net = networkName(a.Conv.Networks[0])
	}
	if a.Conv.Kind == inbox.Group && a.Last != nil && !a.Last.Outgoing && a.Last.SenderName != "" {
		who = clean(a.Last.SenderName) + " in " + who
	}
	s := who
	if net != "" {
		s += " (" + net + ")"
	}
	if a.Conv.Request {
		s = "Message request from " + s
	}
	if preview && a.Last != nil && !a.Last.Outgoing && a.Last.Kind == inbox.KindText {
		text := a.Last.Body
		if a.Last.Deleted {
			text = inbox.DeletedPreview
		} else if text == "" && len(a.Last.Attachments) > 0 {
			text = "[attachment]"
		}
		if text = clean(text); text != "" {
			s += ": " + text
		}
	}
	if a.More > 0 {
		s += " (+" + strconv.Itoa(a.More) + " more)"
	}
	return s
}

// notifyText makes a remote string safe inside an OSC: sanitize.Truncate
// turns controls into visible pictures (ESC ⇒ ␛, BEL ⇒ ␇, C1 ⇒ ␦) and cuts
// to notifyTextMax cells without splitting a character; anything still below
// 0x20 or in 0x7f–0x9f is dropped (belt and braces), and ';' becomes ','
// where it would split OSC 777's fields.
func notifyText(s string, noSemicolon bool) string {
	s = sanitize.Truncate(s, notifyTextMax)
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return -1
		case r == ';' && noSemicolon:
			return ','
		}
		return r
	}, s))
}

// tmuxPassthrough wraps seq so tmux hands it to the outer terminal (needs
// `set -g allow-passthrough on` in tmux ≥ 3.3).
func tmuxPassthrough(seq string) string {
	return "\x1bPtmux;" + strings.ReplaceAll(seq, "\x1b", "\x1b\x1b") + "\x1b\\"
}

// verificationRequest alerts once for a contact's new request to verify
// keys: it times out on their side, so it is worth the user's attention
// even while a message burst was just rung.
func (n *notifier) verificationRequest(who string) tea.Cmd {
	if !n.set.alerts() || n.out == nil {
		return nil
	}
	var b strings.Builder
	if n.set.Bell {
		b.WriteString(bel)
	}
	if n.set.desktop() {
		osc777 := n.set.Desktop == DesktopOSC777
		text := notifyText(who, osc777) + " asks to verify keys"
		seq := "\x1b]9;Polyglot: " + text + bel
		if osc777 {
			seq = "\x1b]777;notify;Polyglot;" + text + bel
		}
		if n.tmux {
			seq = tmuxPassthrough(seq)
		}
		b.WriteString(seq)
	}
	return n.write(b.String())
}
