package richtext

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"
	"github.com/muesli/termenv"

	"polyglot/internal/mxhtml"
	"polyglot/themes"
)

// plainStyles draw no attributes at all (markers on), like the golden
// frames; attrStyles are NO_COLOR on an ANSI terminal: attributes only, so
// every SGR parameter below is an attribute, never part of a colour.
func plainStyles(t *testing.T) *Styles {
	t.Helper()
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.Ascii)})
	if err != nil {
		t.Fatal(err)
	}
	return NewStyles(th, th.Their)
}

func attrStyles(t *testing.T) *Styles {
	t.Helper()
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.ANSI), NoColor: true})
	if err != nil {
		t.Fatal(err)
	}
	return NewStyles(th, th.Their)
}

func render(t *testing.T, src string, w int, st *Styles) []string {
	t.Helper()
	lines, err := Render(src, w, st, false)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return lines
}

var sgr = regexp.MustCompile(`\x1b\[([0-9;]*)m`)

// attrsOf returns the SGR attributes in effect where word first starts in
// line ("1" bold, "3" italic, "4" underline, "7" reverse, "9" strike).
func attrsOf(t *testing.T, line, word string) map[string]bool {
	t.Helper()
	at := strings.Index(ansi.Strip(line), word)
	if at < 0 {
		t.Fatalf("%q not in %q", word, ansi.Strip(line))
	}
	on := map[string]bool{}
	visible := 0
	for i := 0; i < len(line); {
		if m := sgr.FindStringSubmatchIndex(line[i:]); m != nil && m[0] == 0 {
			for _, p := range strings.Split(line[i+m[2]:i+m[3]], ";") {
				if p == "" || p == "0" {
					on = map[string]bool{}
				} else {
					on[p] = true
				}
			}
			i += m[1]
			continue
		}
		if visible == at {
			return on
		}
		visible++
		i++
	}
	return on
}

func codepointWidth(s string) int {
	n := 0
	for _, r := range ansi.Strip(s) {
		n += runewidth.RuneWidth(r)
	}
	return n
}

func strip(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = ansi.Strip(l)
	}
	return strings.Join(out, "\n")
}

func TestEachInlineStyleHasItsAttribute(t *testing.T) {
	st := attrStyles(t)
	for _, c := range []struct{ html, word, attr string }{
		{"<b>word</b>", "word", "1"},
		{"<strong>word</strong>", "word", "1"},
		{"<i>word</i>", "word", "3"},
		{"<em>word</em>", "word", "3"},
		{"<u>word</u>", "word", "4"},
		{"<del>word</del>", "word", "9"},
		{"<s>word</s>", "word", "9"},
		{"<strike>word</strike>", "word", "9"},
		{"<code>word</code>", "word", "7"}, // reverse without colour
		{`<a href="https://example.org">word</a>`, "word", "4"},
		{"<h2>word</h2>", "word", "1"},
	} {
		lines := render(t, "plain "+c.html, 80, st)
		if got := attrsOf(t, lines[len(lines)-1], c.word); !got[c.attr] {
			t.Errorf("%s: attributes %v, want SGR %s", c.html, got, c.attr)
		}
		if got := attrsOf(t, lines[0], "plain"); len(got) != 0 {
			t.Errorf("%s: the plain text before it carries %v", c.html, got)
		}
	}
}

func TestCodeHasColourInColourThemes(t *testing.T) {
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.TrueColor)})
	if err != nil {
		t.Fatal(err)
	}
	lines := render(t, "a <code>x</code>", 80, NewStyles(th, th.Their))
	if !strings.Contains(lines[0], "\x1b[") || !strings.Contains(lines[0], "48;2;") {
		t.Fatalf("inline code %q has no background colour", lines[0])
	}
}

func TestNestedStylesCombine(t *testing.T) {
	st := attrStyles(t)
	l := render(t, "<b>bold <i>both <u>all</u></i> again</b> none", 80, st)[0]
	want := map[string][]string{"bold": {"1"}, "both": {"1", "3"}, "all": {"1", "3", "4"}, "again": {"1"}}
	for word, attrs := range want {
		got := attrsOf(t, l, word)
		for _, a := range attrs {
			if !got[a] {
				t.Errorf("%q has %v, want %v", word, got, attrs)
			}
		}
		if len(got) != len(attrs) {
			t.Errorf("%q has %v, want exactly %v", word, got, attrs)
		}
	}
	if got := attrsOf(t, l, "none"); len(got) != 0 {
		t.Errorf("text after </b> carries %v", got)
	}
	// Mismatched end tags close what they enclose, as browsers do.
	l = render(t, "<b><i>x</b>y", 80, st)[0]
	if got := attrsOf(t, l, "y"); len(got) != 0 {
		t.Errorf("after </b> closing <i> too: %v", got)
	}
}

