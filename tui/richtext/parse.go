package richtext

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"

	"polyglot/internal/mxhtml"
	"polyglot/tui/sanitize"
)

// Limits on what a peer can make us parse. Servers cap events at 64 KiB;
// anything beyond these falls back to the plain body.
const (
	MaxHTMLBytes = 64 << 10 // larger HTML is refused unread
	MaxDepth     = 64       // deeper element nesting is refused
	MaxTextRunes = 16000    // more visible text is refused (the plain body is clamped instead)

	maxHrefRunes = 256 // a shown link target longer than this is cut
)

// Errors Parse returns; each means "draw the plain body".
var (
	ErrTooLarge = errors.New("richtext: HTML too large")
	ErrTooDeep  = errors.New("richtext: HTML nested too deep")
	ErrTooMuch  = errors.New("richtext: too much text")
	ErrEmpty    = errors.New("richtext: HTML shows no text")
)

// flags are the styles a span carries; they combine.
type flags uint16

const (
	fBold flags = 1 << iota
	fItalic
	fUnderline
	fStrike
	fCode
	fLink
	fDim     // link targets, image alternatives, markers
	fGutter  // the quotation gutter
	fMention // the user's own name (Styles.WithMentions)
)

// span is sanitized single-line text in one style.
type span struct {
	text string
	f    flags
}

// para is one logical line: wrapped to the width unless pre.
type para struct {
	first, cont []span // prefix of the first line and of wrapped lines
	spans       []span
	pre         bool // a code block line: keep spaces, break only when too wide
	rule        bool // <hr>: a line across the width
	prefixed    bool // first/cont are set
}

// Doc is parsed rich text, ready to render at any width.
type Doc struct {
	paras []para
}

// element is an open tag.
type element struct {
	tag       string
	f         flags
	skip      bool // content dropped
	pre       bool
	container bool // pushed a quote or list item
	list      bool // pushed a list
	link      bool // pushed a link
}

type container struct {
	quote  bool
	marker string // list item: "• " or "3. "
	used   bool   // the marker was drawn; later lines indent instead
}

type list struct {
	ordered bool
	next    int
}

type link struct {
	href string
	text strings.Builder
}

type parser struct {
	markers    bool
	reveal     bool
	paras      []para
	cur        para
	lastSpace  bool // cur ends in a space (or is empty): collapse the next
	stack      []element
	containers []container
	lists      []list
	links      []*link
	skip, pre  int
	preStart   bool // just after <pre>: its first newline is not content
	runes      int
	col        int  // cells on the current code block line (for tabs)
	shown      bool // some text (not only markers) was added
}

// Options change how Parse reads.
type Options struct {
	// Markers shows code and strike-through with visible markers (for
	// renderers without attributes); see the package doc.
	Markers bool
	// RevealSpoilers shows what data-mx-spoiler hides; by default only
	// "[spoiler]" (with the sender's reason) stands in its place.
	RevealSpoilers bool
}

// Parse reads Matrix HTML.
func Parse(src string, o Options) (*Doc, error) {
	if len(src) > MaxHTMLBytes {
		return nil, ErrTooLarge
	}
	z := html.NewTokenizer(strings.NewReader(src))
	z.SetMaxBuf(MaxHTMLBytes * 2)
	p := &parser{markers: o.Markers, reveal: o.RevealSpoilers, lastSpace: true}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			p.breakPara()
			if !p.shown {
				return nil, ErrEmpty
			}
			return &Doc{paras: p.paras}, nil
		case html.TextToken:
			if p.skip == 0 {
				p.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if err := p.start(z, string(name), hasAttr, tt == html.SelfClosingTagToken); err != nil {
				return nil, err
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			p.end(string(name))
		}
		if p.runes > MaxTextRunes {
			return nil, ErrTooMuch
		}
	}
}

func (p *parser) flags() flags {
	var f flags
	for _, e := range p.stack {
		f |= e.f
	}
	return f
}

