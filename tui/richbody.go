package tui

import (
	"regexp"

	"github.com/charmbracelet/lipgloss"

	"polyglot/inbox"
	"polyglot/tui/richtext"
)

// richEntry is a message body drawn from its HTML at one width. It is
// reused only while the HTML, the width, the side and whether spoilers are
// revealed are unchanged, so an edit (which replaces Formatted) draws
// afresh.
type richEntry struct {
	formatted string
	width     int
	own       bool
	reveal    bool
	names     *regexp.Regexp // the user's names it was drawn with
	lines     []string       // nil: the HTML was refused; the plain body is drawn
}

// bodyLines draws a message body at width bw: from its Matrix HTML when it
// has some the renderer accepts, else the plain body (never lost). HTML is
// parsed at most once per message and width; rebuild keeps only the
// entries it used.
func (c *conversationView) bodyLines(m inbox.Message, body string, bw int, style lipgloss.Style) []string {
	if m.Formatted != "" {
		reveal := c.revealed[m.ID]
		var names *regexp.Regexp
		st := c.richStyles(m.Outgoing)
		if !m.Outgoing {
			if names = c.env.mentions.pattern(m.Account); names != nil {
				st = st.WithMentions(func(s string) [][2]int { return findMentions(names, s) })
			}
		}
		e, ok := c.rich[m.ID]
		if !ok || e.formatted != m.Formatted || e.width != bw || e.own != m.Outgoing || e.reveal != reveal || e.names != names {
			e = richEntry{formatted: m.Formatted, width: bw, own: m.Outgoing, reveal: reveal, names: names}
			if lines, err := richtext.Render(m.Formatted, bw, st, reveal); err == nil {
				e.lines = lines
			}
			if c.rich == nil {
				c.rich = map[inbox.MessageID]richEntry{}
			}
			c.rich[m.ID] = e
		}
		if c.richUsed != nil {
			c.richUsed[m.ID] = e
		}
		if e.lines != nil {
			return e.lines
		}
	}
	var out []string
	for _, l := range wrapBlock(body, bw) {
		out = append(out, c.bodyLine(m, l, style))
	}
	return out
}

// richStyles are the rich-text looks for own or their messages.
func (c *conversationView) richStyles(own bool) *richtext.Styles {
	i := 0
	if own {
		i = 1
	}
	if c.richSt[i] == nil {
		base := c.env.st.their
		if own {
			base = c.env.st.own
		}
		c.richSt[i] = richtext.NewStyles(c.env.st.t, base)
	}
	return c.richSt[i]
}
