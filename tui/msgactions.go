package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// MessageActions is what the conversation does to one selected message
// (the core's intents; *inbox.Inbox implements them). Every call happens
// inside a tea.Cmd.
type MessageActions interface {
	// Download saves attachment index of message id and returns the path.
	Download(ctx context.Context, id inbox.MessageID, index int) (string, error)
	Edit(ctx context.Context, id inbox.MessageID, body string) error
	React(ctx context.Context, id inbox.MessageID, key string, remove bool) error
	Retract(ctx context.Context, id inbox.MessageID) error
}

// reactionPresets are the picker's one-key reactions (1–6).
var reactionPresets = []string{"👍", "❤️", "😂", "😮", "😢", "🙏"}

// actionKind says which intent an actionDoneMsg reports.
type actionKind int

const (
	actDownload actionKind = iota + 1
	actEdit
	actReact
	actRetract
)

// actionDoneMsg is the outcome of an intent on one message.
type actionDoneMsg struct {
	Conv inbox.ConversationID
	Kind actionKind
	Msg  inbox.MessageID
	// Text is the status line on success ("saved to …", "edited").
	Text string
	Err  error
}

func downloadCmd(e *env, conv inbox.ConversationID, id inbox.MessageID, index int) tea.Cmd {
	return func() tea.Msg {
		path, err := e.core.Download(e.ctx, id, index)
		if err != nil {
			return actionDoneMsg{Conv: conv, Kind: actDownload, Msg: id, Err: err}
		}
		return actionDoneMsg{Conv: conv, Kind: actDownload, Msg: id, Text: openDownloaded(path, e.log, e.remote)}
	}
}

func reactCmd(e *env, conv inbox.ConversationID, id inbox.MessageID, key string, remove bool) tea.Cmd {
	return func() tea.Msg {
		err := e.core.React(e.ctx, id, key, remove)
		text := "reacted " + key
		if remove {
			text = "reaction " + key + " taken back"
		}
		return actionDoneMsg{Conv: conv, Kind: actReact, Msg: id, Text: text, Err: err}
	}
}

func retractCmd(e *env, conv inbox.ConversationID, id inbox.MessageID) tea.Cmd {
	return func() tea.Msg {
		err := e.core.Retract(e.ctx, id)
		return actionDoneMsg{Conv: conv, Kind: actRetract, Msg: id, Text: "deleted for everyone", Err: err}
	}
}

// actionError words an intent's failure for the status line.
func actionError(k actionKind, err error) string {
	what := map[actionKind]string{actDownload: "download", actEdit: "edit", actReact: "reaction", actRetract: "delete"}[k]
	switch {
	case errors.Is(err, protocols.ErrUnsupported):
		return what + ": this network cannot do that"
	case errors.Is(err, protocols.ErrNotConnected):
		return what + " failed: the account is not connected — try again when it is online"
	case errors.Is(err, inbox.ErrRequestPending):
		return what + ": accept the request first (nothing goes back before that)"
	case errors.Is(err, inbox.ErrNotOnNetwork):
		return what + ": the message is not sent yet"
	}
	return what + " failed: " + err.Error()
}

// askKind is the one-key question shown above the route bar.
type askKind int

const (
	askNone       askKind = iota
	askReaction           // 1–6 or any typed emoji
	askDelete             // y/n
	askAttachment         // which of several attachments (1–9)
	askBlock              // block this message request's sender? y/n
)

// enterHistory moves the keyboard to the history and selects the newest
// message when nothing is selected yet.
func (c *conversationView) enterHistory() {
	c.focus = focusHistory
	if i := c.selected(); i >= 0 {
		c.rerender(i)
		c.showSelection()
		return
	}
	c.selectNewest()
}

// enterComposer gives the keyboard back to the composer; the selection
// stays (unhighlighted) for the next visit.
func (c *conversationView) enterComposer() tea.Cmd {
	c.focus = focusComposer
	c.ask = askNone
	if i := c.selected(); i >= 0 {
		c.rerender(i)
	}
	c.clampOffset()
	return c.composer.focus()
}

