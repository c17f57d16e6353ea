package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
)

// requestsView lists message requests: first contact from addresses the
// user never accepted. Accept, Block and Ignore are drawn alike, with the
// same width and style, so none is nudged.
type requestsView struct {
	env     *env
	reads   readSeq
	items   []inbox.Request
	blocked []inbox.Request // below the requests: what a block hid, u undoes
	confirm *inbox.Request  // b was pressed: block it? y/n
	cursor  int             // over items, then blocked
	top     int
	loaded  bool
	pending map[inbox.ConversationID]inbox.Decision // sent, awaiting refresh
	width   int
	height  int
}

// requestHeight is the lines one request takes; a blocked sender takes
// one, and the "Blocked" heading two above them.
const (
	requestHeight = 6
	blockedHead   = 2
)

func newRequests(e *env) *requestsView {
	return &requestsView{env: e, pending: map[inbox.ConversationID]inbox.Decision{}}
}

func (r *requestsView) refresh() tea.Cmd { return loadRequests(r.env.core, r.reads.next()) }

func (r *requestsView) setSize(w, h int) { r.width, r.height = w, h; r.clamp() }

func (r *requestsView) rows() int { return len(r.items) + len(r.blocked) }

// rowLines is how many lines row i takes (with the heading before the
// first blocked sender).
func (r *requestsView) rowLines(i int) int {
	switch {
	case i < len(r.items):
		return requestHeight
	case i == len(r.items):
		return blockedHead + 1
	}
	return 1
}

func (r *requestsView) clamp() {
	if r.cursor >= r.rows() {
		r.cursor = r.rows() - 1
	}
	if r.cursor < 0 {
		r.cursor = 0
	}
	if r.cursor < r.top {
		r.top = r.cursor
	}
	for r.top < r.cursor && r.linesBetween(r.top, r.cursor) > r.height {
		r.top++
	}
}

func (r *requestsView) linesBetween(from, to int) int {
	n := 0
	for i := from; i <= to; i++ {
		n += r.rowLines(i)
	}
	return n
}

func (r *requestsView) onRequests(m requestsMsg) {
	if !r.reads.fresh(m.Seq) || m.Err != nil {
		return
	}
	r.loaded = true
	r.items, r.blocked = m.Items, m.Blocked
	still := map[inbox.ConversationID]bool{}
	for _, it := range r.items {
		still[it.Conversation] = true
	}
	for id := range r.pending {
		if !still[id] {
			delete(r.pending, id)
		}
	}
	r.clamp()
}

// selected is the request or blocked sender under the cursor; blocked
// says which.
func (r *requestsView) selected() (it inbox.Request, blocked, ok bool) {
	switch {
	case r.cursor >= 0 && r.cursor < len(r.items):
		return r.items[r.cursor], false, true
	case r.cursor >= len(r.items) && r.cursor < r.rows():
		return r.blocked[r.cursor-len(r.items)], true, true
	}
	return inbox.Request{}, false, false
}

func (r *requestsView) decide(d inbox.Decision) tea.Cmd {
	it, blocked, ok := r.selected()
	if !ok {
		return nil
	}
	if blocked {
		return cmdOf(statusMsg{Text: "blocked — u unblocks"})
	}
	if d == inbox.Block && r.confirm == nil {
		r.confirm = &it
		return nil
	}
	r.confirm = nil
	r.pending[it.Conversation] = d
	return decideCmd(r.env.ctx, r.env.core, it.Conversation, d)
}

// senderName is who a request is from, raw (sanitized when drawn).
func senderName(it inbox.Request) string {
	if it.Name != "" {
		return it.Name
	}
	return it.From.ID
}

func (r *requestsView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.MouseMsg:
		if msg.Action == tea.MouseActionPress {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				r.cursor--
			case tea.MouseButtonWheelDown:
				r.cursor++
			}
			r.clamp()
		}
	case tea.KeyMsg:
		if r.confirm != nil {
			if key.Matches(msg, r.env.keys.Yes) {
				return r.decide(inbox.Block)
			}
			r.confirm = nil
			return cmdOf(statusMsg{Text: "not blocked"})
		}
		switch {
		case key.Matches(msg, r.env.keys.Up):
			r.cursor--
		case key.Matches(msg, r.env.keys.Down):
			r.cursor++
		case key.Matches(msg, r.env.keys.Top):
			r.cursor = 0
		case key.Matches(msg, r.env.keys.Bottom):
			r.cursor = len(r.items) - 1
		case key.Matches(msg, r.env.keys.Accept):
			return r.decide(inbox.Accept)
		case key.Matches(msg, r.env.keys.Block):
			return r.decide(inbox.Block)
		case key.Matches(msg, r.env.keys.Ignore):
			return r.decide(inbox.Ignore)
		case key.Matches(msg, r.env.keys.Unblock):
			if it, blocked, ok := r.selected(); ok && (blocked || it.Consent == inbox.ConsentIgnored) {
				return unblockCmd(r.env.core, it.Person, senderName(it))
			}
			return cmdOf(statusMsg{Text: "u unblocks a blocked sender or unignores an ignored request"})
		case key.Matches(msg, r.env.keys.Person):
			if it, _, ok := r.selected(); ok && it.Person != 0 {
				return cmdOf(openPersonMsg{ID: it.Person})
			}
		case key.Matches(msg, r.env.keys.Open):
			if it, blocked, ok := r.selected(); ok && !blocked {
				return cmdOf(openConversationMsg{ID: it.Conversation})
			}
		case key.Matches(msg, r.env.keys.Inbox), key.Matches(msg, r.env.keys.Back):
			return cmdOf(backMsg{})
		case key.Matches(msg, r.env.keys.Search):
			return cmdOf(openSearchMsg{})
		}
		r.clamp()
	}
	return nil
}

