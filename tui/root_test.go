package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

func TestChangeFeedCoalescesABurst(t *testing.T) {
	ch := make(chan inbox.Change, 8)
	for i := 1; i <= 5; i++ {
		ch <- inbox.Change{Kind: inbox.ChangeMessages, Conversation: inbox.ConversationID(i)}
	}
	msg := waitChange(ch)()
	got, ok := msg.(changesMsg)
	if !ok || len(got.Changes) != 5 {
		t.Fatalf("one wake-up should carry the whole burst, got %#v", msg)
	}
	close(ch)
	if _, ok := waitChange(ch)().(feedClosedMsg); !ok {
		t.Fatal("a closed feed must end the watcher")
	}
}

func TestResizeReflows(t *testing.T) {
	f := chatWorld(3)
	f.msgs[1][2].Body = strings.Repeat("word ", 30)
	h := newHarness(t, f, 100, 24)
	h.keys("enter")
	wide := strings.Count(h.view(), "word")
	h.send(tea.WindowSizeMsg{Width: 40, Height: 24})
	for _, l := range strings.Split(h.view(), "\n") {
		if styledWidth(l) > 40 {
			t.Fatalf("line wider than the window after resize: %q", l)
		}
	}
	if strings.Count(h.view(), "word") != wide {
		t.Fatal("rewrapping lost words")
	}
	if got := strings.Count(h.view(), "\n") + 1; got != 24 {
		t.Fatalf("frame has %d lines, want 24", got)
	}
}

type supervisor []AccountStatus

func (s supervisor) AccountStatuses() []AccountStatus { return s }

func TestStatusBarPrefersSupervisorStates(t *testing.T) {
	f := world(1)
	m := newRoot(Options{Core: f, Theme: asciiTheme(t), Now: func() time.Time { return testNow },
		Accounts: supervisor{{Account: "me@xmpp", Network: protocols.XMPP, State: AccountRetrying}}})
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 10})
	h.run(m.Init())
	h.mustShow("XM me@xmpp retrying")
	h.mustNotShow("me@matrix")
}

func TestCtrlCQuitsFromTheComposer(t *testing.T) {
	h := newHarness(t, chatWorld(1), 80, 24)
	h.keys("enter")
	h.typeText("q?") // plain letters are text in the composer
	if h.quit || h.m.showHelp {
		t.Fatal("q and ? must type into the composer")
	}
	// A draft in the composer: ctrl+c asks, any other key stays (and is
	// not typed), y quits with the draft saved.
	h.keys("ctrl+c")
	h.mustShow("Quit Polyglot? Your draft is kept")
	if h.quit {
		t.Fatal("ctrl+c over a draft quit without asking")
	}
	h.keys("n")
	if h.quit || h.m.conv.composer.value() != "q?" {
		t.Fatalf("n after ctrl+c: quit %v, composer %q", h.quit, h.m.conv.composer.value())
	}
	h.mustNotShow("Quit Polyglot?")
	h.keys("ctrl+c", "y")
	if !h.quit {
		t.Fatal("ctrl+c then y did not quit")
	}
	if d, _ := h.m.env.core.Draft(1); d != "q?" {
		t.Fatalf("the draft saved on quitting is %q", d)
	}
	// With an empty composer ctrl+c quits at once.
	h = newHarness(t, chatWorld(1), 80, 24)
	h.keys("enter", "ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c with an empty composer did not quit")
	}
}

// A draft stays with its conversation: leaving with esc, opening another
// conversation, and a new screen (a restart) reading it from the core.
func TestDraftsPerConversation(t *testing.T) {
	f := world(3)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.typeText("for one")
	h.keys("esc", "esc") // composer, then back to the inbox
	h.keys("j", "enter")
	if v := h.m.conv.composer.value(); v != "" {
		t.Fatalf("conversation 2 opened with %q in the composer", v)
	}
	h.typeText("for two")
	h.keys("esc", "esc", "k", "enter")
	if v := h.m.conv.composer.value(); v != "for one" {
		t.Fatalf("back in conversation 1 the composer holds %q, want its draft", v)
	}
	h.keys("esc", "esc", "q")
	if f.drafts[1] != "for one" || f.drafts[2] != "for two" {
		t.Fatalf("drafts in the core %v", f.drafts)
	}

	// A restart: a new screen over the same core.
	h = newHarness(t, f, 80, 24)
	h.keys("j", "enter")
	h.mustShow("for two")
	if v := h.m.conv.composer.value(); v != "for two" {
		t.Fatalf("after a restart conversation 2's composer holds %q", v)
	}
	// Sending it clears the draft.
	h.keys("enter")
	if _, ok := f.drafts[2]; ok || h.m.conv.composer.value() != "" {
		t.Fatalf("after sending, the draft is still kept: %v", f.drafts)
	}
}

