package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// convLinksMsg is BridgesOf's answer for the conversation's header, read
// number seq.
type convLinksMsg struct {
	conv  inbox.ConversationID
	seq   int
	links []inbox.BridgeLink
	err   error
}

// maxLinkLines is how many links the header lists before "+N more".
const maxLinkLines = 3

// loadLinks reads the conversation's links (when it opens and on
// ChangeBridges); nil when the core has no bridge.
func (c *conversationView) loadLinks() tea.Cmd {
	bc, ok := c.env.core.(BridgeCore)
	if !ok {
		return nil
	}
	id, seq := c.id, c.linkReads.next()
	return func() tea.Msg {
		ls, err := bc.BridgesOf(id)
		return convLinksMsg{conv: id, seq: seq, links: ls, err: err}
	}
}

func (c *conversationView) onLinks(m convLinksMsg) {
	if m.conv != c.id || !c.linkReads.fresh(m.seq) || m.err != nil {
		return
	}
	c.links = m.links
	c.clampOffset()
}

// linkLines are the header's lines under the title, one per link:
// "⇄ linked with Bob on WhatsApp · E2EE · active".
func (c *conversationView) linkLines() []string {
	st := c.env.st
	var out []string
	for i, l := range c.links {
		if i == maxLinkLines {
			out = append(out, st.dim.Render("⇄ "+itoa(int64(len(c.links)-i))+" more links ("+keyName(c.env.keys.Link)+" lists them)"))
			break
		}
		out = append(out, truncateStyled(linkText(st, c.id, l, len(c.conv.Networks) > 1, c.width), c.width))
	}
	return out
}

// linkText is one link seen from conversation conv: the other leg, the
// link's weakest class and its state. The title is remote text: inline
// sanitizes it. via names this conversation's leg (it has several
// networks).
func linkText(st *styles, conv inbox.ConversationID, l inbox.BridgeLink, via bool, w int) string {
	other := otherLeg(conv, l)
	s := "⇄ linked with " + inline(other.Title, max(w/3, 8)) + " on " + networkName(other.Network)
	if via {
		s += " (from its " + networkName(ownLeg(conv, l).Network) + " leg)"
	}
	line := st.dim.Render(s + " · ")
	// A link that is not end-to-end encrypted as a whole stands out.
	if l.Weakest.IsE2EE() {
		line += st.dim.Render(l.Weakest.Label())
	} else {
		line += st.warn.Render(l.Weakest.Label())
	}
	state := l.State
	if state == "" {
		state = "active"
	}
	if l.Pending > 0 {
		state += " · " + itoa(int64(l.Pending)) + " to relay"
	}
	if state == "active" {
		return line + st.dim.Render(" · "+state)
	}
	return line + st.warn.Render(" · "+inline(state, max(w/3, 8)))
}