func (p *parser) start(z *html.Tokenizer, tag string, hasAttr, selfClosing bool) error {
	void := selfClosing || isVoid(tag)
	if p.skip > 0 {
		if !void {
			return p.push(element{tag: tag, skip: true})
		}
		return nil
	}
	e := element{tag: tag}
	a := mxhtml.Attrs(z, hasAttr)
	if reason, ok := a["data-mx-spoiler"]; ok && !void && p.spoiler(reason) {
		return p.push(element{tag: tag, skip: true})
	}
	switch tag {
	case "script", "style", "head", "mx-reply", "title", "template", "noscript", "iframe", "object", "svg", "math", "textarea", "select":
		e.skip = true
	case "b", "strong":
		e.f = fBold
	case "i", "em", "cite", "var", "dfn":
		e.f = fItalic
	case "u", "ins":
		e.f = fUnderline
	case "del", "s", "strike":
		e.f = fStrike
		if p.markers {
			p.addRaw("~~", 0)
		}
	case "code", "kbd", "samp", "tt":
		if p.pre == 0 {
			e.f = fCode
			if p.markers {
				p.addRaw("`", 0)
			}
		}
	case "h1", "h2", "h3", "h4", "h5", "h6":
		p.breakPara()
		e.f = fBold
	case "a":
		href := a["href"]
		e.f, e.link = fLink, true
		p.links = append(p.links, &link{href: href})
	case "br":
		p.lineBreak()
	case "hr":
		p.breakPara()
		p.paras = append(p.paras, para{rule: true})
	case "img":
		alt := a["alt"]
		if strings.TrimSpace(alt) == "" {
			alt = "image"
		}
		p.addText("["+alt+"]", p.flags()|fDim)
		p.shown = true
	case "pre":
		p.breakPara()
		e.pre = true
		p.pre++
		p.preStart = true
		if p.markers {
			p.addRaw("```", fDim)
			p.breakPara()
		}
	case "blockquote":
		p.breakPara()
		e.container = true
		p.containers = append(p.containers, container{quote: true})
	case "ul", "ol":
		p.breakPara()
		e.list = true
		l := list{ordered: tag == "ol", next: 1}
		if n, err := strconv.Atoi(a["start"]); err == nil && n >= 0 && n < 1e6 {
			l.next = n
		}
		p.lists = append(p.lists, l)
	case "li":
		p.breakPara()
		marker := "• "
		if n := len(p.lists); n > 0 && p.lists[n-1].ordered {
			marker = strconv.Itoa(p.lists[n-1].next) + ". "
			p.lists[n-1].next++
		}
		e.container = true
		p.containers = append(p.containers, container{marker: marker})
	case "p", "div", "table", "tr", "caption", "details", "summary", "dl", "dt", "dd",
		"section", "article", "header", "footer", "figure", "figcaption", "address":
		p.breakPara()
	case "td", "th":
		if !p.lastSpace {
			p.addRaw(" ", 0)
		}
	}
	if void {
		// A self-closed container (<blockquote/>) opens nothing.
		if !e.skip {
			p.close(e)
		}
		return nil
	}
	return p.push(e)
}

func (p *parser) push(e element) error {
	if len(p.stack) >= MaxDepth {
		return ErrTooDeep
	}
	if e.skip {
		p.skip++
	}
	p.stack = append(p.stack, e)
	return nil
}

// end pops open elements up to the matching tag; an end tag with no open
// match is ignored (the tokenizer does not repair HTML).
func (p *parser) end(tag string) {
	for i := len(p.stack) - 1; i >= 0; i-- {
		if p.stack[i].tag != tag {
			continue
		}
		for len(p.stack) > i {
			e := p.stack[len(p.stack)-1]
			p.stack = p.stack[:len(p.stack)-1]
			p.close(e)
		}
		return
	}
}

// close undoes what opening e did.
func (p *parser) close(e element) {
	if e.skip {
		p.skip--
		return
	}
	if p.skip > 0 {
		return
	}
	switch e.tag {
	case "del", "s", "strike":
		if p.markers {
			p.addRaw("~~", 0)
		}
	case "code", "kbd", "samp", "tt":
		if e.f&fCode != 0 && p.markers {
			p.addRaw("`", 0)
		}
	case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "caption", "details",
		"summary", "dl", "dt", "dd", "section", "article", "header", "footer", "figure",
		"figcaption", "address":
		p.breakPara()
	}
	if e.link && len(p.links) > 0 {
		l := p.links[len(p.links)-1]
		p.links = p.links[:len(p.links)-1]
		if shown := hrefToShow(l.href, l.text.String()); shown != "" {
			p.addText(" ("+shown+")", fDim)
		}
	}
	if e.pre {
		p.pre--
		p.breakPara()
		if p.markers {
			p.addRaw("```", fDim)
			p.breakPara()
		}
	}
	if e.container {
		p.breakPara()
		p.containers = p.containers[:len(p.containers)-1]
	}
	if e.list {
		p.breakPara()
		p.lists = p.lists[:len(p.lists)-1]
	}
}

