package richtext

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"polyglot/themes"
)

// FuzzRender: whatever the HTML, rendering ends, every line fits the
// width under both ways of counting cells, and the only escape sequences
// on the lines are our own SGR styles.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"<b>bold <i>both</i></b> <code>x</code>",
		"<blockquote><ul><li>a<ol start=\"3\"><li>b\tc</li></ol></li></ul></blockquote>",
		"<pre>\n\tx\n  y</pre><hr><a href=\"\x1b]8;;x\x07\">l</a>",
		"<mx-reply>r</mx-reply>👩🏽‍💻 日本<br>\u202Eabc\u0301\u0301",
		"<script>x</script><p>\x9b31m</p>",
	} {
		f.Add(s, 20)
	}
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.ANSI256)})
	if err != nil {
		f.Fatal(err)
	}
	st := NewStyles(th, th.Their)
	f.Fuzz(func(t *testing.T, src string, w int) {
		w = 1 + (w&0xff)%120
		lines, err := Render(src, w, st, false)
		if err != nil {
			return
		}
		for _, l := range lines {
			if lipgloss.Width(l) > w || codepointWidth(l) > w {
				t.Fatalf("w=%d: line %q is %d/%d cells", w, l, lipgloss.Width(l), codepointWidth(l))
			}
			if i := strings.IndexAny(sgr.ReplaceAllString(l, ""), "\x1b\x07\u009b\u009d\r\n"); i >= 0 {
				t.Fatalf("raw control in %q", l)
			}
		}
	})
}

func BenchmarkRenderTypicalMessage(b *testing.B) {
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.TrueColor)})
	if err != nil {
		b.Fatal(err)
	}
	st := NewStyles(th, th.Their)
	src := `<p>Meet <b>at noon</b>, bring <code>notes.txt</code> and <em>tea</em>. See <a href="https://example.org/plan">the plan</a>.</p>` +
		`<blockquote>The engine weaves algebraic patterns just as the loom weaves flowers and leaves.</blockquote>` +
		"<ul><li>gears</li><li>cards</li></ul><pre><code>for i in 1..3:\n    print(i)\n</code></pre>"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(src, 76, st, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefuse1MiB(b *testing.B) {
	st := NewStyles(mustTheme(b), lipgloss.NewStyle())
	src := strings.Repeat("<b>x</b>", 1<<17)
	for b.Loop() {
		if _, err := Render(src, 76, st, false); err != ErrTooLarge {
			b.Fatal(err)
		}
	}
}

func mustTheme(b *testing.B) *themes.Theme {
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.Ascii)})
	if err != nil {
		b.Fatal(err)
	}
	return th
}
