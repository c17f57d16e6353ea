package themes

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"polyglot/protocols"
)

var reverse = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m`)

var sgr = regexp.MustCompile(`\x1b\[([0-9;]*)m`)

// colourSGR reports SGR parameters that set a colour (30–49, 90–107).
func colourSGR(s string) []string {
	var found []string
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.Split(m[1], ";") {
			if len(p) == 2 && (p[0] == '3' || p[0] == '4' || p[0] == '9') || len(p) == 3 && p[0] == '1' && p[1] == '0' {
				found = append(found, m[0])
			}
		}
	}
	return found
}

func opts(noColor bool) Options {
	return Options{Renderer: ForProfile(termenv.TrueColor), NoColor: noColor}
}

// everything renders each style of t once.
func everything(t *Theme) []string {
	out := []string{}
	for _, s := range []lipgloss.Style{
		t.Text, t.Title, t.Border, t.StatusBar, t.Dim, t.Selected, t.Unread,
		t.Request, t.System, t.Own, t.Their, t.Error, t.Warning,
		t.Code, t.Link, t.Quote, t.Mention, t.Divider,
	} {
		out = append(out, s.Render("x"))
	}
	for _, n := range protocols.Networks {
		out = append(out, t.NetworkBadge(n))
	}
	for _, e := range protocols.Encryptions {
		out = append(out, t.RenderEncryption(e))
	}
	for d := DeliveryQueued; d <= DeliveryFailed; d++ {
		out = append(out, t.RenderDelivery(d))
	}
	return out
}

func TestBuiltinsHaveColour(t *testing.T) {
	for _, name := range BuiltinNames() {
		th, err := LoadWith(name, "", opts(false))
		if err != nil {
			t.Fatal(err)
		}
		if got := th.NetworkBadge(protocols.Matrix); len(colourSGR(got)) == 0 {
			t.Errorf("%s: matrix badge %q has no colour", name, got)
		}
		if got := th.Selected.Render("row"); len(colourSGR(got)) == 0 {
			t.Errorf("%s: selection %q has no colour", name, got)
		}
	}
}

func TestNoColorHasNoColourButKeepsAttributes(t *testing.T) {
	for _, name := range BuiltinNames() {
		th, err := LoadWith(name, "", opts(true))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range everything(th) {
			if c := colourSGR(s); len(c) > 0 {
				t.Errorf("%s: NO_COLOR output %q has colour codes %q", name, s, c)
			}
		}
		sel := th.Selected.Render("row")
		if !reverse.MatchString(sel) {
			t.Errorf("%s: NO_COLOR selection %q is not reverse video", name, sel)
		}
		if th.Selected.Render("row") == th.Text.Render("row") {
			t.Errorf("%s: selected row looks like plain text", name)
		}
		for role, st := range map[string]lipgloss.Style{"code": th.Code, "link": th.Link} {
			if st.Render("x") == th.Text.Render("x") {
				t.Errorf("%s: NO_COLOR %s looks like plain text", name, role)
			}
		}
		if th.RenderDelivery(DeliveryRead) == th.RenderDelivery(DeliveryDelivered) {
			t.Errorf("%s: read and delivered look the same without colour", name)
		}
	}
}

func TestEnvOptionsReadsNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if !EnvOptions().NoColor {
		t.Error("NO_COLOR=1 not honoured")
	}
	t.Setenv("NO_COLOR", "")
	if EnvOptions().NoColor {
		t.Error("empty NO_COLOR must not disable colour")
	}
}

func TestMarksDistinguishableWithoutColour(t *testing.T) {
	for _, g := range []Glyphs{UnicodeGlyphs, ASCIIGlyphs} {
		seen := map[string]bool{}
		for _, m := range g.Enc {
			if seen[m] || m == "" {
				t.Errorf("encryption mark %q repeated or empty", m)
			}
			seen[m] = true
		}
	}
	th, _ := LoadWith("dark", "", opts(false))
	if got := th.EncryptionMark(protocols.EncE2EEVerified); got != "E2EE✓" {
		t.Errorf("verified mark = %q", got)
	}
	if got := th.EncryptionMark(protocols.Encryption(42)); got != "⚠ plain" {
		t.Errorf("unknown encryption class must look weakest, got %q", got)
	}
	for n, want := range map[protocols.Network]string{protocols.Matrix: "MX", protocols.XMPP: "XM", protocols.WhatsApp: "WA", "signal": "SI"} {
		if Badge(n) != want {
			t.Errorf("Badge(%s) = %q, want %q", n, Badge(n), want)
		}
	}
	ascii, _ := LoadWith("dark", "", Options{Renderer: ForProfile(termenv.TrueColor), ASCII: true})
	for d := DeliveryQueued; d <= DeliveryFailed; d++ {
		for _, r := range ascii.DeliveryGlyph(d) + ascii.EncryptionMark(protocols.EncNone) {
			if r > 0x7e {
				t.Errorf("ASCII glyphs contain %q", r)
			}
		}
	}
	if th.DeliveryGlyph(DeliveryQueued) != "◷" || th.DeliveryGlyph(DeliveryFailed) != "✗" {
		t.Error("unicode delivery glyphs wrong")
	}
}

func writeTheme(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "themes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "themes", name+".toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUserThemeOverridesBySemanticKey(t *testing.T) {
	dir := writeTheme(t, "mine", `# my theme
base = "light"

[networks]
matrix = "#ff0000"

[encryption]
none = "196"
`)
	th, err := LoadWith("mine", dir, opts(false))
	if err != nil {
		t.Fatal(err)
	}
	if th.Name != "mine" {
		t.Errorf("name %q", th.Name)
	}
	if got := th.NetworkBadge(protocols.Matrix); !strings.Contains(got, "38;2;255;0;0") {
		t.Errorf("matrix badge %q does not use the user's #ff0000", got)
	}
	light, _ := LoadWith("light", "", opts(false))
	if th.NetworkBadge(protocols.XMPP) != light.NetworkBadge(protocols.XMPP) {
		t.Error("keys not in the file must come from the base theme")
	}
	if got := th.RenderEncryption(protocols.EncNone); !strings.Contains(got, "⚠ plain") {
		t.Errorf("mark lost: %q", got)
	}
	if names := Available(dir); strings.Join(names, ",") != "dark,light,mine" {
		t.Errorf("Available = %v", names)
	}
}

func TestThemeFileErrorsNamePlace(t *testing.T) {
	cases := []struct {
		name, body, want string
		line, col        int
	}{
		{"syntax", "base = \"dark\"\n[colors\naccent = \"#fff\"\n", "", 2, 0},
		{"bad colour", "[colors]\n\naccent =   \"blue-ish\"\n", "invalid colour", 3, 12},
		{"unknown key", "[colors]\naccent = \"#fff\"\naccnet = \"#000\"\n", `unknown key "accnet"`, 3, 10},
		{"unknown table", "[colours]\naccent = \"#fff\"\n", `unknown key "colours"`, 1, 2},
		{"bad base", "base = \"solarized\"\n", "not a built-in", 1, 8},
		{"dotted key", "colors.own = \"300\"\n", "invalid colour", 1, 14},
		{"wrong type", "[colors]\naccent = 5\n", "must be a quoted string", 2, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTheme(t, "bad", c.body)
			_, err := LoadWith("bad", dir, opts(false))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FileError", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, "themes", "bad.toml")) {
				t.Errorf("error %q does not name the file", err)
			}
			if !strings.Contains(fe.Msg, c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if c.line > 0 && fe.Line != c.line {
				t.Errorf("line = %d, want %d (%v)", fe.Line, c.line, err)
			}
			if c.col > 0 && fe.Col != c.col {
				t.Errorf("col = %d, want %d (%v)", fe.Col, c.col, err)
			}
			t.Log(err)
		})
	}
}

func TestLoadNames(t *testing.T) {
	th, err := LoadWith("", "", opts(false))
	if err != nil || th.Name != "dark" {
		t.Fatalf("default theme: %v %v", th, err)
	}
	if _, err := LoadWith("../../etc/passwd", t.TempDir(), opts(false)); err == nil {
		t.Error("path in theme name accepted")
	}
	_, err = LoadWith("nope", t.TempDir(), opts(false))
	if err == nil || !strings.Contains(err.Error(), "dark") {
		t.Errorf("missing theme error %v should list available themes", err)
	}
	// A user file may replace a built-in name.
	dir := writeTheme(t, "dark", "[colors]\nown = \"#010203\"\n")
	th, err = LoadWith("dark", dir, opts(false))
	if err != nil || !strings.Contains(th.Own.Render("me"), "38;2;1;2;3") {
		t.Errorf("user dark.toml not used: %v", err)
	}
}

func TestProfileDownsampling(t *testing.T) {
	th, _ := LoadWith("dark", "", Options{Renderer: ForProfile(termenv.ANSI256)})
	if got := th.NetworkBadge(protocols.WhatsApp); !strings.Contains(got, "38;5;") {
		t.Errorf("ANSI256 profile gave %q", got)
	}
}

func TestLightBackgroundFromCOLORFGBG(t *testing.T) {
	for v, want := range map[string]bool{
		"0;15": true, "0;7": true, "0;default;15": true, "15;0": false, "7;8": false,
		"15;default;0": false, "": false, "15": false, "0;default": false, "0;16": false,
	} {
		if got := LightBackground(v); got != want {
			t.Errorf("LightBackground(%q) = %v, want %v", v, got, want)
		}
	}
}

// With no theme configured a light terminal gets the light theme, and the
// renderer's adaptive colours follow the theme, never a terminal query.
func TestDefaultThemeFollowsBackground(t *testing.T) {
	o := opts(false)
	o.LightBackground = true
	th, err := LoadWith("", "", o)
	if err != nil || th.Name != "light" || th.Renderer().HasDarkBackground() {
		t.Fatalf("light terminal: theme %v, dark renderer %v, %v", th.Name, th.Renderer().HasDarkBackground(), err)
	}
	// A configured theme wins over the terminal.
	if th, err = LoadWith("dark", "", o); err != nil || th.Name != "dark" || !th.Renderer().HasDarkBackground() {
		t.Fatalf("configured dark: theme %v, dark renderer %v, %v", th.Name, th.Renderer().HasDarkBackground(), err)
	}
	dir := writeTheme(t, "paper", "base = \"light\"\n")
	if th, err = LoadWith("paper", dir, opts(false)); err != nil || th.Renderer().HasDarkBackground() {
		t.Fatalf("user theme on light base: dark renderer %v, %v", th.Renderer().HasDarkBackground(), err)
	}
}
