package tui

import (
	"context"
	"errors"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/internal/errtext"
	"polyglot/protocols"
)

// BridgeCore is the optional Core part behind L (*inbox.Inbox has it): the
// client-side bridge's links between conversations on two networks.
type BridgeCore interface {
	BridgeLegs(conv inbox.ConversationID) ([]inbox.BridgeLeg, error)
	PlanBridge(a, b inbox.BridgeLeg) (inbox.BridgePlan, error)
	AddBridge(ctx context.Context, a, b inbox.BridgeLeg, allowWeaker bool) (inbox.BridgeLink, error)
	RemoveBridge(id int64) error
	BridgesOf(conv inbox.ConversationID) ([]inbox.BridgeLink, error)
}

var _ BridgeCore = (*inbox.Inbox)(nil)

// linkStage is where the link form is: what its keys do.
type linkStage int

const (
	linkLoading  linkStage = iota // reading the legs and links
	linkMenu                      // which leg to link through, or which link to remove
	linkPick                      // type to filter the conversations to link with
	linkPlanning                  // PlanBridge runs
	linkPlan                      // the plan (or why it cannot be), waiting for y/n
	linkUnlink                    // "unlink …?", waiting for y/n
	linkBusy                      // AddBridge or RemoveBridge runs
)

// linkScanMax bounds how many conversations the picker reads: it lists
// the legs of each that reaches another network.
const linkScanMax = 2000

// linkRows is the fewest conversations the picker lists at once (a
// taller screen lists more).
const linkRows = 8

// linkForm is L's overlay over a conversation: choose the leg (when the
// conversation has several networks) or a link to remove, then the
// conversation on another network, then confirm the plan. Every core call
// runs in a tea.Cmd; seq tells the newest answer from stale ones.
type linkForm struct {
	env  *env
	core BridgeCore
	conv inbox.ConversationID

	stage linkStage
	seq   int
	err   string // the last refusal, shown until the next choice

	legs  []inbox.BridgeLeg
	links []inbox.BridgeLink
	sel   int // menu row, or picker row among shown

	leg    inbox.BridgeLeg   // this conversation's leg being linked
	input  textinput.Model   // the picker's filter
	cands  []inbox.BridgeLeg // other conversations' legs on other networks
	shown  []int             // cands matching the filter
	loaded bool              // cands were read

	plan    inbox.BridgePlan
	planErr error
	unlink  inbox.BridgeLink
}

// Answers from the core to the link form.
type (
	linkLegsMsg struct {
		seq   int
		legs  []inbox.BridgeLeg
		links []inbox.BridgeLink
		err   error
	}
	linkCandsMsg struct {
		seq   int
		cands []inbox.BridgeLeg
		err   error
	}
	linkPlanMsg struct {
		seq  int
		plan inbox.BridgePlan
		err  error
	}
	linkDoneMsg struct {
		seq  int
		conv inbox.ConversationID
		link inbox.BridgeLink
		err  error
	}
	unlinkDoneMsg struct {
		seq  int
		conv inbox.ConversationID
		link inbox.BridgeLink
		err  error
	}
)

func newLinkForm(e *env, bc BridgeCore, conv inbox.ConversationID) *linkForm {
	in := e.newInput()
	in.Prompt = ""
	in.CharLimit = 200
	in.Placeholder = "type to filter: a name, an address or a network"
	return &linkForm{env: e, core: bc, conv: conv, input: in}
}

// openLink opens the form over the conversation on screen.
func (m *rootModel) openLink() tea.Cmd {
	bc, ok := m.env.core.(BridgeCore)
	if !ok {
		return cmdOf(statusMsg{Text: "this build cannot link conversations", Err: true})
	}
	if m.conv.conv.Request {
		// Its sender has not been answered: no notice goes to them.
		return cmdOf(statusMsg{Text: "a message request cannot be linked: accept it first", Err: true})
	}
	m.link = newLinkForm(m.env, bc, m.conv.conversation())
	m.link.setWidth(m.width)
	return m.link.loadLegs()
}