// hrefToShow is the link target to print after its text, or "" when the
// text already says it (or it is a Matrix mention/permalink).
func hrefToShow(href, text string) string {
	href = strings.TrimSpace(href)
	text = strings.TrimSpace(text)
	if href == "" || strings.HasPrefix(href, "https://matrix.to/") || href == text ||
		strings.TrimPrefix(href, "mailto:") == text {
		return ""
	}
	return sanitize.Clamp(href, maxHrefRunes)
}

// text adds a text token in the current style.
func (p *parser) text(s string) {
	if p.preStart && p.pre > 0 {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "\r"), "\n")
	}
	p.preStart = false
	if strings.TrimSpace(s) != "" {
		p.shown = true
	}
	for _, l := range p.links {
		if l.text.Len() < 4*maxHrefRunes {
			l.text.WriteString(s)
		}
	}
	if p.pre == 0 {
		p.addText(collapseSpace(s), p.flags())
		return
	}
	// A code block keeps its lines and indentation.
	f := p.flags() | fCode
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			p.lineBreak()
		}
		p.addPre(line, f)
	}
}

// addText adds collapsed inline text: a space at the start of a line or
// after another space is dropped.
func (p *parser) addText(s string, f flags) {
	if p.lastSpace {
		s = strings.TrimLeft(s, " ")
	}
	if s == "" {
		return
	}
	p.addRaw(s, f)
}

// addPre adds a code block line's text: tabs go to 8-column stops.
func (p *parser) addPre(s string, f flags) {
	for i, part := range strings.Split(s, "\t") {
		if i > 0 {
			p.addRaw(strings.Repeat(" ", 8-p.col%8), f)
		}
		if part != "" {
			p.addRaw(part, f)
		}
	}
}

// addRaw sanitizes s into the current paragraph.
func (p *parser) addRaw(s string, f flags) {
	s = sanitize.Inline(s)
	if s == "" {
		return
	}
	p.runes += utf8.RuneCountInString(s)
	p.prefix()
	p.cur.spans = append(p.cur.spans, span{text: s, f: f})
	p.lastSpace = strings.HasSuffix(s, " ")
	if p.pre > 0 {
		p.col += sanitize.Width(s)
	}
}

// prefix fixes the current paragraph's gutters and list markers from the
// open containers, once, when it gets its first content.
func (p *parser) prefix() {
	if p.cur.prefixed {
		return
	}
	p.cur.prefixed = true
	p.cur.pre = p.pre > 0
	for i := range p.containers {
		c := &p.containers[i]
		switch {
		case c.quote:
			p.cur.first = append(p.cur.first, span{"│ ", fGutter})
			p.cur.cont = append(p.cur.cont, span{"│ ", fGutter})
		case !c.used:
			c.used = true
			p.cur.first = append(p.cur.first, span{c.marker, 0})
			p.cur.cont = append(p.cur.cont, span{strings.Repeat(" ", utf8.RuneCountInString(c.marker)), 0})
		default:
			pad := span{strings.Repeat(" ", utf8.RuneCountInString(c.marker)), 0}
			p.cur.first = append(p.cur.first, pad)
			p.cur.cont = append(p.cur.cont, pad)
		}
	}
}

// breakPara ends the current paragraph if it holds anything.
func (p *parser) breakPara() {
	if len(p.cur.spans) > 0 {
		p.endPara()
	}
}

// lineBreak ends the current line even when empty (<br>, a code block's
// newline).
func (p *parser) lineBreak() {
	p.prefix()
	p.endPara()
}

func (p *parser) endPara() {
	// Trailing spaces carry no meaning outside code blocks.
	if !p.cur.pre {
		for n := len(p.cur.spans); n > 0; n = len(p.cur.spans) {
			t := strings.TrimRight(p.cur.spans[n-1].text, " ")
			if t != "" {
				p.cur.spans[n-1].text = t
				break
			}
			p.cur.spans = p.cur.spans[:n-1]
		}
	}
	p.paras = append(p.paras, p.cur)
	p.cur = para{}
	p.lastSpace = true
	p.col = 0
}

// collapseSpace turns every run of HTML white space into one space.
func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '\f':
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// spoiler handles a tag with data-mx-spoiler: hidden (the result is true)
// it stands as "[spoiler]" or "[spoiler: reason]" and its content is
// dropped; revealed, the same label (dimmed) leads the content.
func (p *parser) spoiler(reason string) (hidden bool) {
	label := mxhtml.SpoilerLabel(reason) // addText sanitizes it
	p.shown = true
	if p.reveal {
		p.addText(label+" ", fDim)
		return false
	}
	p.addText(label, p.flags()|fDim)
	return true
}

func isVoid(tag string) bool {
	switch tag {
	case "br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr", "param":
		return true
	}
	return false
}
