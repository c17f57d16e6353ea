// Package themes holds the TUI's styles by meaning (network accents,
// encryption states, own and their messages, chrome) rather than by colour.
//
// Two themes are built in, "dark" (the default) and "light". A user theme
// is a TOML file CONFIGDIR/themes/NAME.toml that starts from a built-in
// (key base, default "dark") and overrides colours by semantic key:
//
//	base = "light"
//	[colors]
//	accent = "#005f87"      # "#rgb", "#rrggbb", an ANSI index "0".."255", or "" for the terminal default
//	[networks]
//	matrix = "#0dbd8b"
//	[encryption]
//	none = "9"
//	[delivery]
//	read = "#00afff"
//
// Keys are listed in Keys. With NO_COLOR (Options.NoColor) no colour is
// emitted at all; bold, faint, italic, underline and reverse remain so the
// selection, unread counts and warnings stay visible. Every mark that means
// something (encryption state, delivery state, network badge) is text, so
// it reads the same without colour.
package themes

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"polyglot/protocols"
)

// Delivery is the state of a message the user sent, as the theme draws it.
// (The TUI maps the core's message state onto it; themes does not import
// the core.)
type Delivery int

const (
	DeliveryQueued    Delivery = iota + 1 // stored, not yet on the network
	DeliverySent                          // server accepted it
	DeliveryDelivered                     // peer's device got it
	DeliveryRead                          // peer read it
	DeliveryFailed                        // gave up
)

// Glyphs are the marks drawn for states. Read and delivered share "✓✓";
// the read style (accent colour, and bold+underline without colour) tells
// them apart.
type Glyphs struct {
	Queued, Sent, Delivered, Read, Failed string
	// Encryption marks, indexed by protocols.Encryption.
	Enc [4]string
}

// UnicodeGlyphs is the default glyph set.
var UnicodeGlyphs = Glyphs{
	Queued: "◷", Sent: "✓", Delivered: "✓✓", Read: "✓✓", Failed: "✗",
	Enc: [4]string{"⚠ plain", "TLS", "E2EE", "E2EE✓"},
}

// ASCIIGlyphs is for terminals or fonts without those symbols.
var ASCIIGlyphs = Glyphs{
	Queued: "..", Sent: "v", Delivered: "vv", Read: "VV", Failed: "!!",
	Enc: [4]string{"! plain", "TLS", "E2EE", "E2EE+v"},
}

// Options say how styles are rendered.
type Options struct {
	// Renderer the styles render with; nil means EnvOptions' renderer on
	// stdout. Tests pass ForProfile(...) to get deterministic output.
	Renderer *lipgloss.Renderer
	// NoColor drops every colour (NO_COLOR).
	NoColor bool
	// ASCII selects ASCIIGlyphs.
	ASCII bool
	// LightBackground picks the "light" theme when none is configured.
	LightBackground bool
}

// ForProfile is a renderer with a fixed colour profile that writes
// nowhere: output depends only on the profile, never on the terminal.
func ForProfile(p termenv.Profile) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(p)
	r.SetHasDarkBackground(true)
	return r
}

// LightBackground says whether COLORFGBG ("fg;bg", as rxvt, Konsole and
// others set it) names a light background: as in Vim, background colours
// 7 and 9–15 are light, 0–6 and 8 dark; anything else is taken as dark.
func LightBackground(colorfgbg string) bool {
	fields := strings.Split(colorfgbg, ";")
	bg, err := strconv.Atoi(fields[len(fields)-1])
	return err == nil && len(fields) > 1 && (bg == 7 || bg >= 9 && bg <= 15)
}

// EnvOptions reads NO_COLOR and COLORFGBG and builds a renderer for stdout. lipgloss
// would treat NO_COLOR as "no attributes either", hiding the selection;
// here the terminal's own profile is kept for attributes and the theme
// simply sets no colours.
//
// Whether stdout is a terminal is decided by the terminal alone: termenv
// on its own also calls every process with CI set "not a terminal" and
// would draw a real terminal without any attribute.
func EnvOptions() Options {
	o := Options{NoColor: os.Getenv("NO_COLOR") != "", LightBackground: LightBackground(os.Getenv("COLORFGBG"))}
	tty := termenv.WithTTY(term.IsTerminal(int(os.Stdout.Fd())))
	r := lipgloss.NewRenderer(os.Stdout, tty)
	// Never ask the terminal for its background (build sets it from the
	// theme): a query answered late (load, SSH) lands in Bubble Tea's
	// input as typed text.
	r.SetHasDarkBackground(!o.LightBackground)
	if o.NoColor {
		p := termenv.NewOutput(os.Stdout, tty).ColorProfile() // ignores NO_COLOR
		if p != termenv.Ascii {
			p = termenv.ANSI
		}
		r.SetColorProfile(p)
	}
	o.Renderer = r
	return o
}

