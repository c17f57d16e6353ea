package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/internal/qrblock"
	"polyglot/tui/sanitize"
)

// linkSession carries one phone link's prompts from LinkAccount's
// goroutine to the program loop. prompts holds one: a newer code replaces
// one not yet shown, so a slow screen never holds the link up.
type linkSession struct {
	seq     int
	prompts chan LinkPrompt
	done    chan addDoneMsg
}

func newLinkSession(seq int) *linkSession {
	return &linkSession{seq: seq, prompts: make(chan LinkPrompt, 1), done: make(chan addDoneMsg, 1)}
}

// offer is LinkAccount's prompt callback (one producer: it never blocks).
func (s *linkSession) offer(p LinkPrompt) {
	for {
		select {
		case s.prompts <- p:
			return
		default:
		}
		select {
		case <-s.prompts:
		default:
		}
	}
}

// linkPromptMsg is a code to show, from session seq.
type linkPromptMsg struct {
	seq int
	p   LinkPrompt
}

// submitLink starts linking to the phone: by QR code, or by pairing code
// for the number typed.
func (f *addForm) submitLink() tea.Cmd {
	linker, ok := f.adder.(AccountsLinker)
	if !ok {
		return f.fail(fieldNetwork, "this build cannot link "+netName(f.network()))
	}
	req := LinkRequest{Network: f.network()}
	if f.byPhone {
		req.Phone = strings.TrimSpace(f.inputs[fieldPhone].Value())
		if req.Phone == "" {
			return f.fail(fieldPhone, "phone: missing (the linked phone's own number, e.g. +4915123456789)")
		}
	}
	f.err = ""
	f.busy = true
	ctx, cancel := context.WithCancel(f.env.ctx)
	f.cancel = cancel
	f.link = newLinkSession(f.seq)
	return tea.Batch(startLink(ctx, cancel, linker, req, f.link), f.link.next)
}

// startLink runs LinkAccount in its own goroutine: it lasts as long as the
// user takes to pick up the phone, and its prompts arrive meanwhile.
func startLink(ctx context.Context, cancel context.CancelFunc, l AccountsLinker, req LinkRequest, s *linkSession) tea.Cmd {
	return func() tea.Msg {
		go func() {
			defer cancel()
			id, err := l.LinkAccount(ctx, req, s.offer)
			s.done <- addDoneMsg{seq: s.seq, id: id, err: err}
		}()
		return nil
	}
}

// next waits for the session's next prompt or its end; s.next is the
// tea.Cmd (a method value, so tests can recognise it).
func (s *linkSession) next() tea.Msg {
	select {
	case p := <-s.prompts:
		return linkPromptMsg{seq: s.seq, p: p}
	case d := <-s.done:
		return d
	}
}

// onLinkPrompt shows a new code and waits for the next.
func (f *addForm) onLinkPrompt(msg linkPromptMsg) tea.Cmd {
	if f.link == nil || f.link.seq != msg.seq {
		return nil
	}
	switch {
	case msg.p.QR != "":
		lines, err := qrblock.Lines(msg.p.QR)
		if err != nil {
			f.err = "the server sent a code too long to draw; waiting for the next one"
			f.qr = nil
			break
		}
		f.qr, f.pairCode = lines, ""
		f.qrUntil = f.env.now().Add(msg.p.Valid)
	case msg.p.PairCode != "":
		f.qr, f.pairCode = nil, pairCodeText(msg.p.PairCode)
	}
	return f.link.next
}

// pairCodeText is the pairing code as drawn: sanitized, then only what
// such a code is made of.
func pairCodeText(code string) string { return qrblock.PairCode(sanitize.Inline(code)) }

// showsQR says a code is on screen, counting down.
func (f *addForm) showsQR() bool { return f.busy && f.qr != nil }

// qrView is the code, how to scan it and how long it stays valid.
func (f *addForm) qrView(w int) string {
	st := f.env.st
	var b strings.Builder
	b.WriteString(inline("Scan with the phone: WhatsApp → Settings → Linked devices → Link a device", w) + "\n")
	qw := len([]rune(f.qr[0]))
	if qw > w || f.height > 0 && len(f.qr)+6 > f.height {
		msg := fmt.Sprintf("the QR code needs a %d×%d terminal: enlarge it, or esc and link by phone number", qw, len(f.qr)+8)
		b.WriteString(st.errStyle.Render(inline(msg, w)) + "\n")
	} else {
		// Unstyled: the blocks' own ink is the picture.
		for _, l := range f.qr {
			b.WriteString(l + "\n")
		}
	}
	left := f.qrUntil.Sub(f.env.now()).Round(time.Second)
	if left < 0 {
		left = 0
	}
	b.WriteString(st.warn.Render(fmt.Sprintf("This code changes in %d s", int(left/time.Second))) +
		st.dim.Render(inline("  esc cancels; nothing is saved until the phone confirms", max(w-26, 0))))
	return b.String()
}

// pairCodeView is the pairing code and where on the phone it goes.
func (f *addForm) pairCodeView(w int) string {
	st := f.env.st
	phone := strings.TrimSpace(f.inputs[fieldPhone].Value())
	var b strings.Builder
	for _, l := range wrapBlock("On the phone with "+phone+": WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, and type this code:", max(w-2, 10)) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n    " + st.title.Render(f.pairCode) + "\n\n")
	b.WriteString(st.warn.Render("waiting for the phone…") + st.dim.Render("  esc cancels; nothing is saved until the phone confirms") + "\n")
	return b.String()
}

// linkWayRow shows the two ways to link, the chosen one bracketed.
func (f *addForm) linkWayRow() string {
	st := f.env.st
	qr, phone := st.selected.Render("[QR code]"), " phone number "
	if f.byPhone {
		qr, phone = " QR code ", st.selected.Render("[phone number]")
	}
	return qr + " " + phone
}
