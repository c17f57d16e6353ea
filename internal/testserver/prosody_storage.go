package testserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StoredItem is one message Prosody keeps on disk for a user: a MAM archive
// item or an offline message waiting for delivery.
type StoredItem struct {
	Store string    // "archive" or "offline"
	Key   string    // archive id (the stanza-id the server gave it)
	With  string    // the other party, bare JID
	When  time.Time // when Prosody stored it
	XML   string    // the stanza as stored, serialised back to XML
}

// StoredItems reads every archive and offline item Prosody's internal
// storage holds for user@localhost, straight from the data directory
// (data/localhost/{archive,offline}/USER.list: one Lua call
// `item({...});` per stanza), so a test sees what the server keeps at rest:
// e.g. that an OMEMO message is stored as <encrypted
// xmlns="eu.siacs.conversations.axolotl"> and its plaintext nowhere. An item
// Prosody is still appending is left out; a missing file is no items.
func (p *Prosody) StoredItems(user string) []StoredItem {
	p.t.Helper()
	var items []StoredItem
	for _, store := range []string{"archive", "offline"} {
		path := filepath.Join(p.dir, "data", prosodyEncode(ProsodyDomain), store, prosodyEncode(user)+".list")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			p.t.Fatalf("testserver: read %s: %v", path, err)
		}
		got, err := parseProsodyList(store, string(b))
		if err != nil {
			p.t.Fatalf("testserver: %s: %v", path, err)
		}
		items = append(items, got...)
	}
	return items
}

// prosodyEncode is util.datamanager's encode: every byte but ASCII letters
// and digits as %xx.
func prosodyEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// parseProsodyList parses a list store file: `item(TABLE);` per entry. A
// final entry without its closing `);` (being written) is dropped.
func parseProsodyList(store, src string) ([]StoredItem, error) {
	var items []StoredItem
	lx := &luaLexer{src: src}
	for {
		lx.space()
		if lx.pos >= len(src) {
			return items, nil
		}
		if !strings.HasPrefix(src[lx.pos:], "item(") {
			return items, fmt.Errorf("offset %d: expected item(", lx.pos)
		}
		lx.pos += len("item(")
		v, err := lx.value()
		if err == nil {
			lx.space()
			if !strings.HasPrefix(src[lx.pos:], ");") {
				err = errors.New("expected );")
			}
		}
		if err != nil {
			if !strings.Contains(src[lx.pos:], "item(") {
				return items, nil // the last item, half written
			}
			return items, fmt.Errorf("offset %d: %v", lx.pos, err)
		}
		lx.pos += 2
		t, ok := v.(*luaTable)
		if !ok {
			return items, fmt.Errorf("offset %d: item is not a table", lx.pos)
		}
		it := StoredItem{Store: store, XML: stanzaXML(t)}
		it.Key, _ = t.hash["key"].(string)
		it.With, _ = t.hash["with"].(string)
		if when, ok := t.hash["when"].(float64); ok {
			it.When = time.Unix(0, int64(when*1e9))
		}
		items = append(items, it)
	}
}

// stanzaXML serialises a stanza as util.stanza preserialises it: name, attr
// and the children in the array part (strings are text).
func stanzaXML(t *luaTable) string {
	var b strings.Builder
	writeStanza(&b, t)
	return b.String()
}

