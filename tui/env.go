package tui

import (
	"context"
	"github.com/muesli/termenv"
	"io"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"
	"github.com/rs/zerolog"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
)

// env is what every child shares: the core, the clock, the styles.
type env struct {
	core     Core
	accounts AccountsView
	control  AccountsControl
	verify   VerifyCore // nil: the core cannot verify keys
	// away: the terminal reported it lost focus, so what arrives on screen
	// is not read yet (no read receipt goes out).
	away bool
	ctx  context.Context
	log  zerolog.Logger
	now  func() time.Time
	page int
	st   *styles
	// drafts are the conversations' unsent texts.
	drafts *draftBook
	// demo: the core is the demo world (Options.Demo).
	demo bool
	// term writes control sequences (OSC 52) beside the renderer's frames;
	// nil without a terminal (tests).
	term io.Writer
	// mentions are the user's names per account, highlighted in messages.
	mentions mentions
	// remote: Options.Remote.
	remote bool
	// keys are this screen's bindings (Options.Keys); no other screen
	// shares them.
	keys *KeyMap
	// pics: how this screen draws pictures (Options.Images).
	pics *pictures
}

// newInput is a text input drawn by this screen's renderer: the widget's
// own styles come from lipgloss' process-wide default renderer, which
// knows another terminal's colours (or none) when the core serves this
// screen. Its cursor is steady: no blink ticks redrawing the screen.
func (e *env) newInput() textinput.Model {
	in := textinput.New()
	plain := e.st.t.Renderer().NewStyle()
	in.PromptStyle, in.TextStyle = plain, plain
	// The widget's own grey ignores NO_COLOR.
	in.PlaceholderStyle, in.CompletionStyle = e.st.dim, e.st.dim
	in.Cursor.Style, in.Cursor.TextStyle = plain, plain
	in.Cursor.SetMode(cursor.CursorStatic)
	return in
}

func newEnv(o Options) *env {
	e := &env{core: o.Core, accounts: o.Accounts, control: o.Control, ctx: o.Context, log: o.Logger, now: o.Now, page: o.PageSize,
		drafts: newDraftBook(o.Core), demo: o.Demo, term: o.Terminal, remote: o.Remote}
	e.verify, _ = o.Core.(VerifyCore)
	if e.accounts == nil && e.control != nil {
		e.accounts = e.control
	}
	if e.ctx == nil {
		e.ctx = context.Background()
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.page <= 0 {
		e.page = 50
	}
	e.st = newStyles(o.Theme)
	// NO_COLOR leaves the renderer ANSI for bold and reverse video; the
	// pictures get no colour.
	picProfile := e.st.t.Renderer().ColorProfile()
	if e.st.t.NoColor {
		picProfile = termenv.Ascii
	}
	e.pics = newPictures(o.Images, picProfile, o.Tmux)
	e.keys = o.Keys
	if e.keys == nil {
		k := defaultKeys()
		e.keys = &k
	}
	return e
}

// styles is the TUI's view of a theme: semantic roles only, plus the few
// chrome styles built from the theme's renderer so they follow its profile.
type styles struct {
	t *themes.Theme

	own, their, system, selected, unread, dim lipgloss.Style
	statusBar, errStyle, warn, title, request lipgloss.Style
	tabOn, tabOff, button, modal, typing      lipgloss.Style
	mention, divider                          lipgloss.Style
}

func newStyles(t *themes.Theme) *styles {
	if t == nil {
		var err error
		if t, err = themes.Builtin(themes.DefaultName, themes.EnvOptions()); err != nil {
			panic("tui: built-in theme missing: " + err.Error())
		}
	}
	r := t.Renderer()
	return &styles{
		t: t, own: t.Own, their: t.Their, system: t.System, selected: t.Selected,
		unread: t.Unread, dim: t.Dim, statusBar: t.StatusBar, errStyle: t.Error,
		warn: t.Warning, title: t.Title, request: t.Request,
		tabOn:  t.Selected.Bold(true),
		tabOff: t.Dim,
		// The three request choices share this one style: equal prominence.
		button: t.Text.Bold(true),
		modal: r.NewStyle().Border(lipgloss.RoundedBorder()).
			BorderForeground(t.Warning.GetForeground()).Padding(0, 1),
		typing:  t.Dim.Italic(true),
		mention: t.Mention, divider: t.Divider,
	}
}

func (s *styles) netAccent(n protocols.Network) lipgloss.Style { return s.t.Network(n) }

// netBadge is the network's two-letter tag in its accent, e.g. "MX".
func (s *styles) netBadge(n protocols.Network) string { return s.t.NetworkBadge(n) }

// enc is the encryption mark in its style, e.g. "E2EE✓".
func (s *styles) enc(e protocols.Encryption) string { return s.t.RenderEncryption(e) }

// delivery is the glyph of an own message's state, styled.
func (s *styles) delivery(st inbox.MessageState) string {
	d := deliveryOf(st)
	if d == 0 {
		return ""
	}
	return s.t.RenderDelivery(d)
}

func deliveryOf(st inbox.MessageState) themes.Delivery {
	switch st {
	case inbox.StateQueued:
		return themes.DeliveryQueued
	case inbox.StateSent:
		return themes.DeliverySent
	case inbox.StateDelivered:
		return themes.DeliveryDelivered
	case inbox.StateRead:
		return themes.DeliveryRead
	case inbox.StateFailed:
		return themes.DeliveryFailed
	}
	return 0
}
