package tui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"polyglot/inbox"
	"polyglot/themes"
)

// NextUnread walks the fake's list order like the core does.
func (f *fakeCore) NextUnread(from inbox.ConversationID, backward bool) (inbox.ConversationID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.convs)
	at := -1
	for i, c := range f.convs {
		if c.ID == from {
			at = i
		}
	}
	step := 1
	if backward {
		step = -1
	}
	if at < 0 {
		at = -1
		if backward {
			at = n
		}
	}
	for k := 1; k <= n; k++ {
		i := ((at+step*k)%n + n) % n
		if c := f.convs[i]; c.ID != from && c.Unread > 0 {
			return c.ID, nil
		}
	}
	return 0, nil
}

func (f *fakeCore) OwnNames() map[string][]string {
	return map[string][]string{"mx": {"Robin", "robin.h"}, "xm": {"rob"}}
}

// dividerAbove says which line follows the divider on screen.
func dividerAbove(t *testing.T, h *harness) string {
	t.Helper()
	lines := strings.Split(h.view(), "\n")
	for i, l := range lines {
		if strings.Contains(l, " new messages ") && i+2 < len(lines) {
			return strings.TrimSpace(lines[i+1]) + " / " + strings.TrimSpace(lines[i+2])
		}
	}
	return ""
}

func TestDividerMarksWhereUnreadStarts(t *testing.T) {
	f := chatWorld(30)
	f.msgs[1][28].Outgoing = true // message 29: the user's own, never unread
	f.convs[0].Unread = 2         // 28 and 30
	h := newHarness(t, f, 80, 30)
	h.keys("enter")
	if got := dividerAbove(t, h); !strings.Contains(got, "message number 28") {
		t.Fatalf("the divider is not above message 28: %q\n%s", got, h.view())
	}
	if len(f.marked) == 0 {
		t.Fatal("opening did not mark the conversation read")
	}
	f.convs[0].Unread = 0 // what MarkRead did

	// A message arriving while reading does not move it.
	f.msgs[1] = append(f.msgs[1], inbox.Message{ID: 31, Conversation: 1, SenderName: "Ada", Body: "message number 31", At: testNow})
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: 1}}})
	h.mustShow("message number 31")
	if got := dividerAbove(t, h); !strings.Contains(got, "message number 28") {
		t.Fatalf("the divider moved: %q", got)
	}
	// Gone once the user leaves: reopening finds nothing unread.
	h.keys("esc", "esc")
	h.keys("enter")
	h.mustNotShow(" new messages ")
}

func TestDividerScrollsIntoView(t *testing.T) {
	f := chatWorld(200)
	f.convs[0].Unread = 60 // more than one page (20) and more than fits
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	// The first page holds 20 messages: older pages load until the
	// divider is there, and the view starts at it.
	if got := dividerAbove(t, h); !strings.Contains(got, "message number 141") {
		t.Fatalf("divider above %q, want message 141\n%s", got, h.view())
	}

	f2 := chatWorld(40)
	f2.convs[0].Unread = 30
	h2 := newHarness(t, f2, 80, 24)
	h2.keys("enter")
	if got := dividerAbove(t, h2); !strings.Contains(got, "message number 11") {
		t.Fatalf("opening did not scroll to the divider: %q\n%s", got, h2.view())
	}
}

func TestJumpToUnreadConversations(t *testing.T) {
	f := chatWorld(5)
	f.convs = append(f.convs, f.convs[1], f.convs[2]) // five rows: 1 2 3 2' 3'
	f.convs[3].ID, f.convs[3].Title = 4, "Dora"
	f.convs[4].ID, f.convs[4].Title = 5, "Eli"
	f.convs[1].Unread, f.convs[4].Unread = 2, 1 // Contact 2 and Eli
	h := newHarness(t, f, 80, 24)

	// From the list (cursor on the read top row): the next unread one.
	h.keys("]")
	if h.m.screen != screenConversation || h.m.conv.id != 2 {
		t.Fatalf("] from the list opened %v", h.m.conv)
	}
	// From inside a conversation, in history focus: on to the next.
	h.keys("esc", "]")
	if h.m.conv.id != 5 {
		t.Fatalf("] from conversation 2 opened %d, want 5", h.m.conv.id)
	}
	h.keys("esc", "[")
	if h.m.conv.id != 2 {
		t.Fatalf("[ from conversation 5 opened %d, want 2", h.m.conv.id)
	}
	// A jump lands in the composer, like enter: there ] is a character.
	h.typeText("a]b")
	if got := h.m.conv.composer.value(); got != "a]b" {
		t.Fatalf("composer holds %q", got)
	}
	// Back leads to the list, not through every jumped conversation.
	h.keys("esc", "esc")
	if h.m.screen != screenInbox {
		t.Fatalf("back from a jumped-to conversation went to %v", h.m.screen)
	}
	f.convs[1].Unread, f.convs[4].Unread = 0, 0
	h.keys("]")
	h.mustShow("no other conversation has unread messages")

	// The selected row itself, when unread, is where ] goes.
	f.convs[0].Unread = 1
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeConversations}}})
	h.keys("g", "]")
	if h.m.screen != screenConversation || h.m.conv.id != 1 {
		t.Fatal("] on an unread selected row did not open it")
	}
}

