package tmuxtest

import "testing"

func TestTerminalQuery(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"\x1b]11;?\x1b\\", "\x1b]11;?"},
		{"text\x1b]10;?\x07", "\x1b]10;?"},
		{"\x1b]4;1;?\x07", "\x1b]4;1;?"},
		{"\x1b]52;c;?\x07", "\x1b]52;c;?"},
		{"\x1b[6n", "\x1b[6n"},
		{"\x1b[?6n", "\x1b[?6n"},
		{"\x1b[c", "\x1b[c"},
		{"\x1b[>0c", "\x1b[>0c"},
		{"\x1b[?2026$p", "\x1b[?2026$p"},
		{"\x1b[>q", "\x1b[>q"},
		{"\x1b[?u", "\x1b[?u"},
		{"\x1bP$qm\x1b\\", "\x1bP$q"},
		{"\x1bPtmux;\x1b\x1b]11;?\x07\x1b\\", "\x1b]11;?"}, // inside tmux passthrough
		// Not queries: colours, cursor moves, titles, notifications, a copy.
		{"\x1b[38;5;149mhi\x1b[0m\x1b[2J\x1b[1;1H\x1b[?25l\x1b[?2004h", ""},
		{"\x1b]2;Polyglot (2)\x07\x1b]777;notify;Polyglot;Bob\x07", ""},
		{"\x1b]52;c;aGVsbG8=\x07", ""},
		{"\x1b[5m\x1b[6m", ""},
	} {
		if got := TerminalQuery(c.raw); got != c.want {
			t.Errorf("TerminalQuery(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}
