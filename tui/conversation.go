package tui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/tui/richtext"
)

type convFocus int

const (
	focusComposer convFocus = iota
	focusHistory
)

// conversationView shows one conversation: a window of its history paged
// from the store by cursor, the route for the next message, the composer
// and, when needed, the downgrade prompt.
type conversationView struct {
	env  *env
	id   inbox.ConversationID
	conv inbox.Conversation

	msgs         []inbox.Message // loaded window, oldest first
	exhausted    bool            // no older messages in the store
	loadingOlder bool
	reads        readSeq // reads of the newest messages
	loaded       bool
	lines        []string // msgs rendered at width (cache; rebuilt in Update)
	msgLines     []int    // how many of lines each message takes
	offset       int      // lines scrolled up from the newest

	// plan is how the next message goes (the core's route plan for the
	// draft as it is: new, reply or edit, and the pick); the route line
	// shows it and Send follows it. planErr: there is none.
	plan    inbox.RoutePlan
	planErr error
	planned bool
	plans   readSeq
	// pick is the route chosen with ctrl+r (nil: the router chooses);
	// auto is the key of the route the router chooses without one.
	pick *inbox.Route
	auto string

	composer *composer
	focus    convFocus
	// unreadWhileAway: messages arrived while the terminal had no focus;
	// they are marked read when it comes back.
	unreadWhileAway bool
	typing          bool // we told the core the user is typing
	prompt          *downgradePrompt
	file            *filePrompt // ctrl+a: the file to send (attach.go)
	sending         bool

	// sel is the selected message in the history focus (0: none).
	sel inbox.MessageID
	// replyTo / editing: the message the composer's draft answers or
	// corrects; savedDraft is the draft set aside while editing.
	replyTo    *inbox.Message
	editing    *inbox.Message
	savedDraft string
	// ask is a one-key question about askMsg (react, delete, which file).
	ask    askKind
	askMsg inbox.Message

	// rich caches bodies drawn from Matrix HTML (richbody.go); richUsed
	// collects the entries one rebuild uses, so the cache never outgrows
	// the window.
	rich     map[inbox.MessageID]richEntry
	richUsed map[inbox.MessageID]richEntry
	richSt   [2]*richtext.Styles
	// revealed are the messages whose spoilers the user chose to see.
	revealed map[inbox.MessageID]bool
	// pics are the thumbnails of this view's pictures (pictures.go).
	pics map[picKey]*picture
	// links are the client-side bridge links this conversation is a leg
	// of, shown under the title (bridgeheader.go).
	links     []inbox.BridgeLink
	linkReads readSeq

	// The "new messages" divider (unread.go): what was unread when the
	// conversation opened, and the message it goes above.
	markSeen     bool
	dividerShown bool // scrolled to once, when first found
	unreadAtOpen int
	newestAtOpen inbox.MessageID
	divider      inbox.MessageID

	width, height int
}

func newConversation(e *env, id inbox.ConversationID) *conversationView {
	c := &conversationView{env: e, id: id, composer: newComposer(e.st, e.keys)}
	c.composer.focus()
	return c
}

// back marks what arrived while the terminal was away as read, now that
// the user sees it.
func (c *conversationView) back() tea.Cmd {
	if !c.unreadWhileAway {
		return nil
	}
	c.unreadWhileAway = false
	return markRead(c.env.ctx, c.env.core, c.id)
}

// open returns the reads a fresh conversation needs, and marks it read (the
// core decides whether a read marker may go back).
func (c *conversationView) open() tea.Cmd {
	e := c.env
	return tea.Batch(
		loadConvHeader(e.core, c.id),
		c.loadLinks(),
		c.loadNewest(e.page),
		c.loadPlan(),
		readMark(e.ctx, e.core, c.id),
		c.composer.focus(),
		c.restoreDraft(),
	)
}

