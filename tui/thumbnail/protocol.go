package thumbnail

import (
	"fmt"
	"strconv"
	"strings"
)

// Protocol is how pictures are drawn in the terminal.
type Protocol string

const (
	Auto   Protocol = "auto" // Detect decides
	Kitty  Protocol = "kitty"
	Sixel  Protocol = "sixel"
	Blocks Protocol = "halfblocks"
	Off    Protocol = "off" // a placeholder line only
)

// Choices are the words config.toml's [images] protocol accepts.
var Choices = []string{string(Auto), string(Kitty), string(Sixel), string(Blocks), string(Off)}

// ParseProtocol reads a config value ("" is auto).
func ParseProtocol(s string) (Protocol, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return Auto, nil
	}
	for _, c := range Choices {
		if s == c {
			return Protocol(s), nil
		}
	}
	return "", fmt.Errorf("unknown image protocol %q", s)
}

// Detect picks the protocol once, from the environment only: the TUI
// never writes a terminal query (its late answer would land in the input
// as typed text). A configured protocol other than auto wins. Otherwise,
// with no tmux in between (tmux drops kitty graphics, and sixel unless
// built for it):
//   - kitty where the terminal says it is one with Unicode placeholders
//     (TERM=xterm-kitty or KITTY_WINDOW_ID, TERM=xterm-ghostty);
//   - sixel where the terminal names itself as one that draws sixel
//     (sixelTerminal);
//   - half-blocks everywhere else.
func Detect(configured Protocol, getenv func(string) string) Protocol {
	switch configured {
	case Kitty, Sixel, Blocks, Off:
		return configured
	}
	term := getenv("TERM")
	switch {
	case getenv("TMUX") != "" || strings.HasPrefix(term, "tmux") || strings.HasPrefix(term, "screen"):
		return Blocks
	case term == "xterm-kitty" || getenv("KITTY_WINDOW_ID") != "" || term == "xterm-ghostty":
		return Kitty
	case sixelTerminal(getenv):
		return Sixel
	}
	return Blocks
}

// sixelTerminal: the environment names a terminal that draws sixel
// pictures by default. xterm is not one of them: it needs -ti vt340 and a
// build with sixel, neither visible from here (configure "sixel" there).
func sixelTerminal(getenv func(string) string) bool {
	switch term := getenv("TERM"); {
	case term == "foot" || strings.HasPrefix(term, "foot-"),
		term == "mlterm" || getenv("MLTERM") != "",
		term == "contour" || getenv("TERMINAL_NAME") == "contour",
		term == "yaft-256color":
		return true
	}
	switch getenv("TERM_PROGRAM") {
	case "WezTerm", "iTerm.app", "mintty":
		return true
	}
	// Konsole draws sixel from 22.04 (KONSOLE_VERSION 220400).
	if v, err := strconv.Atoi(getenv("KONSOLE_VERSION")); err == nil && v >= 220400 {
		return true
	}
	// Windows Terminal draws sixel from 1.22.
	return getenv("WT_SESSION") != ""
}
