package tui

import (
	"strings"

	"polyglot/inbox"
)

// View draws the link form at width w. Titles and addresses come from the
// networks: every one goes through inline (the sanitizer) before styling.
func (f *linkForm) View(w, h int) string {
	st := f.env.st
	var b strings.Builder
	b.WriteString(st.title.Render("Link conversations") + st.dim.Render("  a client-side bridge: relayed on this device only") + "\n\n")
	switch f.stage {
	case linkLoading:
		b.WriteString(st.dim.Render("reading this conversation's networks…") + "\n")
	case linkMenu:
		b.WriteString(f.menuView(w))
	case linkPick:
		b.WriteString(f.pickView(w, h))
	case linkPlanning:
		b.WriteString(f.legLine("this", f.leg, w) + "\n\n" + st.dim.Render("checking the link…") + "\n")
	case linkPlan:
		b.WriteString(f.planView(w))
	case linkUnlink:
		b.WriteString(f.unlinkView(w))
	case linkBusy:
		b.WriteString(st.warn.Render("working… the notices are stored before anything is relayed") + "\n")
	}
	if f.err != "" {
		b.WriteString("\n")
		for _, l := range wrapBlock(f.err, max(w-2, 10)) {
			b.WriteString(st.errStyle.Render(l) + "\n")
		}
	}
	return b.String()
}

// legLine is one leg: what it is called, its network, address and class.
func (f *linkForm) legLine(label string, l inbox.BridgeLeg, w int) string {
	st := f.env.st
	nw := max(w/3, 8)
	s := st.dim.Render(padRight(label, 5)) + " " + st.netBadge(l.Network) + " " + inline(l.Title, nw) + " " +
		st.dim.Render(inline("on "+networkName(l.Network)+" · "+l.Address, max(w-nw-16, 8))) + " · " + encWithLabel(st, l.Encryption)
	if !l.Online {
		s += st.warn.Render(" (offline)")
	}
	return truncateStyled(s, w)
}

func (f *linkForm) menuView(w int) string {
	st := f.env.st
	k := f.env.keys
	var b strings.Builder
	for i := 0; i < f.menuLen(); i++ {
		mark := "  "
		if i == f.sel {
			mark = st.selected.Render("▌") + " "
		}
		var s string
		if i < len(f.legs) {
			l := f.legs[i]
			s = "Link through " + st.netAccent(l.Network).Render(networkName(l.Network)) + " " +
				st.dim.Render(inline(l.Address, max(w/2, 8))) + " · " + encWithLabel(st, l.Encryption)
		} else {
			s = "Unlink " + linkText(st, f.conv, f.links[i-len(f.legs)], len(f.legs) > 1, w-10)
		}
		b.WriteString(truncateStyled(mark+s, w) + "\n")
	}
	b.WriteString("\n" + st.dim.Render(inline("enter chooses · ↑/↓ move · "+keyName(k.Back)+" closes", w)) + "\n")
	return b.String()
}

// pickView lists as many candidates as the body's height h leaves room
// for.
func (f *linkForm) pickView(w, h int) string {
	st := f.env.st
	var b strings.Builder
	b.WriteString(f.legLine("this", f.leg, w) + "\n")
	b.WriteString(st.dim.Render("with  a conversation on another network:") + "\n")
	b.WriteString(st.selected.Render("▌") + " filter  " + f.input.View() + "\n")
	switch {
	case !f.loaded:
		b.WriteString(st.dim.Render("reading the conversations…") + "\n")
	case len(f.shown) == 0 && len(f.cands) == 0:
		b.WriteString(st.dim.Render(inline("no conversation on another network that one of your accounts reaches", w)) + "\n")
	case len(f.shown) == 0:
		b.WriteString(st.dim.Render("nothing matches") + "\n")
	}
	// A window of rows around the selection.
	rows := max(h-11, linkRows)
	start := max(min(f.sel-rows/2, len(f.shown)-rows), 0)
	end := min(start+rows, len(f.shown))
	for i := start; i < end; i++ {
		c := f.cands[f.shown[i]]
		mark := "  "
		if i == f.sel {
			mark = st.selected.Render("▌") + " "
		}
		nw := max(w/3, 8)
		line := mark + st.netBadge(c.Network) + " " + padRight(inline(c.Title, nw), nw) + " " +
			st.dim.Render(inline(c.Address, max(w-nw-24, 8))) + " · " + encWithLabel(st, c.Encryption)
		b.WriteString(truncateStyled(line, w) + "\n")
	}
	if n := len(f.shown) - end; n > 0 {
		b.WriteString(st.dim.Render("  … "+itoa(int64(n))+" more: type to narrow") + "\n")
	}
	b.WriteString("\n" + st.dim.Render(inline("enter shows what the link would mean · ↑/↓ ctrl+p/n choose · esc back", w)) + "\n")
	return b.String()
}