// refresh re-reads the part of the history that is on screen (plus room for
// new arrivals), the header and the routes.
func (c *conversationView) refresh() tea.Cmd {
	e := c.env
	n := c.visibleMessageCount() + e.page
	if n > len(c.msgs)+e.page {
		n = len(c.msgs) + e.page
	}
	return tea.Batch(
		loadConvHeader(e.core, c.id),
		c.loadNewest(n),
	)
}

// loadNewest asks for the newest n messages as the next refresh.
func (c *conversationView) loadNewest(n int) tea.Cmd {
	return loadNewest(c.env.core, c.id, n, c.reads.next())
}

// visibleMessageCount is how many of the newest loaded messages reach into
// the visible window.
func (c *conversationView) visibleMessageCount() int {
	need := c.offset + c.historyHeight()
	lines := 0
	for i := len(c.msgs) - 1; i >= 0; i-- {
		lines += len(c.renderMessage(i))
		if lines >= need {
			return len(c.msgs) - i
		}
	}
	return len(c.msgs)
}

func (c *conversationView) loadOlder() tea.Cmd {
	if c.loadingOlder || c.exhausted || len(c.msgs) == 0 {
		return nil
	}
	c.loadingOlder = true
	first := c.msgs[0]
	return loadOlderPage(c.env.ctx, c.env.core, c.id, inbox.Cursor{At: first.At, ID: int64(first.ID)}, c.env.page)
}

func (c *conversationView) setSize(w, h int) {
	c.width, c.height = w, h
	c.composer.setWidth(w)
	c.rebuild()
}

// layout: header, history, typing line, [notice], route bar, composer.
func (c *conversationView) historyHeight() int {
	h := c.height - 1 - 1 - 1 - composerHeight - len(c.linkLines())
	if c.planLine() != "" {
		h--
	}
	if c.actionLine() != "" {
		h--
	}
	if c.prompt != nil {
		h -= lipgloss.Height(c.prompt.View(c.width)) - composerHeight - 1
	} else if c.file != nil {
		h -= lipgloss.Height(c.file.View(c.width)) - composerHeight - 1
	}
	if h < 1 {
		h = 1
	}
	return h
}

func (c *conversationView) onHeader(m convHeaderMsg) {
	if m.Err == nil && m.Conv.ID == c.id {
		first := c.conv.ID == 0
		c.conv = m.Conv
		if first {
			c.openRequest()
		}
	}
}

func (c *conversationView) onMessages(m messagesMsg) tea.Cmd {
	if m.Conv != c.id {
		return nil
	}
	if m.Older {
		c.loadingOlder = false
	} else if !c.reads.fresh(m.Seq) {
		return nil // a newer read already answered
	}
	if m.Err != nil {
		return nil
	}
	c.loaded = true
	var oldLast inbox.MessageID
	if n := len(c.msgs); n > 0 {
		oldLast = c.msgs[n-1].ID
	}
	// A reader scrolled back, or acting on an older message, keeps it still.
	hold := c.offset > 0 || (c.focus == focusHistory && c.sel != 0 && c.sel != oldLast)
	var newIncoming bool
	if m.Older {
		if len(m.Items) < m.Want {
			c.exhausted = true
		}
		// A refresh may have brought these already (a page fetched from
		// the servers changes the store, and the newest page can then
		// reach back past the window): keep each message once.
		known := make(map[inbox.MessageID]bool, len(c.msgs))
		for _, x := range c.msgs {
			known[x.ID] = true
		}
		var older []inbox.Message
		for _, x := range m.Items {
			if !known[x.ID] {
				older = append(older, x)
			}
		}
		c.msgs = append(older, c.msgs...)
	} else {
		if len(c.msgs) == 0 && len(m.Items) < m.Want {
			c.exhausted = !c.serverHistory()
		}
		newIncoming = c.mergeNewest(m.Items, m.Want)
	}
	c.rebuild()
	// Keep what the user looks at still when lines arrive below it.
	if !m.Older && hold {
		c.offset += c.linesAfter(oldLast)
	}
	c.clampOffset()
	if c.focus == focusHistory && c.selected() < 0 {
		c.selectNewest()
	}
	var cmds []tea.Cmd
	// Until opening has read the unread count (readMark), marking read
	// here would race it and lose the divider; readMark marks read itself.
	if newIncoming && c.markSeen {
		if c.env.away {
			c.unreadWhileAway = true
		} else {
			cmds = append(cmds, markRead(c.env.ctx, c.env.core, c.id))
		}
	}
	// A short first page may not fill the screen: fetch more right away.
	if len(c.lines) < c.historyHeight() && !c.exhausted {
		cmds = append(cmds, c.loadOlder())
	}
	cmds = append(cmds, c.seekDivider(), c.fetchPictures(), c.pictureWork())
	return tea.Batch(cmds...)
}