// dropDraftContext forgets the reply or edit the draft was for; an edit's
// text gives way to the draft set aside.
func (c *conversationView) dropDraftContext() {
	if c.editing != nil {
		c.composer.set(c.savedDraft)
		c.savedDraft = ""
	}
	c.replyTo, c.editing = nil, nil
	c.clampOffset()
}

// senderLabel is who wrote m, raw (callers sanitize).
func senderLabel(m inbox.Message) string {
	switch {
	case m.Outgoing:
		return "you"
	case m.SenderName != "":
		return m.SenderName
	}
	return m.Sender.ID
}

// firstLine is the first non-empty line of a body, raw.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			return l
		}
	}
	return ""
}

// gist is a message in a few words, raw: its first line, else its file.
func gist(m inbox.Message) string {
	switch text := firstLine(m.Body); {
	case m.Deleted:
		return "message deleted"
	case len(m.Attachments) > 0 && (text == "" || m.Body == m.Attachments[0].Name):
		return "📎 " + m.Attachments[0].Name
	default:
		return text
	}
}

// replyQuote is the line above a reply: who and what it answers, when the
// answered message is loaded.
func (c *conversationView) replyQuote(netID string, w int) string {
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if m := c.msgs[i]; m.NetworkID == netID {
			return inline("↪ "+senderLabel(m)+": "+gist(m), w)
		}
	}
	return "↪ in reply to an earlier message"
}

// actionLine is the one line above the route bar: the pending reply or
// edit, or the one-key question. Remote text in it is sanitized.
func (c *conversationView) actionLine() string {
	w := c.width
	switch {
	case c.ask == askReaction:
		var b strings.Builder
		b.WriteString("react:")
		for i, k := range reactionPresets {
			fmt.Fprintf(&b, " %d %s ", i+1, k)
		}
		b.WriteString(" or type one · again removes · esc cancels")
		return b.String()
	case c.ask == askDelete:
		return "delete this message for everyone? " + keyName(c.env.keys.Yes) + "/" + keyName(c.env.keys.No)
	case c.ask == askBlock:
		return "block " + inline(c.conv.Title, w/3) + "? They can't reach you on any network. " + keyName(c.env.keys.Yes) + "/" + keyName(c.env.keys.No)
	case c.ask == askAttachment:
		return fmt.Sprintf("open which attachment? 1–%d · esc cancels", min(len(c.askMsg.Attachments), 9))
	case c.editing != nil:
		return "✎ editing your message: " + inline(gist(*c.editing), w/2) + " (enter sends the correction, esc drops)"
	case c.replyTo != nil:
		m := *c.replyTo
		return "↪ replying to " + inline(senderLabel(m), w/4) + ": " + inline(gist(m), w/2) + " (esc drops)"
	}
	return ""
}

// actionable returns the selected message, or a status command saying why
// there is none.
func (c *conversationView) actionable() (inbox.Message, tea.Cmd) {
	m, ok := c.selectedMsg()
	if !ok {
		return m, cmdOf(statusMsg{Text: "no message selected (j/k select)"})
	}
	if m.Deleted {
		return m, cmdOf(statusMsg{Text: "that message was deleted"})
	}
	return m, nil
}

func (c *conversationView) openAttachment() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	switch len(m.Attachments) {
	case 0:
		return cmdOf(statusMsg{Text: "this message has no attachment"})
	case 1:
		return c.download(m, 0)
	}
	c.ask, c.askMsg = askAttachment, m
	c.clampOffset()
	return nil
}

// toggleSpoilers shows or hides again what the selected message's spoilers
// hide. Only this view remembers it: reopening the conversation hides them.
func (c *conversationView) toggleSpoilers() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	if !strings.Contains(m.Formatted, "data-mx-spoiler") {
		return cmdOf(statusMsg{Text: "this message has no spoiler"})
	}
	if c.revealed == nil {
		c.revealed = map[inbox.MessageID]bool{}
	}
	if c.revealed[m.ID] = !c.revealed[m.ID]; !c.revealed[m.ID] {
		delete(c.revealed, m.ID)
	}
	c.rerender(c.selected())
	return nil
}

