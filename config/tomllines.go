package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tomlDoc is config text cut into classified lines, just enough to edit it
// in place: which table each line belongs to, which key a line sets and
// where its value sits. It is not a TOML parser; the real decoder has
// already accepted the text, and whatever an edit produces is decoded again.
type tomlDoc struct {
	lines  []tomlLine
	blocks []tomlBlock // blocks[0] is the root table
	eol    string      // the file's usual line ending, for new lines
	// finalEOL is whether the text ended with a line break.
	finalEOL bool
}

type lineKind int

const (
	lineBlank lineKind = iota
	lineComment
	lineHeader
	lineKeyVal
	lineCont // inside a value that began on an earlier line
)

type tomlLine struct {
	text, eol string
	kind      lineKind
	// path is the table path of a header, or the (dotted) key of a
	// key/value line relative to its block, unquoted.
	path  []string
	array bool // header of an array of tables ([[...]])
	// valStart and valEnd bound a single-line value in text.
	valStart, valEnd int
	last             int // key/value: index of the value's last line
	block            int
}

type tomlBlock struct {
	path   []string
	array  bool
	header int // line index; -1 for the root table
	end    int // one past its last line
}

var errUnsupported = errors.New("unsupported layout")

// scanTOML classifies the lines of src. An error means the text uses a form
// the scanner does not follow; the caller then renders the file afresh.
func scanTOML(src string) (*tomlDoc, error) {
	d := &tomlDoc{blocks: []tomlBlock{{header: -1}}}
	crlf := 0
	for rest := src; rest != ""; {
		i := strings.IndexByte(rest, '\n')
		l := tomlLine{}
		if i < 0 {
			l.text, rest = rest, ""
		} else {
			l.text, l.eol, rest = rest[:i], "\n", rest[i+1:]
			d.finalEOL = rest == ""
			if strings.HasSuffix(l.text, "\r") {
				l.text, l.eol = l.text[:len(l.text)-1], "\r\n"
				crlf++
			}
		}
		d.lines = append(d.lines, l)
	}
	d.eol = "\n"
	if crlf*2 > len(d.lines) {
		d.eol = "\r\n"
	}
	texts := make([]string, len(d.lines))
	for i := range d.lines {
		texts[i] = d.lines[i].text
	}
	for i := 0; i < len(d.lines); i++ {
		l := &d.lines[i]
		t := strings.TrimLeft(l.text, " \t")
		l.block = len(d.blocks) - 1
		switch {
		case t == "":
			l.kind = lineBlank
		case t[0] == '#':
			l.kind = lineComment
		case t[0] == '[':
			path, array, err := parseHeader(t)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			d.blocks[len(d.blocks)-1].end = i
			d.blocks = append(d.blocks, tomlBlock{path: path, array: array, header: i})
			l.kind, l.path, l.array, l.block = lineHeader, path, array, len(d.blocks)-1
		default:
			pos := len(l.text) - len(t)
			path, p, err := parseKey(l.text, pos)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			p = skipSpace(l.text, p)
			if p >= len(l.text) || l.text[p] != '=' {
				return nil, fmt.Errorf("line %d: %w: no '=' after the key", i+1, errUnsupported)
			}
			p = skipSpace(l.text, p+1)
			c := cursor{lines: texts, l: i, c: p}
			if err := c.value(); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			if err := c.lineEnd(); err != nil {
				return nil, fmt.Errorf("line %d: %w", c.l+1, err)
			}
			l.kind, l.path, l.valStart, l.last = lineKeyVal, path, p, c.l
			if c.l == i {
				l.valEnd = c.valEnd
			}
			for j := i + 1; j <= c.l; j++ {
				d.lines[j].kind, d.lines[j].block = lineCont, l.block
			}
			i = c.l
		}
	}
	d.blocks[len(d.blocks)-1].end = len(d.lines)
	return d, nil
}

func parseHeader(t string) (path []string, array bool, err error) {
	p := 1
	if strings.HasPrefix(t, "[[") {
		array, p = true, 2
	}
	path, p, err = parseKey(t, skipSpace(t, p))
	if err != nil {
		return nil, false, err
	}
	p = skipSpace(t, p)
	closer := "]"
	if array {
		closer = "]]"
	}
	if !strings.HasPrefix(t[p:], closer) {
		return nil, false, fmt.Errorf("%w: table header", errUnsupported)
	}
	rest := strings.TrimLeft(t[p+len(closer):], " \t")
	if rest != "" && rest[0] != '#' {
		return nil, false, fmt.Errorf("%w: text after a table header", errUnsupported)
	}
	return path, array, nil
}