// mergeNewest folds a re-read of the newest messages into the window and
// reports whether an incoming message appeared that we had not shown.
func (c *conversationView) mergeNewest(items []inbox.Message, want int) bool {
	known := make(map[inbox.MessageID]bool, len(c.msgs))
	for _, m := range c.msgs {
		known[m.ID] = true
	}
	incoming := false
	for _, m := range items {
		if !known[m.ID] && !m.Outgoing && m.Kind == inbox.KindText {
			incoming = true
		}
	}
	if len(items) == 0 {
		c.msgs = nil
		return false
	}
	at := indexOf(c.msgs, items[0].ID)
	switch {
	case at >= 0:
		c.msgs = append(c.msgs[:at:at], items...)
	case len(c.msgs) > 0 && indexOf(items, c.msgs[0].ID) >= 0:
		// The answer reaches further back than the window: it is a superset.
		c.msgs = items
	case len(items) < want:
		// The whole stored history fits in the answer; the servers may
		// hold older messages.
		c.msgs = items
		c.exhausted = !c.serverHistory()
	default:
		// More arrived than we asked for: start a fresh window.
		c.msgs = items
		c.exhausted = false
	}
	return incoming
}

// serverHistory tells whether older messages can come from the servers
// once the store runs out.
func (c *conversationView) serverHistory() bool {
	_, ok := c.env.core.(HistoryLoader)
	return ok
}

func indexOf(ms []inbox.Message, id inbox.MessageID) int {
	for i, m := range ms {
		if m.ID == id {
			return i
		}
	}
	return -1
}

// linesAfter counts the rendered lines of messages newer than id.
func (c *conversationView) linesAfter(id inbox.MessageID) int {
	k := indexOf(c.msgs, id)
	if k < 0 {
		return 0
	}
	n := 0
	for _, l := range c.msgLines[k+1:] {
		n += l
	}
	return n
}

// routeOptions describe the draft to the router: a reply, an edit, a pick.
func (c *conversationView) routeOptions() inbox.RouteOptions {
	var o inbox.RouteOptions
	if c.replyTo != nil {
		o.ReplyTo = c.replyTo.ID
	}
	if c.editing != nil {
		o.EditOf = c.editing.ID
	}
	if c.pick != nil {
		r := *c.pick
		o.Route = &r
	}
	return o
}

// loadPlan asks the core how the draft as it is now would go.
func (c *conversationView) loadPlan() tea.Cmd {
	return loadPlan(c.env.ctx, c.env.core, c.id, c.routeOptions(), c.plans.next())
}

func (c *conversationView) onPlan(m planMsg) tea.Cmd {
	if m.Conv != c.id || !c.plans.fresh(m.Seq) {
		return nil
	}
	if m.Err != nil && c.pick != nil && errors.Is(m.Err, inbox.ErrNoRoute) {
		c.pick = nil // the picked route is gone: back to the router's choice
		return c.loadPlan()
	}
	c.plan, c.planErr, c.planned = m.Plan, m.Err, true
	if m.Err == nil && !m.Plan.Picked {
		c.auto = routeKey(m.Plan.Route)
	}
	c.clampOffset()
	return nil
}

