package matrix

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
)

func TestHTMLToText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"hello <strong>bob</strong>", "hello bob"},
		{"<p>one</p><p>two</p>", "one\ntwo"},
		{"a<br>b", "a\nb"},
		{"<ul><li>x</li><li>y</li></ul>", "• x\n• y"},
		{`<a href="https://example.org">site</a>`, "site (https://example.org)"},
		{`<a href="https://example.org">https://example.org</a>`, "https://example.org"},
		{"x<script>alert(1)</script>y", "xy"},
		{"<style>p{}</style>t", "t"},
		{"<mx-reply><blockquote>quoted</blockquote></mx-reply>answer", "answer"},
		{`<img alt="cat">`, "[cat]"},
		{"&lt;b&gt; &amp;", "<b> &"},
		{`it was <span data-mx-spoiler>the <b>butler</b></span>!`, "it was [spoiler]!"},
		{`<span data-mx-spoiler="  plot
 twist ">Rosebud</span> <a href="https://x" data-mx-spoiler>t</a>`, "[spoiler: plot twist] [spoiler]"},
	}
	for _, c := range cases {
		got, ok := htmlToText(c.in)
		if !ok || got != c.want {
			t.Errorf("htmlToText(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if _, ok := htmlToText(strings.Repeat("<div>", maxHTMLDepth+1) + "x"); ok {
		t.Error("nesting beyond the cap accepted")
	}
	if _, ok := htmlToText(strings.Repeat("<div>", maxHTMLDepth-1) + "x"); !ok {
		t.Error("nesting within the cap refused")
	}
	if _, ok := htmlToText(strings.Repeat("a", maxFormattedHTML+1)); ok {
		t.Error("oversized HTML accepted")
	}
}

func TestRenderBodyCapsAndNotices(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // 2 MiB of two-byte runes
	body, formatted, notice := renderBody(&event.MessageEventContent{MsgType: event.MsgText, Body: huge})
	if len(body) > maxBodyBytes || formatted != "" || !strings.Contains(notice, "cut") {
		t.Fatalf("len=%d notice=%q", len(body), notice)
	}
	if !strings.HasSuffix(body, "é") {
		t.Fatal("cut inside a rune")
	}
	body, formatted, notice = renderBody(&event.MessageEventContent{MsgType: event.MsgText, Body: "fallback",
		Format: event.FormatHTML, FormattedBody: strings.Repeat("<i>", 1000)})
	if body != "fallback" || formatted != "" || notice == "" {
		t.Fatalf("deep html: %q %q %q", body, formatted, notice)
	}
}

func FuzzHTMLToText(f *testing.F) {
	f.Add("<p>x<b>y</b></p><script>z</script>")
	f.Add(strings.Repeat("<a href='x'>", 70))
	f.Fuzz(func(t *testing.T, s string) {
		out, ok := htmlToText(s)
		if ok && len(out) > maxBodyBytes {
			t.Fatalf("output %d bytes", len(out))
		}
	})
}
