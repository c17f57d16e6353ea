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
	cursor  int
	top     int
	loaded  bool
	pending map[inbox.ConversationID]inbox.Decision // sent, awaiting refresh
	width   int
	height  int
}

// requestHeight is the lines one request takes.
const requestHeight = 6

func newRequests(e *env) *requestsView {
	return &requestsView{env: e, pending: map[inbox.ConversationID]inbox.Decision{}}
}

func (r *requestsView) refresh() tea.Cmd { return loadRequests(r.env.core, r.reads.next()) }

func (r *requestsView) setSize(w, h int) { r.width, r.height = w, h; r.clamp() }

func (r *requestsView) visible() int {
	n := r.height / requestHeight
	if n < 1 {
		n = 1
	}
	return n
}

func (r *requestsView) clamp() {
	if r.cursor >= len(r.items) {
		r.cursor = len(r.items) - 1
	}
	if r.cursor < 0 {
		r.cursor = 0
	}
	if r.cursor < r.top {
		r.top = r.cursor
	}
	if v := r.visible(); r.cursor >= r.top+v {
		r.top = r.cursor - v + 1
	}
}

func (r *requestsView) onRequests(m requestsMsg) {
	if !r.reads.fresh(m.Seq) || m.Err != nil {
		return
	}
	r.loaded = true
	r.items = m.Items
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

func (r *requestsView) selected() (inbox.Request, bool) {
	if r.cursor < 0 || r.cursor >= len(r.items) {
		return inbox.Request{}, false
	}
	return r.items[r.cursor], true
}

func (r *requestsView) decide(d inbox.Decision) tea.Cmd {
	it, ok := r.selected()
	if !ok {
		return nil
	}
	r.pending[it.Conversation] = d
	return decideCmd(r.env.ctx, r.env.core, it.Conversation, d)
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
		switch {
		case key.Matches(msg, keys.Up):
			r.cursor--
		case key.Matches(msg, keys.Down):
			r.cursor++
		case key.Matches(msg, keys.Top):
			r.cursor = 0
		case key.Matches(msg, keys.Bottom):
			r.cursor = len(r.items) - 1
		case key.Matches(msg, keys.Accept):
			return r.decide(inbox.Accept)
		case key.Matches(msg, keys.Block):
			return r.decide(inbox.Block)
		case key.Matches(msg, keys.Ignore):
			return r.decide(inbox.Ignore)
		case key.Matches(msg, keys.Open):
			if it, ok := r.selected(); ok {
				return cmdOf(openConversationMsg{ID: it.Conversation})
			}
		case key.Matches(msg, keys.Inbox), key.Matches(msg, keys.Back):
			return cmdOf(backMsg{})
		case key.Matches(msg, keys.Search):
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
	labels := []string{"[a] Accept", "[b] Block", "[i] Ignore"}
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
	if len(r.items) == 0 {
		return st.dim.Render("No message requests. First messages from people you have not accepted appear here;\nthey get no read receipts, typing or presence until you accept.")
	}
	w := r.width
	now := r.env.now()
	var b strings.Builder
	end := r.top + r.visible()
	if end > len(r.items) {
		end = len(r.items)
	}
	for i := r.top; i < end; i++ {
		it := r.items[i]
		mark := "  "
		if i == r.cursor {
			mark = st.selected.Render("▌") + " "
		}
		name := it.Name
		if name == "" {
			name = it.From.ID
		}
		state := ""
		if it.Consent == inbox.ConsentIgnored {
			state = st.dim.Render(" (ignored)")
		}
		if d, ok := r.pending[it.Conversation]; ok {
			state += st.dim.Render(" — " + strings.ToLower(decisionName(d)) + "…")
		}
		count := fmt.Sprintf("%d message", it.Count)
		if it.Count != 1 {
			count += "s"
		}
		line1 := mark + st.netBadge(it.From.Network) + " " + st.title.Render(inline(name, w/2)) + state +
			st.dim.Render("  "+relTime(now, it.At)+" · "+count)
		b.WriteString(truncateStyled(line1, w) + "\n")
		b.WriteString("    " + inline(networkName(it.From.Network)+" address: "+it.From.ID, w-4) + "\n")
		server := it.From.Server
		if server == "" {
			server = "unknown"
		}
		b.WriteString("    " + inline("server: "+server, w/2) + "  " + st.enc(it.Encryption) + " " + verification(it) + "\n")
		b.WriteString("    " + st.dim.Render("“"+preview(it.Preview, w-8)+"”") + "\n")
		b.WriteString("    " + r.buttons() + "\n")
		if i < end-1 {
			b.WriteString("\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