// planLine is the plan's explanation shown above the route bar.
func (c *conversationView) planLine() string {
	if c.planErr != nil || !c.planned {
		return ""
	}
	return c.plan.Line
}

func routeKey(r inbox.Route) string { return r.Account + "\x00" + r.To.Key() }

// cycleRoute picks the next route by hand (ctrl+r), skipping the one the
// router would choose anyway; after the last it gives the choice back.
func (c *conversationView) cycleRoute() tea.Cmd {
	if c.editing != nil {
		return cmdOf(statusMsg{Text: "an edit goes where the message went: no other route"})
	}
	rs := c.plan.Routes
	if len(rs) == 0 {
		return nil
	}
	i := -1
	for k, r := range rs {
		if c.pick != nil && routeKey(r) == routeKey(*c.pick) {
			i = k
		}
	}
	for i++; i < len(rs); i++ {
		if routeKey(rs[i]) != c.auto {
			r := rs[i]
			c.pick = &r
			return c.loadPlan()
		}
	}
	c.pick = nil
	return c.loadPlan()
}

// sendDraft sends the composer's text as the plan on screen says: a new
// message, a reply or the correction of c.editing.
func (c *conversationView) sendDraft() tea.Cmd {
	if c.composer.empty() || c.sending {
		return nil
	}
	o := c.routeOptions()
	req := inbox.SendRequest{Conversation: c.id, Body: c.composer.value(), ReplyTo: o.ReplyTo, EditOf: o.EditOf, Route: o.Route}
	c.sending = true
	return sendCmd(c.env.ctx, c.env.core, req)
}

func (c *conversationView) onSent(m sentMsg) tea.Cmd {
	if m.Conv != c.id {
		return nil
	}
	c.sending = false
	switch {
	case m.Downgrade != nil:
		person := inbox.PersonID(0)
		if c.conv.Kind == inbox.Direct {
			person = c.conv.Person
		}
		c.prompt = newDowngradePrompt(c.env, m.Downgrade, m.Req, person)
		c.clampOffset()
		return nil
	case m.Err != nil && m.Req.EditOf != 0:
		return cmdOf(statusMsg{Text: actionError(actEdit, m.Err) + " — your correction is kept", Err: true})
	case m.Err != nil:
		return cmdOf(statusMsg{Text: "not sent: " + m.Err.Error() + " — your draft is kept", Err: true})
	case m.Req.EditOf != 0:
		if c.editing != nil && c.editing.ID == m.Req.EditOf {
			c.editing = nil
			c.composer.set(c.savedDraft)
			c.savedDraft = ""
		}
		return tea.Batch(cmdOf(statusMsg{Text: "edited"}), c.refresh(), c.loadPlan())
	}
	// Sent (or queued): the draft is now a message in the store (or the
	// path pasted there, a file).
	if c.composer.value() == m.Req.Body || (m.Req.File != "" && samePath(pastedPath(c.composer.value()), m.Req.File)) {
		c.composer.reset()
		c.replyTo = nil
	}
	c.offset = 0
	cmds := []tea.Cmd{c.refresh(), c.loadPlan(), c.keepDraft()}
	if c.typing {
		c.typing = false
		cmds = append(cmds, setTyping(c.env.ctx, c.env.core, c.id, false))
	}
	if m.Msg.State == inbox.StateQueued && m.Req.Queue {
		cmds = append(cmds, cmdOf(statusMsg{Text: "queued — it goes out when " + networkName(m.Msg.Network) + " is back"}))
	}
	return tea.Batch(cmds...)
}

func (c *conversationView) scroll(d int) tea.Cmd {
	c.offset += d
	c.clampOffset()
	c.selectVisible()
	if c.offset+2*c.historyHeight() >= len(c.lines) {
		return c.loadOlder()
	}
	return nil
}

func (c *conversationView) clampOffset() {
	maxOff := len(c.lines) - c.historyHeight()
	if maxOff < 0 {
		maxOff = 0
	}
	if c.offset > maxOff {
		c.offset = maxOff
	}
	if c.offset < 0 {
		c.offset = 0
	}
}