func (f *linkForm) planView(w int) string {
	st := f.env.st
	k := f.env.keys
	p := f.plan
	var b strings.Builder
	b.WriteString(f.legLine("this", p.A, w) + "\n")
	b.WriteString(f.legLine("with", p.B, w) + "\n")
	inner := max(w-4, 10)
	if f.planErr != nil {
		box := st.errStyle.Render("Cannot link")
		for _, l := range wrapBlock(refusal(f.planErr), inner) {
			box += "\n" + l
		}
		box += "\n\n" + st.button.Render("["+keyName(k.No)+"] back to the list")
		return b.String() + "\n" + st.modal.Width(inner+2).Render(box) + "\n"
	}
	b.WriteString(st.dim.Render("link ") + " " + encWithLabel(st, p.Weakest) + st.dim.Render(" — the weaker leg's: what the link as a whole protects") + "\n\n")
	// The answer comes before the explanation, so a short screen cuts the
	// explanation, never the choice.
	about := "Linking posts a notice into both conversations, and nothing is relayed before both notices are out. " +
		"Each message is relayed by your own account on the other network, from this device only; anyone there can reply !stop."
	var tail strings.Builder
	for _, l := range wrapBlock(about, max(w-2, 10)) {
		tail.WriteString(l + "\n")
	}
	no := "[" + keyName(k.No) + "] cancel"
	if !p.NeedsConfirm {
		return b.String() + st.button.Render("["+keyName(k.Yes)+"] link") + "   " + st.button.Render(no) + "\n\n" + tail.String()
	}
	// One leg is end-to-end encrypted and the other not: the user's
	// explicit yes, to a warning that says what it costs.
	weak, strong := p.A, p.B
	if weak.Encryption.IsE2EE() {
		weak, strong = strong, weak
	}
	warn := "Messages from an end-to-end encrypted conversation would be relayed onto a leg that is not end-to-end encrypted: " +
		"messages in \u201c" + strong.Title + "\u201d (" + networkName(strong.Network) + ") would go out on " + networkName(weak.Network) +
		" — " + exposure(weak.Encryption) + ". The link is marked as weaker."
	box := st.warn.Render("⚠ Weaker encryption")
	for _, l := range wrapBlock(warn, inner) {
		box += "\n" + l
	}
	// Equal prominence: the same style, side by side.
	box += "\n\n" + st.button.Render("["+keyName(k.Yes)+"] link anyway") + "   " + st.button.Render(no)
	return b.String() + st.modal.Width(inner+2).Render(box) + "\n\n" + tail.String()
}

func (f *linkForm) unlinkView(w int) string {
	st := f.env.st
	k := f.env.keys
	other := otherLeg(f.conv, f.unlink)
	var b strings.Builder
	b.WriteString(st.warn.Render(truncateStyled("Unlink from "+inline(other.Title, w/2)+" on "+networkName(other.Network)+"?", w)) + "\n")
	for _, l := range wrapBlock("Nothing more is relayed between the two conversations, and relays still owed are dropped. What was relayed stays where it is.", max(w-2, 10)) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n" + st.button.Render("["+keyName(k.Yes)+"] unlink") + "   " + st.button.Render("["+keyName(k.No)+"] keep the link") + "\n")
	return b.String()
}