// parseKey reads a possibly dotted, possibly quoted key at s[p:].
func parseKey(s string, p int) ([]string, int, error) {
	var path []string
	for {
		p = skipSpace(s, p)
		if p >= len(s) {
			return nil, p, fmt.Errorf("%w: key expected", errUnsupported)
		}
		switch s[p] {
		case '"':
			end := closingQuote(s, p+1, '"', true)
			if end < 0 {
				return nil, p, fmt.Errorf("%w: unterminated quoted key", errUnsupported)
			}
			k, err := strconv.Unquote(s[p : end+1])
			if err != nil {
				return nil, p, fmt.Errorf("%w: quoted key: %v", errUnsupported, err)
			}
			path, p = append(path, k), end+1
		case '\'':
			end := closingQuote(s, p+1, '\'', false)
			if end < 0 {
				return nil, p, fmt.Errorf("%w: unterminated quoted key", errUnsupported)
			}
			path, p = append(path, s[p+1:end]), end+1
		default:
			q := p
			for q < len(s) && isBareKeyChar(s[q]) {
				q++
			}
			if q == p {
				return nil, p, fmt.Errorf("%w: key expected", errUnsupported)
			}
			path, p = append(path, s[p:q]), q
		}
		q := skipSpace(s, p)
		if q < len(s) && s[q] == '.' {
			p = q + 1
			continue
		}
		return path, p, nil
	}
}

func isBareKeyChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

func skipSpace(s string, p int) int {
	for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
		p++
	}
	return p
}

// closingQuote returns the index of the quote ending a string whose body
// starts at s[p:], or -1.
func closingQuote(s string, p int, q byte, escapes bool) int {
	for ; p < len(s); p++ {
		switch {
		case escapes && s[p] == '\\':
			p++
		case s[p] == q:
			return p
		}
	}
	return -1
}

// cursor walks a value that may span lines (multi-line strings, arrays).
type cursor struct {
	lines  []string
	l, c   int
	valEnd int // column just past the value on its last line
}

func (c *cursor) value() error {
	s := c.lines[c.l]
	if c.c >= len(s) {
		return fmt.Errorf("%w: missing value", errUnsupported)
	}
	switch {
	case strings.HasPrefix(s[c.c:], `"""`), strings.HasPrefix(s[c.c:], `'''`):
		if err := c.multiString(s[c.c]); err != nil {
			return err
		}
	case s[c.c] == '"' || s[c.c] == '\'':
		end := closingQuote(s, c.c+1, s[c.c], s[c.c] == '"')
		if end < 0 {
			return fmt.Errorf("%w: unterminated string", errUnsupported)
		}
		c.c = end + 1
	case s[c.c] == '[' || s[c.c] == '{':
		if err := c.nested(); err != nil {
			return err
		}
	default:
		for c.c < len(s) && s[c.c] != ' ' && s[c.c] != '\t' && s[c.c] != '#' && s[c.c] != ',' && s[c.c] != ']' && s[c.c] != '}' {
			c.c++
		}
	}
	c.valEnd = c.c
	return nil
}

func (c *cursor) multiString(q byte) error {
	delim := strings.Repeat(string(q), 3)
	c.c += 3
	for c.l < len(c.lines) {
		s := c.lines[c.l]
		for c.c < len(s) {
			switch {
			case q == '"' && s[c.c] == '\\':
				c.c += 2
			case strings.HasPrefix(s[c.c:], delim):
				c.c += 3
				// Up to two more quotes belong to the content.
				for n := 0; n < 2 && c.c < len(s) && s[c.c] == q; n++ {
					c.c++
				}
				return nil
			default:
				c.c++
			}
		}
		c.l, c.c = c.l+1, 0
	}
	return fmt.Errorf("%w: unterminated multi-line string", errUnsupported)
}

// nested walks an array or inline table to its closing bracket.
func (c *cursor) nested() error {
	depth := 0
	for c.l < len(c.lines) {
		s := c.lines[c.l]
		for c.c < len(s) {
			switch b := s[c.c]; {
			case b == '[' || b == '{':
				depth++
				c.c++
			case b == ']' || b == '}':
				depth--
				c.c++
				if depth == 0 {
					return nil
				}
			case b == '#':
				c.c = len(s)
			case b == '"' || b == '\'':
				if err := c.value(); err != nil {
					return err
				}
				s = c.lines[c.l]
			default:
				c.c++
			}
		}
		c.l, c.c = c.l+1, 0
	}
	return fmt.Errorf("%w: unterminated array or inline table", errUnsupported)
}

// lineEnd accepts only spaces and a comment after a value.
func (c *cursor) lineEnd() error {
	s := c.lines[c.l]
	p := skipSpace(s, c.c)
	if p < len(s) && s[p] != '#' {
		return fmt.Errorf("%w: text after a value", errUnsupported)
	}
	return nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlKey writes one key segment bare when it can be, quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyChar(k[i]) {
			return tomlString(k)
		}
	}
	return k
}

func tomlPath(path []string) string {
	parts := make([]string, len(path))
	for i, k := range path {
		parts[i] = tomlKey(k)
	}
	return strings.Join(parts, ".")
}