// Update handles input for the conversation; the bool says the key was
// consumed (the root then does nothing more with it).
func (c *conversationView) Update(msg tea.Msg) tea.Cmd {
	if c.prompt != nil {
		out, cmd := c.prompt.Update(msg)
		switch out {
		case promptSent:
			c.prompt = nil
			c.sending = true
		case promptCancelled:
			c.prompt = nil
		}
		c.clampOffset()
		return cmd
	}
	if c.file != nil {
		out, cmd := c.file.Update(msg)
		switch out {
		case promptSent:
			c.file = nil
			c.sending = true
		case promptCancelled:
			c.file = nil
		}
		c.clampOffset()
		return cmd
	}
	if k, ok := msg.(tea.KeyMsg); ok && key.Matches(k, c.env.keys.AttachFile) {
		return c.startFile()
	}
	if mm, ok := msg.(tea.MouseMsg); ok {
		if mm.Action == tea.MouseActionPress {
			switch mm.Button {
			case tea.MouseButtonWheelUp:
				return c.scroll(3)
			case tea.MouseButtonWheelDown:
				return c.scroll(-3)
			}
		}
		return nil
	}
	k, isKey := msg.(tea.KeyMsg)
	if isKey {
		// Paging works from both areas.
		switch {
		case k.String() == "pgup":
			return c.scroll(c.historyHeight() - 1)
		case k.String() == "pgdown":
			return c.scroll(-(c.historyHeight() - 1))
		}
	}
	if c.focus == focusComposer {
		if isKey && key.Matches(k, c.env.keys.Editor) {
			if c.env.remote {
				return cmdOf(statusMsg{Text: keyName(c.env.keys.Editor) + ": $EDITOR would run on the core's machine, not on this screen's; write here instead", Err: true})
			}
			return c.openEditor()
		}
		before := c.composer.empty()
		ev, cmd := c.composer.Update(msg)
		switch ev {
		case composerSend:
			return c.sendDraft()
		case composerLeave:
			if c.replyTo != nil || c.editing != nil {
				c.dropDraftContext()
				return c.loadPlan()
			}
			c.composer.blur()
			c.enterHistory()
			if c.typing {
				c.typing = false
				return tea.Batch(c.keepDraft(), setTyping(c.env.ctx, c.env.core, c.id, false))
			}
			return c.keepDraft()
		case composerCycleRoute:
			return c.cycleRoute()
		}
		// Tell the core about typing on the empty↔text edges only.
		if after := c.composer.empty(); before != after {
			c.typing = !after
			cmd = tea.Batch(cmd, setTyping(c.env.ctx, c.env.core, c.id, c.typing))
		}
		return cmd
	}
	if !isKey {
		return nil
	}
	if c.ask != askNone {
		return c.answer(k)
	}
	if cmd, ok := c.requestKey(k); ok {
		return cmd
	}
	switch {
	case key.Matches(k, c.env.keys.Up):
		return c.moveSelection(-1)
	case key.Matches(k, c.env.keys.Down):
		return c.moveSelection(1)
	case key.Matches(k, c.env.keys.PageUp):
		return c.scroll(c.historyHeight() / 2)
	case key.Matches(k, c.env.keys.PageDown):
		return c.scroll(-c.historyHeight() / 2)
	case key.Matches(k, c.env.keys.Top):
		cmd := c.scroll(len(c.lines))
		c.moveSelection(-len(c.msgs))
		return cmd
	case key.Matches(k, c.env.keys.Bottom):
		c.offset = 0
		c.selectNewest()
	case key.Matches(k, c.env.keys.Route):
		return c.cycleRoute()
	case key.Matches(k, c.env.keys.OpenAttachment):
		return c.openAttachment()
	case key.Matches(k, c.env.keys.Reply):
		return c.startReply()
	case key.Matches(k, c.env.keys.EditMessage):
		return c.startEdit()
	case key.Matches(k, c.env.keys.React):
		return c.startReact()
	case key.Matches(k, c.env.keys.DeleteMessage):
		return c.startDelete()
	case key.Matches(k, c.env.keys.RevealSpoiler):
		return c.toggleSpoilers()
	case key.Matches(k, c.env.keys.Copy):
		return c.copyMessage()
	case key.Matches(k, c.env.keys.OpenLink):
		return c.openLink()
	case key.Matches(k, c.env.keys.Compose):
		return c.enterComposer()
	case key.Matches(k, c.env.keys.Person):
		if c.conv.Kind == inbox.Direct && c.conv.Person != 0 {
			return cmdOf(openPersonMsg{ID: c.conv.Person})
		}
		return cmdOf(statusMsg{Text: "a group has no person view"})
	case key.Matches(k, c.env.keys.Retry):
		for i := len(c.msgs) - 1; i >= 0; i-- {
			if c.msgs[i].Outgoing && c.msgs[i].State == inbox.StateFailed {
				return retryCmd(c.env.ctx, c.env.core, c.msgs[i].ID)
			}
		}
		return cmdOf(statusMsg{Text: "no failed message to retry"})
	case key.Matches(k, c.env.keys.Back), k.String() == "q":
		return cmdOf(backMsg{})
	}
	return nil
}

