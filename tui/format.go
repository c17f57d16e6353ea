package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/tui/sanitize"
)

// Every remote string goes through one of these before it is drawn.

// inline makes a remote string one safe line of at most w cells.
func inline(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return sanitize.Truncate(s, w)
}

// preview is a remote message body as one list line: breaks shown as ⏎.
func preview(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return sanitize.Truncate(sanitize.Preview(sanitize.Clamp(s, 4*w)), w)
}

// maxBodyRunes bounds what one message can put on screen; the rest is
// named ("… (N more)") rather than drawn, so a 1 MiB body cannot freeze
// the view.
const maxBodyRunes = 16000

// wrapBlock makes a remote multi-line string into safe lines of w cells.
func wrapBlock(s string, w int) []string {
	if w < 1 {
		w = 1
	}
	return sanitize.Wrap(sanitize.Clamp(s, maxBodyRunes), w)
}

// cellWidth is the display width of a safe, unstyled string.
func cellWidth(s string) int { return sanitize.Width(s) }

// styledWidth is the display width of a line that may carry styles.
func styledWidth(s string) int { return lipgloss.Width(s) }

// padRight pads or cuts a safe string to exactly w cells.
func padRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := cellWidth(s)
	if n > w {
		return sanitize.Truncate(s, w)
	}
	return s + strings.Repeat(" ", w-n)
}

// relTime is the compact age shown in lists: "now", "5m", "3h", "Mon",
// "Jan 2", "2024-01-02".
func relTime(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 7*24*time.Hour:
		return t.Format("Mon")
	case t.Year() == now.Year():
		return t.Format("Jan 2")
	}
	return t.Format("2006-01-02")
}

// dayLabel is a day separator's text.
func dayLabel(now, t time.Time) string {
	ny, nm, nd := now.Date()
	ty, tm, td := t.In(now.Location()).Date()
	switch {
	case ty == ny && tm == nm && td == nd:
		return "Today"
	case ty == ny && tm == nm && td == nd-1:
		return "Yesterday"
	case ty == ny:
		return t.In(now.Location()).Format("Monday, January 2")
	}
	return t.In(now.Location()).Format("Monday, January 2, 2006")
}

func sameDay(a, b time.Time, loc *time.Location) bool {
	ay, am, ad := a.In(loc).Date()
	by, bm, bd := b.In(loc).Date()
	return ay == by && am == bm && ad == bd
}

// networkName is the human network name.
func networkName(n protocols.Network) string { return inbox.NetworkName(n) }

// routeText is "Matrix · E2EE verified" with an offline mark.
func routeText(r inbox.Route) string {
	s := networkName(r.Network) + " · " + r.Encryption.Label()
	if !r.Online {
		s += " (offline)"
	}
	return s
}

func decisionName(d inbox.Decision) string {
	switch d {
	case inbox.Accept:
		return "Accept"
	case inbox.Block:
		return "Block"
	case inbox.Ignore:
		return "Ignore"
	}
	return "?"
}

// ansiTruncate cuts a styled line at w cells without breaking escapes.
func ansiTruncate(s string, w int) string { return ansi.Truncate(s, w, "…") }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