// buttons renders the three choices with identical style and width.
func (r *requestsView) buttons() string { return strings.Join(r.buttonList(), "  ") }

func (r *requestsView) buttonList() []string {
	st := r.env.st
	k := r.env.keys
	labels := []string{"[" + keyName(k.Accept) + "] Accept", "[" + keyName(k.Block) + "] Block", "[" + keyName(k.Ignore) + "] Ignore"}
	w := 0
	for _, l := range labels {
		if n := cellWidth(l); n > w {
			w = n
		}
	}
	var out []string
	for _, l := range labels {
		out = append(out, st.button.Render(padRight(l, w)))
	}
	return out
}

func verification(it inbox.Request) string {
	switch {
	case !it.Encryption.IsE2EE():
		return it.Encryption.Label()
	case it.Verified:
		return "E2EE, keys verified"
	}
	return "E2EE, keys not verified"
}

func (r *requestsView) View() string {
	st := r.env.st
	if !r.loaded {
		return st.dim.Render("Loading…")
	}
	var b strings.Builder
	if len(r.items) == 0 {
		b.WriteString(st.dim.Render("No message requests. First messages from people you have not accepted appear here;\nthey get no read receipts, typing or presence until you accept.") + "\n")
		if r.top > 0 || len(r.blocked) == 0 {
			return strings.TrimRight(b.String(), "\n")
		}
		b.WriteString("\n")
	}
	lines := strings.Count(b.String(), "\n")
	for i := r.top; i < r.rows() && lines+r.rowLines(i) <= max(r.height, r.rowLines(i)); i++ {
		lines += r.rowLines(i)
		if i < len(r.items) {
			b.WriteString(r.requestRow(i))
			continue
		}
		if i == len(r.items) {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(st.dim.Render(fmt.Sprintf("Blocked (%d) — u unblocks, p shows the person", len(r.blocked))) + "\n")
		}
		b.WriteString(r.blockedRow(i) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// mark is the selection gutter of row i.
func (r *requestsView) mark(i int) string {
	if i == r.cursor {
		return r.env.st.selected.Render("▌") + " "
	}
	return "  "
}

// requestRow draws request i: who, address, server and encryption, the
// first words, and the three equal choices (or the block question).
func (r *requestsView) requestRow(i int) string {
	st := r.env.st
	w := r.width
	it := r.items[i]
	state := ""
	if it.Consent == inbox.ConsentIgnored {
		state = st.dim.Render(" (ignored — u unignores)")
	}
	if d, ok := r.pending[it.Conversation]; ok {
		state += st.dim.Render(" — " + strings.ToLower(decisionName(d)) + "…")
	}
	count := fmt.Sprintf("%d message", it.Count)
	if it.Count != 1 {
		count += "s"
	}
	var b strings.Builder
	line1 := r.mark(i) + st.netBadge(it.From.Network) + " " + st.title.Render(inline(senderName(it), w/2)) + state +
		st.dim.Render("  "+relTime(r.env.now(), it.At)+" · "+count)
	b.WriteString(truncateStyled(line1, w) + "\n")
	b.WriteString("    " + inline(networkName(it.From.Network)+" address: "+it.From.ID, w-4) + "\n")
	server := it.From.Server
	if server == "" {
		server = "unknown"
	}
	b.WriteString("    " + inline("server: "+server, w/2) + "  " + st.enc(it.Encryption) + " " + verification(it) + "\n")
	b.WriteString("    " + st.dim.Render("“"+preview(it.Preview, w-8)+"”") + "\n")
	if r.confirm != nil && r.confirm.Conversation == it.Conversation && i == r.cursor {
		b.WriteString("    " + truncateStyled(st.warn.Render("Block "+inline(senderName(it), w/3)+
			"? They can't reach you on any network.")+"  ["+keyName(r.env.keys.Yes)+"] block  ["+keyName(r.env.keys.No)+"] cancel", w-4) + "\n")
	} else {
		b.WriteString("    " + r.buttons() + "\n")
	}
	if i < len(r.items)-1 {
		b.WriteString("\n")
	}
	return b.String()
}

// blockedRow draws blocked sender i (an index past the requests).
func (r *requestsView) blockedRow(i int) string {
	st := r.env.st
	it := r.blocked[i-len(r.items)]
	line := r.mark(i) + st.netBadge(it.From.Network) + " " + st.dim.Render(inline(senderName(it), r.width/3)+"  "+
		inline(it.From.ID, r.width/3)) + "  " + st.button.Render("[u] Unblock")
	return truncateStyled(line, r.width)
}