// rebuild renders the loaded window into lines at the current width. It runs
// in Update (on loads and resizes) so View only slices.
func (c *conversationView) rebuild() {
	if c.width <= 0 {
		return
	}
	c.divider = c.findDivider()
	lines := make([]string, 0, len(c.msgs)*3)
	counts := make([]int, len(c.msgs))
	c.richUsed = map[inbox.MessageID]richEntry{}
	for i := range c.msgs {
		r := c.renderMessage(i)
		counts[i] = len(r)
		lines = append(lines, r...)
	}
	c.lines, c.msgLines = lines, counts
	c.rich, c.richUsed = c.richUsed, nil
	c.showDivider()
}

// renderMessage draws message i, with a day separator before it when the
// day changes.
func (c *conversationView) renderMessage(i int) []string {
	st := c.env.st
	m := c.msgs[i]
	now := c.env.now()
	w := c.width
	var out []string
	if i == 0 || !sameDay(c.msgs[i-1].At, m.At, now.Location()) {
		if i > 0 || c.exhausted {
			out = append(out, center(st.dim.Render("── "+dayLabel(now, m.At)+" ──"), w))
		} else {
			out = append(out, center(st.dim.Render("── "+dayLabel(now, m.At)+" ── (scroll up for older)"), w))
		}
	}
	if m.ID == c.divider {
		out = append(out, c.dividerLine())
	}
	if m.Kind == inbox.KindSystem {
		for _, l := range wrapBlock(m.Body, w-4) {
			out = append(out, center(st.system.Render("· "+l+" ·"), w))
		}
		if m.Notice != "" {
			out = append(out, center(st.dim.Render(inline(m.Notice, w-4)), w))
		}
		return out
	}
	// Header: time, who, network, encryption, state.
	ts := m.At.In(now.Location()).Format("15:04")
	var who string
	if m.Outgoing {
		who = st.own.Render("You")
	} else {
		name := m.SenderName
		if name == "" {
			name = m.Sender.ID
		}
		who = st.their.Render(inline(name, w/3))
	}
	selected := c.focus == focusHistory && m.ID == c.sel
	tsStyle := st.dim
	if selected {
		tsStyle = st.selected
	}
	head := tsStyle.Render(ts) + " " + who + " " + st.netBadge(m.Network) + " " + st.enc(m.Encryption)
	if m.Edited && !m.Deleted {
		head += " " + st.dim.Render("(edited)")
	}
	if m.Outgoing {
		g := st.delivery(m.State)
		switch m.State {
		case inbox.StateFailed:
			reason := m.FailReason
			if reason == "" {
				reason = "unknown error"
			}
			head += " " + st.errStyle.Render(g+" failed: "+inline(reason, w/2)+" (R retries)")
		default:
			head += " " + st.dim.Render(g+" "+m.State.String())
		}
	}
	out = append(out, head)
	indent := "  "
	bw := w - len(indent)
	if selected {
		indent = st.selected.Render("▌") + " "
	}
	if m.ReplyTo != "" && !m.Deleted {
		out = append(out, indent+st.dim.Render(c.replyQuote(m.ReplyTo, bw)))
	}
	switch {
	case m.Deleted:
		out = append(out, indent+st.dim.Render("message deleted"))
	default:
		body := m.Body
		if body == "" && len(m.Attachments) == 0 {
			body = " "
		}
		if len(m.Attachments) == 1 && body == m.Attachments[0].Name {
			body = "" // Matrix puts the file name in the body when there is no caption
		}
		if body != "" {
			style := st.their
			if m.Outgoing {
				style = st.own
			}
			for _, l := range c.bodyLines(m, body, bw, style) {
				out = append(out, indent+l)
			}
		}
		for i, a := range m.Attachments {
			name := inline(a.Name, bw-20)
			if isImage(a) {
				pic, drawn := c.pictureLines(m, i, name, humanSize(a.Size), bw)
				for _, l := range pic {
					out = append(out, indent+l)
				}
				if pic != nil && !drawn {
					continue // the placeholder line names the file
				}
			}
			out = append(out, indent+st.dim.Render("📎 "+name+" "+humanSize(a.Size)))
		}
	}
	if len(m.Reactions) > 0 {
		var rs []string
		for _, r := range m.Reactions {
			s := inline(r.Key, 8) + fmt.Sprint(r.Count)
			if r.Mine {
				s = st.own.Render(s)
			}
			rs = append(rs, s)
		}
		// Each key was sanitized above, before styling; the styled line is
		// only cut to width (sanitizing it again would show its SGR as ␛).
		out = append(out, indent+truncateStyled(strings.Join(rs, "  "), bw))
	}
	if m.Notice != "" {
		out = append(out, indent+st.warn.Render("⚠ "+inline(m.Notice, bw-2)))
	}
	return out
}

