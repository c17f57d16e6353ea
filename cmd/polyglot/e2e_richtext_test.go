package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"polyglot/internal/tmuxtest"
)

// TestMatrixFormattedMessageShownStyled: matrix-nio sends HTML
// (formatted_body) into the end-to-end encrypted DM; the terminal shows it
// styled — the bold part carries SGR 1 on the real tmux screen, inline
// code is drawn differently from the text around it — and no raw tag and
// no escape sequence from the HTML reaches the screen.
func TestMatrixFormattedMessageShownStyled(t *testing.T) {
	x := startNioDM(t, "hi bob")
	p, nio, room := x.p, x.nio, x.room

	// CI set (as CI runners do) must not make a real terminal colourless.
	s := tmuxtest.Start(t, 120, 40, append(p.env(), "LANG=C.UTF-8", "CI=true"), binPath)
	s.WaitFor(30*time.Second, "@alice:localhost online")
	s.WaitFor(10*time.Second, "bob")
	openConversation(t, s, "bob")
	s.WaitFor(10*time.Second, "hi bob")

	nio.MustDo(map[string]any{"op": "send", "room": room,
		"body": "plain **boldpart** and `codepart`\n> quoted",
		"html": "<p>plain <strong>boldpart</strong> and <code>codepart</code> <span>\x1b]0;pwned\x07</span></p>" +
			"<blockquote><p>quotedpart</p></blockquote><script>alert(1)</script>"})
	screen, _ := s.WaitFor(20*time.Second, "boldpart", "│ quotedpart")
	for _, raw := range []string{"<strong>", "<p>", "</", "**boldpart**", "`codepart`", "alert(1)", "<script>"} {
		if strings.Contains(screen, raw) {
			t.Fatalf("the screen shows %q:\n%s", raw, screen)
		}
	}
	if !strings.Contains(screen, "␛]0;pwned␇") || s.Display("#{pane_title}") == "pwned" {
		t.Fatalf("the escape inside the HTML was not made inert:\n%s", screen)
	}
	styled := s.ScreenWithEscapes()
	line := lineWith(styled, "boldpart")
	if a := sgrAt(line, "boldpart"); !a["1"] {
		t.Fatalf("boldpart is not bold on screen (attributes %v): %q", a, line)
	}
	if a := sgrAt(line, "plain"); a["1"] {
		t.Fatalf("the text before the bold part is bold too: %q", line)
	}
	if code, plain := sgrAt(line, "codepart"), sgrAt(line, "plain"); equalAttrs(code, plain) {
		t.Fatalf("inline code looks like plain text (%v): %q", code, line)
	}

	// A spoiler stays hidden — on screen, in the inbox preview — until the
	// user selects the message and presses s; s again hides it.
	nio.MustDo(map[string]any{"op": "send", "room": room,
		"body": "the ending: Rosebud is the sled",
		"html": `the ending: <span data-mx-spoiler="film plot">Rosebud is the sled</span>`})
	s.WaitFor(20*time.Second, "the ending: [spoiler: film plot]")
	if screen := s.Screen(); strings.Contains(screen, "Rosebud") {
		t.Fatalf("the spoiler shows before it was asked for:\n%s", screen)
	}
	s.Keys("Escape") // leave the composer: the newest message is selected
	// (and wait for it: an escape with a key right behind it reads as alt+key)
	s.WaitFor(10*time.Second, "▌ the ending")
	s.Keys("s")
	s.WaitFor(10*time.Second, "[spoiler: film plot] Rosebud is the sled")
	s.Keys("s")
	s.WaitGone(10*time.Second, "Rosebud")
	s.Keys("Escape")
	s.WaitGone(10*time.Second, "Write a message")
	screen, _ = s.WaitFor(10*time.Second, "the ending: [spoiler: film plot]")
	if strings.Contains(screen, "Rosebud") {
		t.Fatalf("the inbox preview gives the spoiler away:\n%s", screen)
	}
}

func lineWith(screen, text string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(ansi.Strip(l), text) {
			return l
		}
	}
	return ""
}

var sgrSeq = regexp.MustCompile(`^\x1b\[([0-9;:]*)m`)

// sgrAt returns the SGR state where text starts in a captured line:
// attribute numbers ("1" bold, "4" underline, "7" reverse) plus "fg"/"bg"
// with their colour; a reset clears them.
func sgrAt(line, text string) map[string]bool {
	at := strings.Index(ansi.Strip(line), text)
	on := map[string]bool{}
	if at < 0 {
		return on
	}
	visible := 0
	for i := 0; i < len(line); {
		if m := sgrSeq.FindStringSubmatch(line[i:]); m != nil {
			ps := strings.Split(m[1], ";")
			for k := 0; k < len(ps); k++ {
				switch n, _ := strconv.Atoi(ps[k]); {
				case ps[k] == "" || n == 0:
					on = map[string]bool{}
				case n == 38 || n == 48:
					key := map[int]string{38: "fg", 48: "bg"}[n]
					for c := range on {
						if strings.HasPrefix(c, key) {
							delete(on, c)
						}
					}
					take := 2
					if k+1 < len(ps) && ps[k+1] == "2" {
						take = 4
					}
					end := min(len(ps), k+1+take)
					on[key+strings.Join(ps[k+1:end], ";")] = true
					k = end - 1
				case n >= 30 && n <= 37 || n >= 90 && n <= 97:
					on["fg"+ps[k]] = true
				case n >= 40 && n <= 47 || n >= 100 && n <= 107:
					on["bg"+ps[k]] = true
				default:
					on[ps[k]] = true
				}
			}
			i += len(m[0])
			continue
		}
		if visible == at {
			return on
		}
		_, size := utf8.DecodeRuneInString(line[i:])
		visible += size // byte offsets, like strings.Index on the stripped line
		i += size
	}
	return on
}

func equalAttrs(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
