package inbox

import (
	"fmt"
	"strings"
	"unicode"
)

// Snippet markers around matched terms in SearchHit.Snippet; the TUI turns
// them into highlight (they are not control characters, so a sanitizer
// leaves them alone).
const (
	SnippetOpen  = "«"
	SnippetClose = "»"
)

// ftsQuery turns user input into a safe FTS5 query: every term is a quoted
// string (so operators, quotes and column filters in the input are just
// text), terms are ANDed, and the last one matches as a prefix so results
// appear while typing. It returns "" when nothing searchable is left.
func ftsQuery(input string) string {
	var terms []string
	for _, t := range strings.Fields(input) {
		if !strings.ContainsFunc(t, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	if len(terms) == 0 {
		return ""
	}
	terms[len(terms)-1] += "*"
	return strings.Join(terms, " ")
}

// Search finds messages whose text matches every word of query (the last
// word as a prefix), newest first, at most limit. Deleted messages, system
// lines and blocked conversations never match.
func (in *Inbox) Search(query string, limit int) ([]SearchHit, error) {
	q := ftsQuery(query)
	if q == "" {
		return nil, nil
	}
	limit = clampLimit(limit)
	rows, err := in.db.Query(`SELECT `+msgCols+`, (SELECT title FROM conversations c WHERE c.id = conversation_id)
		FROM messages WHERE id IN (
			SELECT m.id FROM messages_fts f JOIN messages m ON m.id = f.rowid
			JOIN conversations c ON c.id = m.conversation_id
			WHERE messages_fts MATCH ? AND m.deleted = 0 AND c.hidden = 0
			ORDER BY m.at DESC, m.id DESC LIMIT ?)
		ORDER BY at DESC, id DESC`, q, limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: search: %w", err)
	}
	var hits []SearchHit
	for rows.Next() {
		var h SearchHit
		var sc = scanTail{dst: &h.Title}
		m, err := scanMessage(sc.wrap(rows))
		if err != nil {
			rows.Close()
			return nil, err
		}
		h.Message = m
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return nil, nil
	}
	// Snippets only for the page shown, not for every match.
	args := []any{SnippetOpen, SnippetClose, q}
	idx := map[MessageID]int{}
	for i, h := range hits {
		args = append(args, h.Message.ID)
		idx[h.Message.ID] = i
	}
	srows, err := in.db.Query(`SELECT rowid, snippet(messages_fts, 0, ?, ?, '…', 12) FROM messages_fts
		WHERE messages_fts MATCH ? AND rowid IN (?`+strings.Repeat(",?", len(hits)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("inbox: search snippets: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var id MessageID
		var s string
		if err := srows.Scan(&id, &s); err != nil {
			return nil, err
		}
		hits[idx[id]].Snippet = s
	}
	return hits, srows.Err()
}

// scanTail lets scanMessage read a row that carries extra trailing columns.
type scanTail struct{ dst *string }

type scanner interface{ Scan(...any) error }

type tailScanner struct {
	s   scanner
	dst *string
}

func (t scanTail) wrap(s scanner) scanner { return tailScanner{s: s, dst: t.dst} }

func (t tailScanner) Scan(dest ...any) error { return t.s.Scan(append(dest, t.dst)...) }