func humanSize(n int64) string {
	switch {
	case n <= 0:
		return ""
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
}

func center(s string, w int) string {
	n := lipgloss.Width(s)
	if n >= w {
		return s
	}
	return strings.Repeat(" ", (w-n)/2) + s
}

// View renders the visible window only.
func (c *conversationView) View() string {
	st := c.env.st
	w := c.width
	var b strings.Builder

	// Header.
	title := c.conv.Title
	if title == "" {
		title = "…"
	}
	head := st.title.Render(inline(title, w/2))
	for _, n := range c.conv.Networks {
		head += " " + st.netBadge(n)
	}
	if c.conv.Request {
		head += " " + st.warn.Render(requestBanner(c.env.keys))
	}
	b.WriteString(truncateStyled(head, w) + "\n")
	for _, l := range c.linkLines() {
		b.WriteString(l + "\n")
	}

	// History window.
	hh := c.historyHeight()
	end := len(c.lines) - c.offset
	start := end - hh
	if start < 0 {
		start = 0
	}
	pad := hh - (end - start)
	if !c.loaded {
		b.WriteString(st.dim.Render("Loading…"))
		pad--
		if pad < 0 {
			pad = 0
		}
		b.WriteString("\n")
	}
	for i := 0; i < pad; i++ {
		b.WriteString("\n")
	}
	for i := start; i < end; i++ {
		// A sixel picture running past the window would cover the lines below.
		b.WriteString(tea.ClipSixelPictures(c.lines[i], end-i) + "\n")
	}

	// Typing line (or scroll position).
	switch {
	case c.conv.Typing:
		b.WriteString(st.typing.Render(inline(title, w/2)+" is typing…") + "\n")
	case c.offset > 0:
		b.WriteString(st.dim.Render(fmt.Sprintf("↓ %d lines below (G jumps to newest)", c.offset)) + "\n")
	default:
		b.WriteString("\n")
	}
	if l := c.planLine(); l != "" {
		b.WriteString(st.warn.Render(inline(l, w)) + "\n")
	}
	if c.prompt != nil {
		b.WriteString(c.prompt.View(w))
		return b.String()
	}
	if c.file != nil {
		b.WriteString(c.file.View(w))
		return b.String()
	}
	if l := c.actionLine(); l != "" {
		b.WriteString(truncateStyled(st.warn.Render(l), w) + "\n")
	}
	b.WriteString(c.routeBar() + "\n")
	b.WriteString(c.composer.View())
	return b.String()
}

// routeBar is the plan in one line: "→ Ada via Matrix · E2EE✓ E2EE verified",
// then what stands between the draft and that route (the user's OK, the
// account coming back) and how it was chosen.
func (c *conversationView) routeBar() string {
	st := c.env.st
	switch {
	case c.planErr != nil && errors.Is(c.planErr, inbox.ErrNoRoute) && c.loaded && c.editing == nil:
		return st.errStyle.Render("→ no route: none of your accounts can reach this conversation")
	case c.planErr != nil:
		return truncateStyled(st.errStyle.Render("→ "+inline(c.planErr.Error(), c.width-2)), c.width)
	case !c.planned:
		return st.dim.Render("→ …")
	}
	p := c.plan
	r := p.Route
	name := c.conv.Title
	if name == "" {
		name = r.To.ID
	}
	s := "→ " + inline(name, c.width/3) + " via " + st.netAccent(r.Network).Render(networkName(r.Network)) + " · " + encWithLabel(st, r.Encryption)
	if p.NeedsOK {
		s += " " + st.warn.Render("· needs your OK")
	}
	switch {
	case p.Unavailable:
		s += " " + st.errStyle.Render("(offline — cannot go now)")
	case !r.Online:
		s += " " + st.warn.Render("(offline — will wait)")
	}
	if p.ByRule {
		s += " " + st.warn.Render("· allowed by your rule")
	}
	if p.Picked {
		s += st.dim.Render(" · picked")
	}
	if len(p.Routes) > 1 && c.editing == nil {
		s += st.dim.Render(fmt.Sprintf("  [%s] %d routes", keyName(c.env.keys.Route), len(p.Routes)))
	}
	return truncateStyled(s, c.width)
}

// truncateStyled cuts an already safe, possibly styled line to w cells.
//
// Terminals disagree on the width of emoji sequences: lipgloss counts a
// grapheme (👩🏽‍💻 = 2 cells) while tmux and many xterms add up code points
// (6 cells). A line wider on the terminal than we think wraps and scrolls
// the whole frame, so lines are cut until they fit under both counts.
func truncateStyled(s string, w int) string {
	fits := func(t string) bool { return lipgloss.Width(t) <= w && codepointWidth(t) <= w }
	if fits(s) {
		return s
	}
	// Cut to w, then, while a per-code-point terminal would still see it
	// wider, cut the original shorter in proportion.
	for cut := w; cut > 0; {
		t := ansiTruncate(s, cut)
		if fits(t) {
			return t
		}
		cut = min(cut-1, cut*w/max(lipgloss.Width(t), codepointWidth(t)))
	}
	return ""
}

// codepointWidth is the width a per-code-point terminal (tmux, xterm)
// gives the visible text of s.
func codepointWidth(s string) int {
	n := 0
	for _, r := range ansi.Strip(s) {
		n += runewidth.RuneWidth(r)
	}
	return n
}

// encWithLabel is the mark plus the plain label when they differ
// ("E2EE✓ E2EE verified", but just "E2EE").
func encWithLabel(st *styles, e protocols.Encryption) string {
	if st.t.EncryptionMark(e) == e.Label() {
		return st.enc(e)
	}
	return st.enc(e) + " " + e.Label()
}