func (c *conversationView) download(m inbox.Message, i int) tea.Cmd {
	a := m.Attachments[i]
	what := "downloading " + inline(a.Name, c.width/2)
	if s := humanSize(a.Size); s != "" {
		what += " (" + s + ")"
	}
	return tea.Batch(cmdOf(statusMsg{Text: what + "…"}), downloadCmd(c.env, c.id, m.ID, i))
}

func (c *conversationView) startReply() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	if m.NetworkID == "" {
		return cmdOf(statusMsg{Text: "that message is not sent yet: nothing to reply to"})
	}
	if c.editing != nil {
		c.dropDraftContext()
	}
	c.replyTo = &m
	return tea.Batch(c.enterComposer(), c.loadPlan())
}

func (c *conversationView) startEdit() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	if !m.Outgoing {
		return cmdOf(statusMsg{Text: "only your own messages can be edited"})
	}
	if m.NetworkID == "" {
		return cmdOf(statusMsg{Text: "that message is not sent yet: nothing to correct"})
	}
	if c.editing == nil {
		c.savedDraft = c.composer.value()
	}
	c.replyTo = nil
	c.editing = &m
	c.composer.set(m.Body)
	return tea.Batch(c.enterComposer(), c.loadPlan())
}

func (c *conversationView) startReact() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	c.ask, c.askMsg = askReaction, m
	c.clampOffset()
	return nil
}

func (c *conversationView) startDelete() tea.Cmd {
	m, cmd := c.actionable()
	if cmd != nil {
		return cmd
	}
	if !m.Outgoing {
		return cmdOf(statusMsg{Text: "only your own messages can be deleted"})
	}
	c.ask, c.askMsg = askDelete, m
	c.clampOffset()
	return nil
}

// answer handles the key that answers the one-key question.
func (c *conversationView) answer(k tea.KeyMsg) tea.Cmd {
	ask, m := c.ask, c.askMsg
	c.ask = askNone
	defer c.clampOffset()
	if k.Type == tea.KeyEsc {
		return nil
	}
	switch ask {
	case askBlock:
		return c.blockAnswered(key.Matches(k, c.env.keys.Yes))
	case askDelete:
		if key.Matches(k, c.env.keys.Yes) {
			return retractCmd(c.env, c.id, m.ID)
		}
		return cmdOf(statusMsg{Text: "not deleted"})
	case askAttachment:
		s := k.String()
		if len(s) == 1 && s[0] >= '1' && s[0] <= '9' && int(s[0]-'1') < len(m.Attachments) {
			return c.download(m, int(s[0]-'1'))
		}
		c.ask = ask // not an answer: keep asking
		return nil
	case askReaction:
		if k.Type != tea.KeyRunes || len(k.Runes) == 0 {
			c.ask = ask
			return nil
		}
		r := string(k.Runes)
		if len(k.Runes) == 1 && k.Runes[0] >= '1' && int(k.Runes[0]-'1') < len(reactionPresets) {
			r = reactionPresets[k.Runes[0]-'1']
		}
		remove := false
		for _, rc := range m.Reactions {
			if rc.Key == r && rc.Mine {
				remove = true
			}
		}
		return reactCmd(c.env, c.id, m.ID, r, remove)
	}
	return nil
}

// onAction shows an intent's outcome and re-reads the history.
func (c *conversationView) onAction(m actionDoneMsg) tea.Cmd {
	if m.Err != nil {
		return cmdOf(statusMsg{Text: actionError(m.Kind, m.Err), Err: true})
	}
	cmds := []tea.Cmd{cmdOf(statusMsg{Text: m.Text})}
	if m.Conv == c.id && m.Kind != actDownload {
		cmds = append(cmds, c.refresh())
	}
	return tea.Batch(cmds...)
}