// Theme is a complete set of semantic styles. Build it with Load, LoadWith
// or Builtin; the zero value is not usable.
type Theme struct {
	Name    string
	NoColor bool
	Glyphs  Glyphs

	Text      lipgloss.Style // ordinary text
	Title     lipgloss.Style // pane and conversation titles
	Border    lipgloss.Style // its foreground is the border colour
	StatusBar lipgloss.Style
	Dim       lipgloss.Style // timestamps, secondary details
	Selected  lipgloss.Style // the highlighted row
	Unread    lipgloss.Style // unread-count badge
	Request   lipgloss.Style // a message request from an unknown address
	System    lipgloss.Style // system notices in a conversation
	Own       lipgloss.Style // the user's messages
	Their     lipgloss.Style // the other party's messages
	Error     lipgloss.Style
	Warning   lipgloss.Style

	// Rich text (Matrix HTML). Without colour code is reverse video and
	// links are underlined, so both still stand out from the text.
	Code  lipgloss.Style // inline code and code blocks
	Link  lipgloss.Style // link text
	Quote lipgloss.Style // the "│ " gutter of a quotation

	// Mention is the user's own name in someone's message (bold and
	// underlined without colour); Divider is the "new messages" line
	// where the unread part of a conversation starts.
	Mention lipgloss.Style
	Divider lipgloss.Style

	renderer   *lipgloss.Renderer
	networks   map[protocols.Network]lipgloss.Style
	accent     lipgloss.Style
	encryption [4]lipgloss.Style
	delivery   map[Delivery]lipgloss.Style
}

// Renderer is the renderer the theme's styles use; build extra styles from
// it (Renderer().NewStyle()) so they follow the same profile.
func (t *Theme) Renderer() *lipgloss.Renderer { return t.renderer }

// Network is the accent style of a network (unknown networks get the
// general accent).
func (t *Theme) Network(n protocols.Network) lipgloss.Style {
	if s, ok := t.networks[n]; ok {
		return s
	}
	return t.accent
}

// Badge is the two-letter tag of a network: "MX", "XM", "WA".
func Badge(n protocols.Network) string {
	switch n {
	case protocols.Matrix:
		return "MX"
	case protocols.XMPP:
		return "XM"
	case protocols.WhatsApp:
		return "WA"
	}
	b := []rune(string(n) + "??")
	return string([]rune{toUpper(b[0]), toUpper(b[1])})
}

func toUpper(r rune) rune {
	if r >= 'a' && r <= 'z' {
		return r - 'a' + 'A'
	}
	return r
}

// NetworkBadge is the network's badge in its accent style.
func (t *Theme) NetworkBadge(n protocols.Network) string {
	return t.Network(n).Render(Badge(n))
}

// Encryption is the style of an encryption state.
func (t *Theme) Encryption(e protocols.Encryption) lipgloss.Style {
	return t.encryption[clampEnc(e)]
}

// EncryptionMark is the short text of an encryption state ("⚠ plain",
// "TLS", "E2EE", "E2EE✓"); the four differ in text, not only in colour.
func (t *Theme) EncryptionMark(e protocols.Encryption) string {
	return t.Glyphs.Enc[clampEnc(e)]
}

// RenderEncryption is the mark in its style.
func (t *Theme) RenderEncryption(e protocols.Encryption) string {
	return t.Encryption(e).Render(t.EncryptionMark(e))
}

// clampEnc maps an out-of-range class to the weakest, never to a stronger
// one, so a bug cannot make a message look better protected.
func clampEnc(e protocols.Encryption) protocols.Encryption {
	if e < protocols.EncNone || e > protocols.EncE2EEVerified {
		return protocols.EncNone
	}
	return e
}

// DeliveryGlyph is the mark for a delivery state ("" for an unknown one).
func (t *Theme) DeliveryGlyph(d Delivery) string {
	switch d {
	case DeliveryQueued:
		return t.Glyphs.Queued
	case DeliverySent:
		return t.Glyphs.Sent
	case DeliveryDelivered:
		return t.Glyphs.Delivered
	case DeliveryRead:
		return t.Glyphs.Read
	case DeliveryFailed:
		return t.Glyphs.Failed
	}
	return ""
}

