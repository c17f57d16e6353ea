package tui

import (
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"

	"polyglot/inbox"
)

// OwnNamer is the optional Core part that says how others name the user
// on each account (*inbox.Inbox has it): display name, local part, nick.
type OwnNamer interface {
	OwnNames() map[string][]string
}

// mentions finds the user's names in message text: per account, as whole
// words, case-insensitively.
type mentions struct {
	names     map[string][]string
	byAccount map[string]*regexp.Regexp
	any       *regexp.Regexp // for a message without an account
}

// setNames replaces the names; it says whether they changed.
func (mt *mentions) setNames(names map[string][]string) bool {
	if maps.EqualFunc(mt.names, names, slices.Equal[[]string]) {
		return false
	}
	mt.names = names
	mt.byAccount = map[string]*regexp.Regexp{}
	var all []string
	for a, ns := range names {
		mt.byAccount[a] = namePattern(ns)
		all = append(all, ns...)
	}
	mt.any = namePattern(all)
	return true
}

// namePattern matches any of names case-insensitively, the longest first
// ("Robin Fischer" before "Robin"); nil for no names.
func namePattern(names []string) *regexp.Regexp {
	var alts []string
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			alts = append(alts, regexp.QuoteMeta(n))
		}
	}
	if len(alts) == 0 {
		return nil
	}
	sort.Slice(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) })
	return regexp.MustCompile(`(?i)(?:` + strings.Join(alts, "|") + `)`)
}

func (mt *mentions) pattern(account string) *regexp.Regexp {
	if re, ok := mt.byAccount[account]; ok || account != "" {
		return re
	}
	return mt.any
}

// find returns the byte ranges of whole-word mentions in line.
func findMentions(re *regexp.Regexp, line string) [][2]int {
	if re == nil {
		return nil
	}
	var out [][2]int
	for from := 0; from < len(line); {
		loc := re.FindStringIndex(line[from:])
		if loc == nil {
			break
		}
		s, e := from+loc[0], from+loc[1]
		if e > s && wordEdge(line, s, e) {
			out = append(out, [2]int{s, e})
			from = e
			continue
		}
		// Not a whole word: look again one character on.
		_, size := utf8.DecodeRuneInString(line[s:])
		from = s + max(size, 1)
	}
	return out
}

// wordEdge says the text before s and after e does not continue a word.
func wordEdge(line string, s, e int) bool {
	inWord := func(r rune) bool {
		return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r)
	}
	if s > 0 {
		if r, _ := utf8.DecodeLastRuneInString(line[:s]); inWord(r) {
			return false
		}
	}
	if e < len(line) {
		if r, _ := utf8.DecodeRuneInString(line[e:]); inWord(r) {
			return false
		}
	}
	return true
}

// highlightLine draws one safe (sanitized) body line in base, with the
// user's names in the mention style.
func highlightLine(line string, re *regexp.Regexp, base, hi lipgloss.Style) string {
	ranges := findMentions(re, line)
	if len(ranges) == 0 {
		return base.Render(line)
	}
	var b strings.Builder
	at := 0
	for _, r := range ranges {
		if r[0] > at {
			b.WriteString(base.Render(line[at:r[0]]))
		}
		b.WriteString(hi.Render(line[r[0]:r[1]]))
		at = r[1]
	}
	if at < len(line) {
		b.WriteString(base.Render(line[at:]))
	}
	return b.String()
}

// mentionsIn says whether m's body names the user (for tests and views).
func (mt *mentions) mentionsIn(m inbox.Message) bool {
	return !m.Outgoing && len(findMentions(mt.pattern(m.Account), m.Body)) > 0
}

// bodyLine draws one wrapped line of m's plain body: someone else's
// message highlights the user's names for that account.
func (c *conversationView) bodyLine(m inbox.Message, line string, style lipgloss.Style) string {
	if m.Outgoing {
		return style.Render(line)
	}
	return highlightLine(line, c.env.mentions.pattern(m.Account), style, c.env.st.mention)
}
