package thumbnail

import (
	"fmt"
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

// Detect picks the protocol once, from the environment only (a terminal
// query's late answer would land in the input as typed text): kitty when
// the terminal says it is kitty (TERM=xterm-kitty or KITTY_WINDOW_ID) and
// no tmux sits between (tmux drops kitty graphics), half-blocks
// otherwise. A configured protocol other than auto wins.
//
// Sixel is drawn as half-blocks: Bubble Tea's line renderer cannot carry
// sixel data (its cells are not text), and whether a terminal has sixel
// is only known by asking it.
func Detect(configured Protocol, getenv func(string) string) Protocol {
	switch configured {
	case Kitty, Blocks, Off:
		return configured
	case Sixel:
		return Blocks
	}
	if getenv("TMUX") != "" || strings.HasPrefix(getenv("TERM"), "tmux") || strings.HasPrefix(getenv("TERM"), "screen") {
		return Blocks
	}
	if getenv("TERM") == "xterm-kitty" || getenv("KITTY_WINDOW_ID") != "" {
		return Kitty
	}
	return Blocks
}
