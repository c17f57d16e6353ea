package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// requestBanner heads a message request's conversation: the keys it names
// (this screen's) work right there (requestKey), as they do in Requests.
func requestBanner(k *KeyMap) string {
	return "message request: [" + keyName(k.Accept) + "] accept  [" + keyName(k.Block) + "] block  [" + keyName(k.Ignore) +
		"] ignore — nothing goes back until you accept"
}

// openRequest starts a message request's conversation in the history,
// where the banner's keys work: nothing can be sent before accepting.
func (c *conversationView) openRequest() {
	if c.conv.Request && c.focus == focusComposer && c.composer.empty() {
		c.composer.blur()
		c.enterHistory()
	}
}

// requestKey decides a message request from its conversation (history
// focus): a accepts, b asks before blocking, i ignores. ok is false for
// other keys and outside requests.
func (c *conversationView) requestKey(k tea.KeyMsg) (cmd tea.Cmd, ok bool) {
	if !c.conv.Request {
		return nil, false
	}
	switch {
	case key.Matches(k, c.env.keys.Accept):
		return decideCmd(c.env.ctx, c.env.core, c.id, inbox.Accept), true
	case key.Matches(k, c.env.keys.Ignore):
		return decideCmd(c.env.ctx, c.env.core, c.id, inbox.Ignore), true
	case key.Matches(k, c.env.keys.Block):
		c.ask = askBlock
		c.clampOffset()
		return nil, true
	}
	return nil, false
}

// blockAnswered blocks on yes and leaves the conversation (a block hides it).
func (c *conversationView) blockAnswered(yes bool) tea.Cmd {
	if !yes {
		return cmdOf(statusMsg{Text: "not blocked"})
	}
	return tea.Sequence(decideCmd(c.env.ctx, c.env.core, c.id, inbox.Block), cmdOf(backMsg{}))
}