func writeStanza(b *strings.Builder, t *luaTable) {
	name, _ := t.hash["name"].(string)
	b.WriteString("<" + name)
	if attr, ok := t.hash["attr"].(*luaTable); ok {
		keys := make([]string, 0, len(attr.hash))
		for k := range attr.hash {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, _ := attr.hash[k].(string)
			fmt.Fprintf(b, " %s=\"%s\"", k, xmlEscape(v))
		}
	}
	if len(t.arr) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	for _, c := range t.arr {
		switch c := c.(type) {
		case string:
			b.WriteString(xmlEscape(c))
		case *luaTable:
			writeStanza(b, c)
		}
	}
	b.WriteString("</" + name + ">")
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// luaTable is a Lua table as util.serialization writes it: an array part
// and string keys.
type luaTable struct {
	arr  []any
	hash map[string]any
}

// luaLexer reads the subset of Lua that util.serialization writes: tables,
// strings with its escapes, numbers, booleans, nil.
type luaLexer struct {
	src string
	pos int
}

func (lx *luaLexer) space() {
	for lx.pos < len(lx.src) && strings.IndexByte(" \t\r\n", lx.src[lx.pos]) >= 0 {
		lx.pos++
	}
}

func (lx *luaLexer) value() (any, error) {
	lx.space()
	if lx.pos >= len(lx.src) {
		return nil, errors.New("unexpected end")
	}
	switch c := lx.src[lx.pos]; {
	case c == '{':
		return lx.table()
	case c == '"' || c == '\'':
		return lx.str()
	case strings.HasPrefix(lx.src[lx.pos:], "true"):
		lx.pos += 4
		return true, nil
	case strings.HasPrefix(lx.src[lx.pos:], "false"):
		lx.pos += 5
		return false, nil
	case strings.HasPrefix(lx.src[lx.pos:], "nil"):
		lx.pos += 3
		return nil, nil
	default:
		start := lx.pos
		for lx.pos < len(lx.src) && strings.IndexByte("0123456789+-.eExXabcdefABCDEF", lx.src[lx.pos]) >= 0 {
			lx.pos++
		}
		n, err := strconv.ParseFloat(lx.src[start:lx.pos], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value %q", lx.src[start:lx.pos])
		}
		return n, nil
	}
}

func (lx *luaLexer) table() (*luaTable, error) {
	lx.pos++ // {
	t := &luaTable{hash: map[string]any{}}
	for {
		lx.space()
		if lx.pos >= len(lx.src) {
			return nil, errors.New("unterminated table")
		}
		switch lx.src[lx.pos] {
		case '}':
			lx.pos++
			return t, nil
		case ';', ',':
			lx.pos++
			continue
		}
		var key any
		if lx.src[lx.pos] == '[' { // [key] = value
			lx.pos++
			k, err := lx.value()
			if err != nil {
				return nil, err
			}
			lx.space()
			if !strings.HasPrefix(lx.src[lx.pos:], "]") {
				return nil, errors.New("expected ]")
			}
			lx.pos++
			key = k
		} else if k := lx.name(); k != "" { // name = value
			key = k
		}
		if key != nil {
			lx.space()
			if !strings.HasPrefix(lx.src[lx.pos:], "=") {
				return nil, errors.New("expected =")
			}
			lx.pos++
		}
		v, err := lx.value()
		if err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case nil:
			t.arr = append(t.arr, v)
		case string:
			t.hash[k] = v
		default:
			t.hash[fmt.Sprint(k)] = v
		}
	}
}

// name reads an unquoted key followed by "=" (not a keyword value).
func (lx *luaLexer) name() string {
	i := lx.pos
	for i < len(lx.src) && (lx.src[i] == '_' || lx.src[i] >= 'a' && lx.src[i] <= 'z' || lx.src[i] >= 'A' && lx.src[i] <= 'Z' || i > lx.pos && lx.src[i] >= '0' && lx.src[i] <= '9') {
		i++
	}
	j := i
	for j < len(lx.src) && strings.IndexByte(" \t\r\n", lx.src[j]) >= 0 {
		j++
	}
	if i == lx.pos || j >= len(lx.src) || lx.src[j] != '=' || strings.HasPrefix(lx.src[j:], "==") {
		return ""
	}
	name := lx.src[lx.pos:i]
	lx.pos = i
	return name
}

func (lx *luaLexer) str() (string, error) {
	q := lx.src[lx.pos]
	lx.pos++
	var b strings.Builder
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		lx.pos++
		switch {
		case c == q:
			return b.String(), nil
		case c != '\\':
			b.WriteByte(c)
		case lx.pos >= len(lx.src):
			return "", errors.New("unterminated string")
		default:
			e := lx.src[lx.pos]
			lx.pos++
			switch e {
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n', '\n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			case 'x':
				if lx.pos+2 > len(lx.src) {
					return "", errors.New("short \\x escape")
				}
				n, err := strconv.ParseUint(lx.src[lx.pos:lx.pos+2], 16, 8)
				if err != nil {
					return "", err
				}
				b.WriteByte(byte(n))
				lx.pos += 2
			default:
				if e >= '0' && e <= '9' { // \ddd, up to three decimal digits
					start := lx.pos - 1
					for lx.pos < len(lx.src) && lx.pos-start < 3 && lx.src[lx.pos] >= '0' && lx.src[lx.pos] <= '9' {
						lx.pos++
					}
					n, err := strconv.Atoi(lx.src[start:lx.pos])
					if err != nil || n > 255 {
						return "", fmt.Errorf("bad escape \\%s", lx.src[start:lx.pos])
					}
					b.WriteByte(byte(n))
				} else {
					b.WriteByte(e) // \\ \" \' and the rest stand for themselves
				}
			}
		}
	}
	return "", errors.New("unterminated string")
}
