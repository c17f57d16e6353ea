package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// downgradePrompt is the modal shown when Send refused to go out weaker than
// the best route: the route plan needed the user's OK (the route line
// already said so). It never touches the draft: the composer keeps it until a
// send succeeds.
type downgradePrompt struct {
	env    *env
	err    *inbox.DowngradeError
	req    inbox.SendRequest
	person inbox.PersonID // 0 for groups: no per-person rule
}

// promptOutcome tells the conversation what the user chose.
type promptOutcome int

const (
	promptOpen promptOutcome = iota
	promptSent               // a send intent went out
	promptCancelled
)

func newDowngradePrompt(e *env, de *inbox.DowngradeError, req inbox.SendRequest, person inbox.PersonID) *downgradePrompt {
	return &downgradePrompt{env: e, err: de, req: req, person: person}
}

// exposure says in plain words who can read a message of class e.
func exposure(e protocols.Encryption) string {
	switch e {
	case protocols.EncNone:
		return "unencrypted, anyone on the path can read it"
	case protocols.EncTransport:
		return "TLS only, servers can read it"
	case protocols.EncE2EE:
		return "end-to-end encrypted, but the contact's keys are not verified"
	}
	return e.Label()
}

// question is the plain statement of what would happen.
func (p *downgradePrompt) question() string {
	best, off := p.err.Best, p.err.Offered
	bestName := networkName(best.Network) + " (" + best.Encryption.Label() + ")"
	how := map[inbox.PlanKind]string{inbox.PlanReply: "This reply goes the way the message came: ", inbox.PlanEdit: "This edit goes where the message went: "}
	if h, ok := how[p.err.Plan.Kind]; ok {
		q := h + networkName(off.Network) + " — " + exposure(off.Encryption) + ". " + bestName + " is " + availability(best) + "."
		if !off.Online {
			q += " It waits until " + networkName(off.Network) + " is back."
		}
		return q + " Send it that way?"
	}
	if !best.Online {
		return bestName + " is offline. Send via " + networkName(off.Network) + " — " + exposure(off.Encryption) + "?"
	}
	return bestName + " is available, but this message would go via " + networkName(off.Network) +
		" — " + exposure(off.Encryption) + ". Send it that way?"
}

func availability(r inbox.Route) string {
	if r.Online {
		return "available"
	}
	return "offline"
}

// choices lists the keys; "wait" only when the plan allows waiting for
// the best route (a new message while it is offline).
func (p *downgradePrompt) choices() []string {
	k := p.env.keys
	c := []string{"[" + keyName(k.Yes) + "] send this one"}
	if p.person != 0 {
		c = append(c, "["+keyName(k.AlwaysAllow)+"] always allow for this person")
	}
	if p.err.Plan.CanQueue {
		c = append(c, "["+keyName(k.Wait)+"] wait for "+networkName(p.err.Best.Network)+" (queue)")
	}
	return append(c, "["+keyName(k.No)+"] cancel")
}

func (p *downgradePrompt) Update(msg tea.Msg) (promptOutcome, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return promptOpen, nil
	}
	e := p.env
	switch {
	case key.Matches(k, p.env.keys.Yes):
		req := p.req
		req.AllowDowngrade = true
		off := p.err.Offered
		req.Route = &off
		return promptSent, sendCmd(e.ctx, e.core, req)
	case key.Matches(k, p.env.keys.AlwaysAllow) && p.person != 0:
		// The rule, now set, is the yes (and the message says so).
		return promptSent, allowAndSend(e.ctx, e.core, p.person, p.req)
	case key.Matches(k, p.env.keys.Wait) && p.err.Plan.CanQueue:
		req := p.req
		req.Queue = true
		best := p.err.Best
		req.Route = &best
		return promptSent, sendCmd(e.ctx, e.core, req)
	case key.Matches(k, p.env.keys.No):
		return promptCancelled, cmdOf(statusMsg{Text: "not sent — your draft is still in the composer"})
	}
	return promptOpen, nil
}

// View draws the modal box at width w.
func (p *downgradePrompt) View(w int) string {
	st := p.env.st
	inner := w - 4
	if inner < 10 {
		inner = 10
	}
	var b strings.Builder
	b.WriteString(st.warn.Render("Encryption downgrade"))
	for _, l := range wrapBlock(p.question(), inner) {
		b.WriteString("\n" + l)
	}
	b.WriteString("\n")
	// Choices on one line when they fit, else one per line: never split.
	line := strings.Join(p.choices(), "   ")
	if cellWidth(line) <= inner {
		b.WriteString("\n" + line)
	} else {
		for _, c := range p.choices() {
			b.WriteString("\n" + c)
		}
	}
	return st.modal.Width(inner + 2).Render(b.String())
}