// Delivery is the style of a delivery state.
func (t *Theme) Delivery(d Delivery) lipgloss.Style {
	if s, ok := t.delivery[d]; ok {
		return s
	}
	return t.Dim
}

// RenderDelivery is the glyph in its style.
func (t *Theme) RenderDelivery(d Delivery) string {
	return t.Delivery(d).Render(t.DeliveryGlyph(d))
}

// BuiltinNames lists the built-in themes.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Builtin returns a built-in theme.
func Builtin(name string, o Options) (*Theme, error) {
	p, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("no built-in theme %q (have %v)", name, BuiltinNames())
	}
	return build(name, p, name != "light", o), nil
}

// build turns a palette into styles. dark says whether the palette is
// made for a dark background; the renderer's adaptive colours (the
// bubbles widgets' defaults) follow it, so nothing asks the terminal.
func build(name string, p palette, dark bool, o Options) *Theme {
	r := o.Renderer
	if r == nil {
		r = EnvOptions().Renderer
	}
	r.SetHasDarkBackground(dark)
	t := &Theme{Name: name, NoColor: o.NoColor, Glyphs: UnicodeGlyphs, renderer: r}
	if o.ASCII {
		t.Glyphs = ASCIIGlyphs
	}
	// fg and bg give a style a colour from the palette unless colours are
	// off; the attribute given for no-colour mode keeps meaning visible.
	style := func() lipgloss.Style { return r.NewStyle() }
	fg := func(s lipgloss.Style, key string) lipgloss.Style {
		if o.NoColor || p[key] == "" {
			return s
		}
		return s.Foreground(lipgloss.Color(p[key]))
	}
	bg := func(s lipgloss.Style, key string) lipgloss.Style {
		if o.NoColor || p[key] == "" {
			return s
		}
		return s.Background(lipgloss.Color(p[key]))
	}
	nc := o.NoColor

	t.Text = fg(style(), "colors.text")
	t.Title = fg(style().Bold(true), "colors.title")
	t.Border = fg(style(), "colors.border")
	t.StatusBar = bg(fg(style().Reverse(nc), "colors.status_fg"), "colors.status_bg")
	t.Dim = fg(style().Faint(nc), "colors.dim")
	t.Selected = bg(fg(style().Bold(true).Reverse(nc), "colors.selected_fg"), "colors.selected_bg")
	t.Unread = bg(fg(style().Bold(true).Reverse(nc), "colors.unread_fg"), "colors.unread_bg")
	t.Request = fg(style().Italic(true), "colors.request")
	t.System = fg(style().Italic(true), "colors.system")
	t.Own = fg(style(), "colors.own")
	t.Their = fg(style(), "colors.their")
	t.Error = fg(style().Bold(true), "colors.error")
	t.Warning = fg(style().Bold(nc), "colors.warning")
	t.accent = fg(style().Bold(true), "colors.accent")
	t.Code = bg(fg(style().Reverse(nc), "colors.code"), "colors.code_bg")
	t.Link = fg(style().Underline(true), "colors.link")
	t.Quote = fg(style().Faint(nc), "colors.quote")
	t.Mention = bg(fg(style().Bold(true).Underline(nc), "colors.mention_fg"), "colors.mention_bg")
	t.Divider = fg(style().Bold(true), "colors.divider")

	t.networks = map[protocols.Network]lipgloss.Style{}
	for _, n := range protocols.Networks {
		t.networks[n] = fg(style().Bold(true), "networks."+string(n))
	}
	t.encryption = [4]lipgloss.Style{
		fg(style().Bold(true), "encryption.none"),
		fg(style(), "encryption.transport"),
		fg(style(), "encryption.e2ee"),
		fg(style().Bold(true), "encryption.verified"),
	}
	t.delivery = map[Delivery]lipgloss.Style{
		DeliveryQueued:    fg(style().Faint(nc), "delivery.queued"),
		DeliverySent:      fg(style(), "delivery.sent"),
		DeliveryDelivered: fg(style(), "delivery.delivered"),
		DeliveryRead:      fg(style().Bold(true).Underline(nc), "delivery.read"),
		DeliveryFailed:    fg(style().Bold(true), "delivery.failed"),
	}
	return t
}
