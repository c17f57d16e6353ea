package matrix

import (
	"strings"

	"golang.org/x/net/html"

	"polyglot/internal/mxhtml"
)

// Limits on what a peer can make us render. Matrix events are capped at
// 64 KiB by servers, but a hostile server or a huge body must not stall us.
const (
	maxBodyBytes     = 64 << 10 // longer bodies are cut with a notice
	maxFormattedHTML = 64 << 10 // longer HTML is dropped (plain body used)
	maxHTMLDepth     = 64       // deeper nesting is flattened to text
)

// htmlToText renders Matrix HTML (formatted_body) as plain terminal text:
// block tags become line breaks, list items get bullets, links keep their
// target, script/style/head content and reply fallbacks are dropped, and a
// spoiler becomes "[spoiler]" (with its reason) so previews and
// notifications never give it away.
// ok is false when the HTML is too big or too deep to trust; callers then
// fall back to the plain body. Control characters are left for the TUI's
// sanitizer: the core stores raw text.
func htmlToText(src string) (text string, ok bool) {
	if len(src) > maxFormattedHTML {
		return "", false
	}
	z := html.NewTokenizer(strings.NewReader(src))
	z.SetMaxBuf(maxFormattedHTML * 2)
	var b strings.Builder
	depth, skip := 0, 0 // skip counts open tags whose content is dropped
	var links []string  // pending hrefs of open <a>
	var linkText []int  // b.Len() at each <a> start
	newline := func() {
		s := b.String()
		if len(s) > 0 && !strings.HasSuffix(s, "\n") {
			b.WriteByte('\n')
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(collapseBlankLines(b.String())), true
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			void := tt == html.SelfClosingTagToken || isVoid(tag)
			if !void {
				depth++
				if depth > maxHTMLDepth {
					return "", false
				}
			}
			if skip > 0 {
				if !void {
					skip++
				}
				continue
			}
			a := mxhtml.Attrs(z, hasAttr)
			if reason, ok := a["data-mx-spoiler"]; ok && !void {
				b.WriteString(mxhtml.SpoilerLabel(reason))
				skip = 1
				continue
			}
			switch tag {
			case "script", "style", "head", "mx-reply", "title", "template", "noscript", "iframe", "object":
				if !void {
					skip = 1
				}
			case "br":
				b.WriteByte('\n')
			case "p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "hr":
				newline()
				if tag == "blockquote" {
					b.WriteString("> ")
				}
			case "li":
				newline()
				b.WriteString("• ")
			case "td", "th":
				b.WriteByte(' ')
			case "img":
				alt := a["alt"]
				if alt == "" {
					alt = "image"
				}
				b.WriteString("[" + alt + "]")
			case "a":
				links = append(links, a["href"])
				linkText = append(linkText, b.Len())
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if isVoid(tag) {
				continue
			}
			if depth > 0 {
				depth--
			}
			if skip > 0 {
				skip--
				continue
			}
			switch tag {
			case "p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "tr":
				newline()
			case "a":
				if n := len(links); n > 0 {
					href, start := links[n-1], linkText[n-1]
					links, linkText = links[:n-1], linkText[:n-1]
					shown := b.String()[start:]
					if href != "" && !strings.HasPrefix(href, "https://matrix.to/") && strings.TrimSpace(shown) != href {
						b.WriteString(" (" + href + ")")
					}
				}
			}
		}
		if b.Len() > maxBodyBytes {
			return "", false
		}
	}
}

func isVoid(tag string) bool {
	switch tag {
	case "br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr":
		return true
	}
	return false
}

func collapseBlankLines(s string) string {
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