func TestFindMentions(t *testing.T) {
	re := namePattern([]string{"Robin", "Robin Fischer", "r.b"})
	for _, c := range []struct {
		line string
		want []string
	}{
		{"hey Robin, lunch?", []string{"Robin"}},
		{"ROBIN! robin? @robin:", []string{"ROBIN", "robin", "robin"}},
		{"Robin Fischer is here", []string{"Robin Fischer"}},
		{"Robinson and robins and xrobin", nil},
		{"Robin_x robin2 érobin", nil},
		{"robin robin", []string{"robin", "robin"}},
		{"r.b and rxb", []string{"r.b"}}, // metacharacters are literal
		{"(robin)", []string{"robin"}},
	} {
		var got []string
		for _, r := range findMentions(re, c.line) {
			got = append(got, c.line[r[0]:r[1]])
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("findMentions(%q) = %q, want %q", c.line, got, c.want)
		}
	}
	if findMentions(namePattern(nil), "anything") != nil {
		t.Fatal("no names matched something")
	}
}

func colourHarness(t *testing.T, core Core, w, h int) *harness {
	t.Helper()
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.TrueColor)})
	if err != nil {
		t.Fatal(err)
	}
	m := newRoot(Options{Core: core, Theme: th, Now: func() time.Time { return testNow }, PageSize: 20})
	t.Cleanup(m.close)
	hs := &harness{t: t, m: m}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

func TestMentionHighlightedPerAccount(t *testing.T) {
	f := chatWorld(4)
	ms := f.msgs[1]
	for i := range ms {
		ms[i].Account = "mx"
	}
	ms[0].Body = "robin, are you there?"            // a mention on this account
	ms[1].Body = "rob is the XMPP nick"             // another account's name
	ms[2].Body, ms[2].Outgoing = "I am Robin", true // the user's own words
	ms[3].Body = "Robinson Crusoe"
	h := colourHarness(t, f, 100, 24)
	h.keys("enter")
	hi := h.m.env.st.mention.Render("robin")
	v := h.view()
	if !strings.Contains(v, hi) {
		t.Fatalf("the mention is not drawn in the mention style:\n%q", v)
	}
	if n := strings.Count(v, "48;2;224;175;104m"); n != 1 {
		t.Fatalf("%d highlighted spans, want exactly the one mention:\n%q", n, v)
	}
	if !h.m.env.mentions.mentionsIn(ms[0]) || h.m.env.mentions.mentionsIn(ms[1]) || h.m.env.mentions.mentionsIn(ms[2]) {
		t.Fatal("mentionsIn disagrees with the screen")
	}
	// Sanitizing comes first: a hostile body cannot hide a control in a
	// highlighted name.
	ansi := regexp.MustCompile(`\x1b\[[0-9;]*m`)
	if strings.ContainsAny(ansi.ReplaceAllString(v, ""), "\x1b\a") {
		t.Fatal("a raw control reached the screen")
	}
}

func TestMentionHighlightedInFormattedBodies(t *testing.T) {
	f := chatWorld(2)
	ms := f.msgs[1]
	ms[0].Account, ms[1].Account = "mx", "mx"
	ms[1].Body = "hey Robin: the long paragraph"
	ms[1].Formatted = `<p>hey <a href="https://matrix.to/#/@robin:example.org">Robin</a>: the <b>long</b> paragraph</p>`
	h := colourHarness(t, f, 100, 24)
	h.keys("enter")
	v := h.view()
	// lipgloss draws an underlined run letter by letter: look at the text.
	hl := regexp.MustCompile(`\x1b\[[0-9;]*48;2;224;175;104[0-9;]*m([^\x1b]*)\x1b\[0m`)
	var got string
	for _, m := range hl.FindAllStringSubmatch(v, -1) {
		got += m[1]
	}
	if got != "Robin" {
		t.Fatalf("highlighted %q in the formatted message, want the pill Robin:\n%q", got, v)
	}
}