func TestWrapKeepsStyleAndWidth(t *testing.T) {
	st := attrStyles(t)
	src := "<b>" + strings.Repeat("bold words ", 12) + "</b> tail <i>👩🏽‍💻 日本語のテキスト 🇩🇪 emoji</i> " +
		"<code>" + strings.Repeat("x", 50) + "</code><blockquote>" + strings.Repeat("quoted ", 20) + "</blockquote>" +
		"<ul><li>" + strings.Repeat("item ", 20) + "</li></ul><pre>" + strings.Repeat("c", 70) + "</pre>"
	for _, w := range []int{1, 2, 5, 9, 17, 40} {
		lines := render(t, src, w, st)
		for i, l := range lines {
			if lipgloss.Width(l) > w || codepointWidth(l) > w {
				t.Fatalf("w=%d line %d is %d cells (%d by code point): %q", w, i, lipgloss.Width(l), codepointWidth(l), ansi.Strip(l))
			}
		}
		if w < 9 {
			continue
		}
		// Every line of the bold run is bold, not just the first.
		bold := 0
		for _, l := range lines {
			if strings.HasPrefix(ansi.Strip(l), "bold") {
				bold++
				if !attrsOf(t, l, "bold")["1"] {
					t.Fatalf("w=%d wrapped bold line lost bold: %q", w, l)
				}
			}
		}
		if bold < 2 {
			t.Fatalf("w=%d the bold run did not wrap: %q", w, strip(lines))
		}
	}
}

