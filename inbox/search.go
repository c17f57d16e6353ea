package inbox

import (
	"database/sql"
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
func ftsQuery(input string, prefix bool) string {
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
	if prefix {
		terms[len(terms)-1] += "*"
	}
	return strings.Join(terms, " ")
}

// Search finds messages whose text matches every word of query (the last
// word as a prefix), newest first, at most limit. Deleted messages, system
// lines and blocked conversations never match. Candidates are the most
// recently stored matches (FTS rowid order, which the index walks without
// sorting), so a common word costs the same on 1M messages as on 1k; they
// are then ordered by time.
func (in *Inbox) Search(query string, limit int) ([]SearchHit, error) {
	limit = clampLimit(limit)
	// Whole words first: a prefix query on a common stem merges every
	// matching term's list, so it runs only when whole words find too few.
	hits, err := in.search(ftsQuery(query, false), limit)
	if err != nil || len(hits) >= limit {
		return hits, err
	}
	return in.search(ftsQuery(query, true), limit)
}

func (in *Inbox) search(q string, limit int) ([]SearchHit, error) {
	if q == "" {
		return nil, nil
	}
	// CROSS JOIN keeps SQLite from walking all messages in time order.
	rows, err := in.db.Query(`WITH hits(rid) AS MATERIALIZED (
			SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?)
		SELECT `+msgCols+`, (SELECT title FROM conversations c WHERE c.id = conversation_id)
		FROM hits CROSS JOIN messages ON messages.id = hits.rid
		WHERE deleted = 0 AND conversation_id NOT IN (SELECT id FROM conversations WHERE hidden = 1)
		ORDER BY at DESC, id DESC LIMIT ?`, q, 4*limit, limit)
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

// OptimizeSearch merges the full-text index into one segment, so queries
// stop merging many small ones. It takes seconds on a large store; run it
// when idle (e.g. after a big history sync).
func (in *Inbox) OptimizeSearch() error {
	return in.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO messages_fts(messages_fts) VALUES ('optimize')`)
		if err != nil {
			return fmt.Errorf("inbox: optimize search index: %w", err)
		}
		return nil
	})
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