func TestCtrlZSuspends(t *testing.T) {
	h := newHarness(t, chatWorld(1), 80, 24)
	h.keys("enter")
	h.typeText("half")
	_, cmd := h.m.Update(tea.KeyMsg{Type: tea.KeyCtrlZ})
	if !hasMsg(cmd, tea.SuspendMsg{}) {
		t.Fatal("ctrl+z does not suspend")
	}
	if d, _ := h.m.env.core.Draft(1); d != "half" {
		t.Fatalf("ctrl+z did not keep the draft (%q)", d)
	}
}

// hasMsg runs cmd (and batches in it) and says whether one yields want.
func hasMsg(cmd tea.Cmd, want tea.Msg) bool {
	if cmd == nil {
		return false
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		found := false
		for _, c := range b {
			found = hasMsg(c, want) || found
		}
		return found
	}
	return msg == want
}

// Feedback is never cut by the status bar's width: it takes lines of its
// own above the bar, wrapping, and the screen above makes room.
func TestStatusFeedbackTakesItsOwnLines(t *testing.T) {
	h := newHarness(t, world(8), 40, 20)
	long := "not sent: the server refused the message because the attachment is too large for it"
	h.send(statusMsg{Text: long, Err: true})
	lines := strings.Split(h.view(), "\n")
	if len(lines) != 20 {
		t.Fatalf("the frame has %d lines, want the terminal's 20", len(lines))
	}
	if !strings.Contains(lines[19], "me@matrix") {
		t.Fatalf("the last line is %q, want the account status bar", lines[19])
	}
	shown := strings.Join(strings.Fields(strings.Join(lines[15:19], " ")), " ")
	if !strings.Contains(shown, long) {
		t.Fatalf("the feedback is cut: the lines above the bar read %q", shown)
	}
	// The next key clears it and gives the lines back.
	h.keys("j")
	if strings.Contains(h.view(), "refused") || h.m.bodyHeight() != 18 {
		t.Fatalf("after a key the feedback stays (body %d lines)", h.m.bodyHeight())
	}
}

// An error on the status line reads without our packages' prefixes: the
// user sees "Eve: …", not the Go chain "inbox: Eve: …".
func TestStatusErrorsCarryNoErrorChains(t *testing.T) {
	h := newHarness(t, world(8), 80, 20)
	h.send(statusMsg{Text: "not sent: inbox: Eve: message request not accepted yet", Err: true})
	v := h.view()
	if strings.Contains(v, "inbox:") || !strings.Contains(v, "not sent: Eve: message request not accepted yet") {
		t.Fatalf("the status line shows a Go error chain:\n%s", v)
	}
}

// TestRemoteScreenRunsNothingOnTheCoresMachine: a screen the core serves
// (SSH, attach) never suspends the core, starts $EDITOR or opens a link
// there; each key says why instead.
func TestRemoteScreenRunsNothingOnTheCoresMachine(t *testing.T) {
	h := newHarness(t, chatWorld(1), 100, 24)
	h.m.env.remote = true
	h.keys("enter")
	h.typeText("half")
	_, cmd := h.m.Update(tea.KeyMsg{Type: tea.KeyCtrlZ})
	if hasMsg(cmd, tea.SuspendMsg{}) {
		t.Fatal("ctrl+z would suspend the core")
	}
	h.run(cmd)
	h.mustShow("ctrl+z suspends only a local polyglot")
	h.send(tea.KeyMsg{Type: tea.KeyCtrlE})
	h.mustShow("$EDITOR would run on the core's machine")
	if text, _ := openTarget("https://example.org/x", h.m.env.log, true); !strings.Contains(text, "served by the Polyglot core") {
		t.Fatalf("a link opened from a remote screen: %q", text)
	}
}