func TestBlocks(t *testing.T) {
	st := plainStyles(t)
	got := strip(render(t, `<h1>Title</h1><p>first para</p><p>second<br>line</p>`+
		`<blockquote>a quotation long enough to wrap</blockquote>`+
		`<ul><li>one</li><li>two<ol start="9"><li>nine</li><li>ten wraps onto another line</li></ol></li></ul>`+
		"<pre><code>func main() {\n\tif x {\n\t\treturn\n\t}\n}\n</code></pre><hr>end", 22, st))
	want := strings.Join([]string{
		"Title",
		"first para",
		"second",
		"line",
		"│ a quotation long",
		"│ enough to wrap",
		"• one",
		"• two",
		"  9. nine",
		"  10. ten wraps onto",
		"      another line",
		"```",
		"func main() {",
		"        if x {",
		"                return",
		"        }",
		"}",
		"```",
		strings.Repeat("─", 22),
		"end",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCodeBlockBreaksOnlyWhenWider(t *testing.T) {
	st := attrStyles(t)
	lines := render(t, "<pre>  ab cd ef gh\n"+strings.Repeat("z", 25)+"</pre>", 10, st)
	got := strip(lines)
	if got != "  ab cd ef\n gh\nzzzzzzzzzz\nzzzzzzzzzz\nzzzzz" {
		t.Fatalf("code block at 10 cells:\n%s", got)
	}
	for _, l := range lines {
		if !attrsOf(t, l, strings.TrimSpace(ansi.Strip(l))[:1])["7"] {
			t.Fatalf("code block line %q is not drawn as code", l)
		}
	}
	// At a width that holds it, nothing is re-wrapped.
	if got := strip(render(t, "<pre>  ab cd   ef gh</pre>", 40, st)); got != "  ab cd   ef gh" {
		t.Fatalf("code block re-flowed: %q", got)
	}
}

func TestLinks(t *testing.T) {
	st := attrStyles(t)
	for _, c := range []struct{ html, want string }{
		{`see <a href="https://example.org/x">the docs</a>.`, "see the docs (https://example.org/x)."},
		{`<a href="https://example.org">https://example.org</a>`, "https://example.org"},
		{`hi <a href="https://matrix.to/#/@bob:example.org">Bob</a>`, "hi Bob"},
		{`<a href="mailto:a@b.c">a@b.c</a>`, "a@b.c"},
		// A link whose text claims another address shows the real one.
		{`<a href="https://evil.example">https://bank.example</a>`, "https://bank.example (https://evil.example)"},
	} {
		lines := render(t, c.html, 80, st)
		if got := strip(lines); got != c.want {
			t.Errorf("%s: got %q, want %q", c.html, got, c.want)
		}
	}
	l := render(t, `<a href="https://example.org/x">docs</a>`, 80, st)[0]
	if a := attrsOf(t, l, "docs"); !a["4"] {
		t.Errorf("link text not underlined: %v", a)
	}
	if a := attrsOf(t, l, "https"); !a["2"] || a["4"] {
		t.Errorf("link target should be dim and not underlined: %v", a)
	}
}

func TestMarkersWithoutAttributes(t *testing.T) {
	st := plainStyles(t)
	got := strip(render(t, "run <code>make</code>, not <del>this</del>", 80, st))
	if got != "run `make`, not ~~this~~" {
		t.Fatalf("got %q", got)
	}
	// With attributes the markers are not needed.
	if got := strip(render(t, "run <code>make</code>", 80, attrStyles(t))); got != "run make" {
		t.Fatalf("with attributes: %q", got)
	}
}

func TestUnknownTagsAndAttributesAreIgnored(t *testing.T) {
	st := attrStyles(t)
	lines := render(t, `<font color="#f00" data-mx-bg-color="#000"><span style="x" onclick="evil()">hello</span></font> `+
		`<marquee>world</marquee> <img src="mxc://x/y" alt="cat">`, 80, st)
	if got := strip(lines); got != "hello world [cat]" {
		t.Fatalf("got %q", got)
	}
	if a := attrsOf(t, lines[0], "hello"); len(a) != 0 {
		t.Fatalf("attributes leaked into style: %v", a)
	}
}

func TestHostileDroppedContent(t *testing.T) {
	st := plainStyles(t)
	got := strip(render(t, `<mx-reply><blockquote>In reply to <b>old</b></blockquote></mx-reply>`+
		`answer<script>alert(1)</script><style>p{}</style><head><title>t</title></head><iframe>frame</iframe>!`, 80, st))
	if got != "answer!" {
		t.Fatalf("got %q", got)
	}
	// A self-closed script does not swallow what follows.
	if got := strip(render(t, `<script/>shown`, 80, st)); got != "shown" {
		t.Fatalf("got %q", got)
	}
}

func TestHostileEscapesAreInert(t *testing.T) {
	for _, st := range []*Styles{plainStyles(t), attrStyles(t)} {
		lines := render(t, "<b>\x1b]0;owned\x07\x1b[2Jred\u009b31m\u202Eevil</b> "+
			`<a href="https://x.example/&#x1b;[5m`+"\x1b]8;;http://y\x07"+`">link</a> &#27;[31m`, 80, st)
		for _, l := range lines {
			rest := sgr.ReplaceAllString(l, "") // the only escapes allowed are our own SGR
			if i := strings.IndexAny(rest, "\x1b\x07\u009b\u202E"); i >= 0 {
				t.Fatalf("raw control in %q", l)
			}
		}
		got := strip(lines)
		for _, want := range []string{"␛]0;owned␇␛[2Jred␦31mevil", "link (https://x.example/␛[5m␛]8;;http://y␇)", "␛[31m"} {
			if !strings.Contains(got, want) {
				t.Fatalf("%q lacks %q", got, want)
			}
		}
	}
}

func TestHostileLimitsFallBackFast(t *testing.T) {
	st := plainStyles(t)
	for _, c := range []struct {
		name string
		src  string
		want error
	}{
		{"1 MiB", "<b>" + strings.Repeat("a", 1<<20) + "</b>", ErrTooLarge},
		{"10000 deep", strings.Repeat("<b>", 10000) + "deep", ErrTooDeep},
		{"10000 deep and closed", strings.Repeat("<b>", 10000) + "deep" + strings.Repeat("</b>", 10000), ErrTooLarge},
		{"mixed deep", strings.Repeat("<blockquote><ul><li>", 30) + "x", ErrTooDeep},
		{"too much text", strings.Repeat("word ", MaxTextRunes/4), ErrTooMuch},
		{"nothing shown", "<mx-reply>only a fallback</mx-reply><script>x</script>", ErrEmpty},
		{"empty", "", ErrEmpty},
		{"only markup", "<p> </p><br><ul><li></li></ul>", ErrEmpty},
	} {
		start := time.Now()
		_, err := Render(c.src, 40, st, false)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v", c.name, d)
		}
	}
	// Just under the limits still renders.
	if _, err := Render(strings.Repeat("<i>", MaxDepth)+"deep", 40, st, false); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
}

func TestWhitespaceCollapses(t *testing.T) {
	st := plainStyles(t)
	got := strip(render(t, "<p>\n  a  \n <b> b </b>c\t d\n</p>\n<p>e</p>", 80, st))
	if got != "a b c d\ne" {
		t.Fatalf("got %q", got)
	}
}

// Inputs at the size limit shaped to hit every loop: each renders quickly.
func TestWorstCaseInputsStayFast(t *testing.T) {
	st := attrStyles(t)
	fill := func(unit string) string { return strings.Repeat(unit, (MaxHTMLBytes-64)/len(unit)) }
	for name, src := range map[string]string{
		"tabs in pre":       "<pre>" + fill("\t"),
		"tabs after text":   "<pre>" + fill("a\t"),
		"alternating style": fill("<b>x</b><i>y</i>"),
		"breaks":            fill("<br>"),
		"list items":        fill("<li>x"),
		"open links":        fill(`<a href="h">x`),
		"closed links":      fill(`<a href="https://e.org/">x</a>`),
		"end tags":          "<b>x" + fill("</i>"),
		"one long word":     fill("x"),
		"combining marks":   "x" + fill("\u0301"),
		"emoji":             fill("👩🏽‍💻"),
		"quotes":            fill("<blockquote>x</blockquote>"),
		"rules":             fill("<hr>"),
		"entities":          fill("&#x1b;"),
		"comments":          fill("<!-- x -->") + "shown",
	} {
		start := time.Now()
		lines, err := Render(src, 40, st, false)
		t.Logf("%s: %v, %d lines, err %v", name, time.Since(start), len(lines), err)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %v (err %v, %d lines)", name, d, err, len(lines))
		}
	}
}

// A spoiler's text stays off the screen until revealed; its reason (remote
// text) is shown sanitized and clamped, and hiding survives nesting and
// tags that would otherwise push containers or links.
func TestSpoilerHiddenUntilRevealed(t *testing.T) {
	st := plainStyles(t)
	src := "<p>the killer is <span data-mx-spoiler=\"film \x1b]0;x\x07 plot\">" +
		`the <a href="https://x.example/butler">butler</a> <b>himself</b></span>!</p>` +
		`<p><span data-mx-spoiler>plain secret</span></p>`
	hidden := strings.Join(render(t, src, 80, st), "\n")
	for _, leak := range []string{"butler", "himself", "plain secret", "\x1b"} {
		if strings.Contains(hidden, leak) {
			t.Fatalf("hidden spoiler shows %q:\n%s", leak, hidden)
		}
	}
	if !strings.Contains(hidden, "the killer is [spoiler: film ␛]0;x␇ plot]!") || !strings.Contains(hidden, "[spoiler]") {
		t.Fatalf("spoiler labels missing:\n%s", hidden)
	}
	shown, err := Render(src, 120, st, true)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(shown, "\n")
	if !strings.Contains(all, "[spoiler: film ␛]0;x␇ plot] the butler (https://x.example/butler) himself!") ||
		!strings.Contains(all, "[spoiler] plain secret") {
		t.Fatalf("revealed spoiler:\n%s", all)
	}
	long := `<span data-mx-spoiler="` + strings.Repeat("q", 500) + `">x</span>`
	if l := render(t, long, 200, st); len(l) != 1 || strings.Count(l[0], "q") > mxhtml.MaxSpoilerReason {
		t.Fatalf("a long reason is not clamped: %q", l)
	}
	// A message that is only a hidden spoiler still draws (not ErrEmpty).
	if l := render(t, `<span data-mx-spoiler>x</span>`, 40, st); len(l) != 1 || ansi.Strip(l[0]) != "[spoiler]" {
		t.Fatalf("spoiler-only message: %q", l)
	}
}

func TestMentionsKeepTheirStyleAcrossWraps(t *testing.T) {
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.TrueColor)})
	if err != nil {
		t.Fatal(err)
	}
	find := func(s string) [][2]int {
		i := strings.Index(s, "Ada Lovelace")
		if i < 0 {
			return nil
		}
		return [][2]int{{i, i + len("Ada Lovelace")}}
	}
	st := NewStyles(th, th.Their).WithMentions(find)
	lines, err := Render(`<p>hello <b>Ada</b> Lovelace, and <code>Ada Lovelace</code></p><pre>Ada Lovelace</pre>`, 10, st, false)
	if err != nil {
		t.Fatal(err)
	}
	hi := th.Mention.Render("Ada")
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "224;175;104") || !strings.Contains(all, strings.TrimSuffix(hi, "\x1b[0m")[:10]) {
		t.Fatalf("no mention style in %q", all)
	}
	// Both words of the name, on two lines, carry it; the code block not.
	n := 0
	for _, l := range lines {
		if strings.Contains(l, "224;175;104") {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("the name lost its style when wrapped: %q", lines)
	}
	if last := lines[len(lines)-1]; strings.Contains(last, "224;175;104") {
		t.Fatalf("a code block line is highlighted: %q", last)
	}
}
