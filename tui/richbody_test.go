package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
)

// formattedWorld is the real world plus Matrix messages carrying HTML: a
// rich one, a hostile one and one too deep to trust (plain body shown).
func formattedWorld(t *testing.T) *realWorld {
	w := newRealWorld(t)
	msg := func(id, body, html string, ago time.Duration) {
		w.ingest(t, "mx", protocols.MessageEvent{Message: protocols.Message{
			NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: "!ada:example.org"}, Sender: adaMX,
			Body: body, FormattedBody: html, Sent: testNow.Add(-ago), Received: testNow.Add(-ago),
			Encryption: protocols.EncE2EEVerified}})
	}
	msg("f1", "Meet at noon (plain)", `<p>Meet <b>at noon</b>, bring <code>notes.txt</code>, <del>cake</del> <em>tea</em>.</p>`+
		`<blockquote>The engine weaves algebraic patterns just as the loom weaves flowers and leaves.</blockquote>`+
		`<ol><li>gears</li><li>punched <strong>cards</strong></li></ol>`+
		"<pre><code>for i in 1..3:\n    print(i)\n</code></pre>"+
		`<a href="https://example.org/engine">the plans</a> · <a href="https://matrix.to/#/@ada:example.org">Ada</a>`, 50*time.Minute)
	msg("f2", "hostile", "<script>alert(1)</script><b>\x1b]0;owned\x07bold</b> <a href=\"https://x.example/\x1b[5m\">x</a>", 40*time.Minute)
	msg("f3", "too deep: the plain body is shown", strings.Repeat("<i>", 100)+"deep", 30*time.Minute)
	return w
}

func TestGoldenFormattedConversation(t *testing.T) {
	w := formattedWorld(t)
	h := newHarness(t, w.in, 80, 36)
	h.send(openConversationMsg{ID: w.ada})
	frame := h.view()
	assertInert(t, frame)
	for _, raw := range []string{"<b>", "<p>", "<code>", "</", "alert(1)", "(plain)"} {
		if strings.Contains(frame, raw) {
			t.Errorf("the frame shows %q:\n%s", raw, frame)
		}
	}
	h.mustShow("Meet at noon, bring `notes.txt`, ~~cake~~ tea.", "│ The engine weaves",
		"1. gears", "2. punched cards", "    print(i)", "the plans (https://example.org/engine) · Ada",
		"␛]0;owned␇bold x (https://x.example/␛[5m)", "too deep: the plain body is shown")
	golden(t, "formatted", frame)
}

// An edit replaces the HTML; the cached drawing must not survive it.
func TestFormattedEditRedraws(t *testing.T) {
	w := formattedWorld(t)
	h := newHarness(t, w.in, 80, 36)
	h.send(openConversationMsg{ID: w.ada})
	h.mustShow("punched cards")
	w.ingest(t, "mx", protocols.EditEvent{Chat: "!ada:example.org", TargetID: "f1", NetworkID: "f1e", From: adaMX,
		Body: "edited plain", Formatted: "<p><b>edited</b> rich</p>", At: testNow})
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeMessages, Conversation: w.ada}}})
	h.mustShow("edited rich", "(edited)")
	h.mustNotShow("punched cards", "edited plain")
}

// With a terminal that draws attributes, the bold part is bold, and the
// drawn lines fit the width under both ways of counting cells.
func TestFormattedBodyStyledAndWithinWidth(t *testing.T) {
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.ANSI256)})
	if err != nil {
		t.Fatal(err)
	}
	w := newRealWorld(t)
	w.ingest(t, "mx", protocols.MessageEvent{Message: protocols.Message{
		NetworkID: "f1", Chat: protocols.Chat{ID: "!ada:example.org"}, Sender: adaMX, Body: "plain",
		FormattedBody: "<b>strong words 👩🏽‍💻 " + strings.Repeat("again ", 10) + "</b><pre>" + strings.Repeat("x", 60) + "</pre>",
		Sent:          testNow, Received: testNow, Encryption: protocols.EncE2EEVerified}})
	m := newRoot(Options{Core: w.in, Theme: th, Now: func() time.Time { return testNow }, PageSize: 20})
	t.Cleanup(m.close)
	h := &harness{t: t, m: m}
	h.send(tea.WindowSizeMsg{Width: 31, Height: 30})
	h.run(m.Init())
	h.send(openConversationMsg{ID: w.ada})
	var boldLines int
	for _, l := range h.m.conv.lines {
		if lipgloss.Width(l) > 31 || codepointWidth(l) > 31 {
			t.Fatalf("line wider than 31 cells: %q", ansi.Strip(l))
		}
		if strings.Contains(ansi.Strip(l), "again") {
			if !strings.Contains(l, "\x1b[1m") && !strings.Contains(l, "\x1b[1;") && !strings.Contains(l, ";1m") && !strings.Contains(l, ";1;") {
				t.Fatalf("wrapped bold line without bold: %q", l)
			}
			boldLines++
		}
	}
	if boldLines < 2 {
		t.Fatalf("the bold run did not wrap over lines: %d", boldLines)
	}
}
