package richtext

import (
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"polyglot/themes"
)

// Styles are the looks rich text is drawn with. Build them with NewStyles;
// they cache the combined style of each flag set, so reuse one value per
// theme and base style (not safe for concurrent use).
type Styles struct {
	base, code, link, quote, dim, mention lipgloss.Style
	markers                               bool
	combined                              map[flags]lipgloss.Style
	// mentions finds the user's names in a paragraph's text (byte
	// ranges); nil finds none.
	mentions func(string) [][2]int
}

// WithMentions is s drawing the ranges find returns in the theme's
// mention style (the user's own name); the style cache is shared.
func (s *Styles) WithMentions(find func(string) [][2]int) *Styles {
	c := *s
	c.mentions = find
	return &c
}

// NewStyles takes the rich-text roles from the theme; base is the style of
// ordinary text in the message (own or their).
func NewStyles(t *themes.Theme, base lipgloss.Style) *Styles {
	return &Styles{
		base: base, code: t.Code, link: t.Link, quote: t.Quote, dim: t.Dim, mention: t.Mention,
		markers:  t.Renderer().ColorProfile() == termenv.Ascii,
		combined: map[flags]lipgloss.Style{},
	}
}

// Markers reports whether code and strike-through are shown with visible
// markers because the renderer draws no attributes.
func (s *Styles) Markers() bool { return s.markers }

func (s *Styles) style(f flags) lipgloss.Style {
	if st, ok := s.combined[f]; ok {
		return st
	}
	st := s.base
	if f&fDim != 0 {
		st = apply(st, s.dim)
	}
	if f&fGutter != 0 {
		st = apply(st, s.quote)
	}
	if f&fCode != 0 {
		st = apply(st, s.code)
	}
	if f&fLink != 0 {
		st = apply(st, s.link)
	}
	if f&fMention != 0 {
		st = apply(st, s.mention)
	}
	if f&fBold != 0 {
		st = st.Bold(true)
	}
	if f&fItalic != 0 {
		st = st.Italic(true)
	}
	if f&fUnderline != 0 {
		st = st.Underline(true)
	}
	if f&fStrike != 0 {
		st = st.Strikethrough(true)
	}
	s.combined[f] = st
	return st
}

// apply lays src's colours and attributes over dst.
func apply(dst, src lipgloss.Style) lipgloss.Style {
	if c := src.GetForeground(); !isNoColor(c) {
		dst = dst.Foreground(c)
	}
	if c := src.GetBackground(); !isNoColor(c) {
		dst = dst.Background(c)
	}
	if src.GetBold() {
		dst = dst.Bold(true)
	}
	if src.GetItalic() {
		dst = dst.Italic(true)
	}
	if src.GetUnderline() {
		dst = dst.Underline(true)
	}
	if src.GetStrikethrough() {
		dst = dst.Strikethrough(true)
	}
	if src.GetReverse() {
		dst = dst.Reverse(true)
	}
	if src.GetFaint() {
		dst = dst.Faint(true)
	}
	return dst
}

func isNoColor(c lipgloss.TerminalColor) bool {
	_, none := c.(lipgloss.NoColor)
	return c == nil || none
}