// linkKey routes keys to the open form, and L in a conversation's history
// to a new one; ok says it took the key.
func (m *rootModel) linkKey(k tea.KeyMsg) (tea.Cmd, bool) {
	if m.link != nil {
		cmd, closed := m.link.Update(k)
		if closed {
			m.link = nil
		}
		return cmd, true
	}
	if m.screen == screenConversation && m.conv != nil && !m.showHelp && !m.typing() && !m.current().asking() &&
		key.Matches(k, m.env.keys.Link) {
		m.status, m.statusErr = "", false
		return m.openLink(), true
	}
	return nil, false
}

// onLinkMsg hands the core's answers to the form, and a finished link or
// unlink to the conversation's header; ok says msg was one of them.
func (m *rootModel) onLinkMsg(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case linkLegsMsg:
		if m.link != nil {
			return m.link.onLegs(msg), true
		}
	case linkCandsMsg:
		if m.link != nil {
			m.link.onCands(msg)
		}
	case linkPlanMsg:
		if m.link != nil {
			m.link.onPlan(msg)
		}
	case linkDoneMsg:
		if m.link == nil || msg.seq != m.link.seq {
			return nil, true
		}
		if msg.err != nil {
			return m.link.onAddFailed(msg.err), true
		}
		m.link = nil
		return tea.Batch(cmdOf(statusMsg{Text: linkedText(msg.conv, msg.link)}), m.reloadLinks()), true
	case unlinkDoneMsg:
		if m.link == nil || msg.seq != m.link.seq {
			return nil, true
		}
		if msg.err != nil {
			m.link.stage, m.link.err = linkMenu, "not unlinked: "+errtext.Of(msg.err)
			return m.link.loadLegs(), true
		}
		m.link = nil
		other := otherLeg(msg.conv, msg.link)
		return tea.Batch(cmdOf(statusMsg{Text: "unlinked from " + inline(other.Title, 40) + " on " + networkName(other.Network) +
			": nothing more is relayed; what was relayed stays"}), m.reloadLinks()), true
	case convLinksMsg:
		if m.conv != nil {
			m.conv.onLinks(msg)
		}
	default:
		return nil, false
	}
	return nil, true
}

// reloadLinks re-reads the links of the conversation on screen.
func (m *rootModel) reloadLinks() tea.Cmd {
	if m.conv == nil {
		return nil
	}
	return m.conv.loadLinks()
}

// linkedText is the status after a link was made.
func linkedText(conv inbox.ConversationID, l inbox.BridgeLink) string {
	other := otherLeg(conv, l)
	return "linked with " + inline(other.Title, 40) + " on " + networkName(other.Network) +
		": a notice goes into both conversations first; relaying starts once both are out"
}

// otherLeg is the leg of l that is not conversation conv.
func otherLeg(conv inbox.ConversationID, l inbox.BridgeLink) inbox.BridgeLeg {
	if l.A.Conversation == conv {
		return l.B
	}
	return l.A
}

// ownLeg is the leg of l that is conversation conv.
func ownLeg(conv inbox.ConversationID, l inbox.BridgeLink) inbox.BridgeLeg {
	if l.A.Conversation == conv {
		return l.A
	}
	return l.B
}

func (f *linkForm) setWidth(w int) { f.input.Width = max(w-14, 8) }

// loadLegs reads the conversation's legs and links.
func (f *linkForm) loadLegs() tea.Cmd {
	f.seq++
	bc, conv, seq := f.core, f.conv, f.seq
	return func() tea.Msg {
		legs, err := bc.BridgeLegs(conv)
		if err != nil {
			return linkLegsMsg{seq: seq, err: err}
		}
		links, err := bc.BridgesOf(conv)
		return linkLegsMsg{seq: seq, legs: legs, links: links, err: err}
	}
}

// menuLen is how many rows the menu has: a row per leg to link through,
// then a row per link to remove.
func (f *linkForm) menuLen() int { return len(f.legs) + len(f.links) }

func (f *linkForm) onLegs(m linkLegsMsg) tea.Cmd {
	if m.seq != f.seq {
		return nil
	}
	if m.err != nil {
		f.stage, f.err = linkMenu, "cannot read this conversation's networks: "+errtext.Of(m.err)
		return nil
	}
	f.legs, f.links = m.legs, m.links
	f.sel = min(f.sel, max(f.menuLen()-1, 0))
	// One leg and no link: nothing to choose, straight to the picker
	// (only when opening: a re-read never moves the user on).
	if f.stage == linkLoading && len(f.legs) == 1 && len(f.links) == 0 {
		return f.startPick(f.legs[0])
	}
	f.stage = linkMenu
	if f.menuLen() == 0 {
		f.err = "none of your accounts reaches this conversation: there is nothing to link it through"
	}
	return nil
}

