// Package mxhtml holds the small pieces of reading Matrix HTML
// (formatted_body) that both the Matrix connector (plain text for previews
// and notifications) and the TUI's rich-text renderer need, so the two
// agree: a tag's attributes and the stand-in for a spoiler.
package mxhtml

import (
	"strings"

	"golang.org/x/net/html"
)

// MaxAttrs is how many attributes of one tag are read; the rest are ignored.
const MaxAttrs = 16

// MaxSpoilerReason is how many runes of a spoiler's reason are kept.
const MaxSpoilerReason = 80

// Attrs reads the current tag's attributes (more is what TagName
// reported). A repeated name keeps its first value, as browsers do.
func Attrs(z *html.Tokenizer, more bool) map[string]string {
	if !more {
		return nil
	}
	a := map[string]string{}
	for n := 0; more && n < MaxAttrs; n++ {
		var k, v []byte
		k, v, more = z.TagAttr()
		if _, seen := a[string(k)]; !seen {
			a[string(k)] = string(v)
		}
	}
	return a
}

// SpoilerLabel stands in for a spoiler's hidden text: "[spoiler]", or
// "[spoiler: reason]" with the reason's white space collapsed and cut to
// MaxSpoilerReason runes. The reason is remote text: the caller sanitizes
// it before it reaches a terminal.
func SpoilerLabel(reason string) string {
	reason = strings.Join(strings.Fields(reason), " ")
	if reason == "" {
		return "[spoiler]"
	}
	if r := []rune(reason); len(r) > MaxSpoilerReason {
		reason = string(r[:MaxSpoilerReason]) + "…"
	}
	return "[spoiler: " + reason + "]"
}