// startPick lists the conversations leg l could be linked with.
func (f *linkForm) startPick(l inbox.BridgeLeg) tea.Cmd {
	f.leg, f.stage, f.err = l, linkPick, ""
	f.cands, f.shown, f.loaded, f.sel = nil, nil, false, 0
	f.input.SetValue("")
	f.seq++
	core, bc, self, net, seq := f.env.core, f.core, f.conv, l.Network, f.seq
	return tea.Batch(f.input.Focus(), func() tea.Msg {
		cands, err := linkCandidates(core, bc, self, net)
		return linkCandsMsg{seq: seq, cands: cands, err: err}
	})
}

// linkCandidates reads the legs, on a network other than net, of every
// conversation but self (and the requests nobody accepted yet: their
// senders never agreed to anything), newest conversation first.
func linkCandidates(core Core, bc BridgeCore, self inbox.ConversationID, net protocols.Network) ([]inbox.BridgeLeg, error) {
	var out []inbox.BridgeLeg
	var after inbox.Cursor
	const page = 200
	for scanned := 0; scanned < linkScanMax; {
		cs, err := core.Conversations(after, page)
		if err != nil {
			return out, err
		}
		for _, c := range cs {
			if c.ID == self || c.Request || !otherNetwork(c.Networks, net) {
				continue
			}
			legs, err := bc.BridgeLegs(c.ID)
			if err != nil {
				continue // unreachable now: not offered
			}
			for _, l := range legs {
				if l.Network != net {
					out = append(out, l)
				}
			}
		}
		scanned += len(cs)
		if len(cs) < page {
			break
		}
		last := cs[len(cs)-1]
		after = inbox.Cursor{At: last.LastAt, ID: int64(last.ID)}
	}
	return out, nil
}

func otherNetwork(ns []protocols.Network, net protocols.Network) bool {
	for _, n := range ns {
		if n != net {
			return true
		}
	}
	return false
}

func (f *linkForm) onCands(m linkCandsMsg) {
	if m.seq != f.seq {
		return
	}
	f.cands, f.loaded = m.cands, true
	if m.err != nil {
		f.err = "not every conversation could be read: " + errtext.Of(m.err)
	}
	f.filter()
}

// filter shows the candidates whose title, address or network contains
// every word typed.
func (f *linkForm) filter() {
	words := strings.Fields(strings.ToLower(f.input.Value()))
	f.shown = f.shown[:0]
	for i, c := range f.cands {
		hay := strings.ToLower(c.Title + " " + c.Address + " " + networkName(c.Network) + " " + string(c.Network))
		ok := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				ok = false
				break
			}
		}
		if ok {
			f.shown = append(f.shown, i)
		}
	}
	f.sel = min(f.sel, max(len(f.shown)-1, 0))
}

// Update handles a key; closed says the form is done.
func (f *linkForm) Update(k tea.KeyMsg) (cmd tea.Cmd, closed bool) {
	keys := f.env.keys
	switch f.stage {
	case linkLoading, linkPlanning, linkBusy:
		// Waiting for the core; esc leaves while nothing is written yet.
		if k.Type == tea.KeyEsc && f.stage != linkBusy {
			return nil, true
		}
		return nil, false
	case linkMenu:
		switch {
		case k.Type == tea.KeyEsc || key.Matches(k, keys.Back):
			return nil, true
		case k.Type == tea.KeyUp || k.Type == tea.KeyCtrlP || key.Matches(k, keys.Up):
			f.sel = max(f.sel-1, 0)
		case k.Type == tea.KeyDown || k.Type == tea.KeyCtrlN || key.Matches(k, keys.Down):
			f.sel = min(f.sel+1, max(f.menuLen()-1, 0))
		case k.Type == tea.KeyEnter:
			switch {
			case f.sel < len(f.legs):
				return f.startPick(f.legs[f.sel]), false
			case f.sel < f.menuLen():
				f.unlink, f.stage, f.err = f.links[f.sel-len(f.legs)], linkUnlink, ""
			}
		}
		return nil, false
	case linkPick:
		switch k.Type {
		case tea.KeyEsc:
			if f.menuLen() > 1 {
				f.stage, f.err, f.sel = linkMenu, "", 0
				f.input.Blur()
				return nil, false
			}
			return nil, true
		case tea.KeyUp, tea.KeyCtrlP:
			f.sel = max(f.sel-1, 0)
			return nil, false
		case tea.KeyDown, tea.KeyCtrlN:
			f.sel = min(f.sel+1, max(len(f.shown)-1, 0))
			return nil, false
		case tea.KeyEnter:
			other, ok := f.picked()
			if !ok {
				return nil, false
			}
			f.err = ""
			return f.planCmd(f.leg, other), false
		}
		before := f.input.Value()
		var c tea.Cmd
		f.input, c = f.input.Update(k)
		if f.input.Value() != before {
			f.filter()
		}
		return c, false
	case linkPlan:
		switch {
		case f.planErr != nil:
			// Refused: any answer goes back to the list.
			if key.Matches(k, keys.No) || key.Matches(k, keys.Yes) || k.Type == tea.KeyEnter {
				f.stage, f.planErr = linkPick, nil
				return f.input.Focus(), false
			}
		case key.Matches(k, keys.Yes):
			f.stage, f.err = linkBusy, ""
			return f.add(f.plan.NeedsConfirm), false
		case key.Matches(k, keys.No):
			return cmdOf(statusMsg{Text: "not linked: nothing was posted or relayed"}), true
		}
		return nil, false
	case linkUnlink:
		switch {
		case key.Matches(k, keys.Yes):
			f.stage = linkBusy
			f.seq++
			bc, l, conv, seq := f.core, f.unlink, f.conv, f.seq
			return func() tea.Msg {
				return unlinkDoneMsg{seq: seq, conv: conv, link: l, err: bc.RemoveBridge(l.ID)}
			}, false
		case key.Matches(k, keys.No):
			f.stage = linkMenu
		}
		return nil, false
	}
	return nil, false
}

// picked is the candidate the picker's selection is on.
func (f *linkForm) picked() (inbox.BridgeLeg, bool) {
	if f.sel < 0 || f.sel >= len(f.shown) {
		return inbox.BridgeLeg{}, false
	}
	return f.cands[f.shown[f.sel]], true
}

func (f *linkForm) onPlan(m linkPlanMsg) {
	if m.seq != f.seq {
		return
	}
	f.stage, f.plan, f.planErr = linkPlan, m.plan, m.err
	f.input.Blur()
}

// add links the plan's legs; allowWeaker is the user's yes to the
// weaker-encryption warning the plan showed.
func (f *linkForm) add(allowWeaker bool) tea.Cmd {
	f.seq++
	ctx, bc, p, conv, seq := f.env.ctx, f.core, f.plan, f.conv, f.seq
	return func() tea.Msg {
		l, err := bc.AddBridge(ctx, p.A, p.B, allowWeaker)
		return linkDoneMsg{seq: seq, conv: conv, link: l, err: err}
	}
}

// onAddFailed shows why AddBridge refused. When the encryption changed
// since the plan was shown, the plan is made again so the user sees (and
// answers) the new one.
func (f *linkForm) onAddFailed(err error) tea.Cmd {
	f.err = "not linked: " + errtext.Of(err)
	if errors.Is(err, inbox.ErrBridgeWeaker) || errors.Is(err, inbox.ErrBridgeCycle) {
		return f.planCmd(f.plan.A, f.plan.B)
	}
	f.stage = linkPlan
	return nil
}

// planCmd asks the core what linking a and b would mean.
func (f *linkForm) planCmd(a, b inbox.BridgeLeg) tea.Cmd {
	f.stage = linkPlanning
	f.seq++
	bc, seq := f.core, f.seq
	return func() tea.Msg {
		p, err := bc.PlanBridge(a, b)
		return linkPlanMsg{seq: seq, plan: p, err: err}
	}
}

// refusal words why a plan cannot be, without Go error chains.
func refusal(err error) string {
	switch {
	case errors.Is(err, inbox.ErrBridgeCycle):
		return "These conversations are already connected through links. One more link would relay messages around in a circle, so it is refused."
	case errors.Is(err, inbox.ErrBridgeSameNetwork):
		return "Both conversations are on the same network. A link joins two conversations on two different networks."
	}
	return errtext.Of(err)
}
