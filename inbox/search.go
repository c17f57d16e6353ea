package inbox

import (
	"database/sql"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"polyglot/protocols"
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

// Search finds conversations whose name or address contains query
// (first, at most nameHits of them), then messages whose text matches
// every word of query (the last word as a prefix), newest first, at most
// limit hits in all. Text in scripts written without spaces (Chinese,
// Japanese, Thai, …) is found anywhere inside a word. Deleted messages,
// system lines and blocked conversations never match.
func (in *Inbox) Search(query string, limit int) ([]SearchHit, error) {
	limit = clampLimit(limit)
	// Two independent reads on two connections: side by side, the answer
	// takes as long as the slower one, not both.
	type result struct {
		hits []SearchHit
		err  error
	}
	names := make(chan result, 1)
	go func() {
		hits, err := in.searchNames(query, min(limit, nameHits))
		names <- result{hits, err}
	}()
	msgs, err := in.searchMessages(query, limit)
	n := <-names
	if n.err != nil {
		return nil, n.err
	}
	if err != nil {
		return nil, err
	}
	hits := append(n.hits, msgs...)
	return hits[:min(len(hits), limit)], nil
}

// nameHits bounds the conversations a search lists by name, so messages
// stay in view.
const nameHits = 8

// searchMessages is the message part of Search. Candidates are the most
// recently stored matches (FTS rowid order, which the index walks without
// sorting), so a common word costs the same on 1M messages as on 1k; they
// are then ordered by time.
func (in *Inbox) searchMessages(query string, limit int) ([]SearchHit, error) {
	if limit <= 0 {
		return nil, nil
	}
	if hasGrams(query) {
		// Only messages holding such text can match, and all of them are
		// in the character index, with their other words.
		q, parts := gramQuery(query, false)
		hits, err := in.search(gramIndex, q, parts, limit)
		if err != nil || len(hits) >= limit {
			return hits, err
		}
		if qp, _ := gramQuery(query, true); qp != q {
			return in.search(gramIndex, qp, parts, limit)
		}
		return hits, nil
	}
	// Whole words first: a prefix query on a common stem merges every
	// matching term's list, so it runs only when whole words find too few.
	hits, err := in.search(wordIndex, ftsQuery(query, false), nil, limit)
	if err != nil || len(hits) >= limit {
		return hits, err
	}
	return in.search(wordIndex, ftsQuery(query, true), nil, limit)
}

// The two full-text indexes: words (with snippets from FTS5) and the
// characters of scripts without spaces (contentless: snippets are made
// here from the message).
const (
	wordIndex = "messages_fts"
	gramIndex = "messages_grams"
)

func (in *Inbox) search(index, q string, parts []string, limit int) ([]SearchHit, error) {
	if q == "" {
		return nil, nil
	}
	// CROSS JOIN keeps SQLite from walking all messages in time order.
	rows, err := in.db.Query(`WITH hits(rid) AS MATERIALIZED (
			SELECT rowid FROM `+index+` WHERE `+index+` MATCH ? ORDER BY rowid DESC LIMIT ?)
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
		h.Message, h.Conversation = m, m.Conversation
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return nil, nil
	}
	if index == gramIndex {
		for i := range hits {
			hits[i].Snippet = snippetAround(hits[i].Message.Body, parts)
		}
		return hits, nil
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

// searchNames finds conversations, newest first, whose person's name, an
// identity's display name, address or phone number, or a group's name or
// address contains query (case-insensitive for ASCII). The hit names the
// field that matched, marked, in Snippet. A scan: people and rooms number
// thousands, not millions.
func (in *Inbox) searchNames(query string, limit int) ([]SearchHit, error) {
	query = strings.Join(strings.Fields(query), " ")
	if limit <= 0 || !strings.ContainsFunc(query, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return nil, nil
	}
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(query) + "%"
	// Each branch scans one small table (CROSS JOIN: from the matches to
	// their conversation, not the other way); pri orders the fields of one
	// conversation and Go keeps the first per conversation.
	rows, err := in.db.Query(`WITH m(cid, field, kind, network, pri) AS (
			SELECT id, title, 'name', '', 0 FROM conversations INDEXED BY conversations_groups
				WHERE kind = 2 AND title LIKE ?1 ESCAPE '\'
			UNION ALL SELECT c.id, p.name, 'name', '', 1 FROM people p CROSS JOIN conversations c ON c.person_id = p.id AND c.kind = 1
				WHERE p.name LIKE ?1 ESCAPE '\'
			UNION ALL SELECT c.id, CASE WHEN i.name LIKE ?1 ESCAPE '\' THEN i.name WHEN i.addr_id LIKE ?1 ESCAPE '\' THEN i.addr_id ELSE i.phone END,
				CASE WHEN i.name LIKE ?1 ESCAPE '\' THEN 'name' WHEN i.addr_id LIKE ?1 ESCAPE '\' THEN 'address' ELSE 'phone' END,
				i.network, 2 FROM identities i CROSS JOIN conversations c ON c.person_id = i.person_id AND c.kind = 1
				WHERE i.name LIKE ?1 ESCAPE '\' OR i.addr_id LIKE ?1 ESCAPE '\' OR i.phone LIKE ?1 ESCAPE '\'
			UNION ALL SELECT conversation_id, chat_id, 'address', network, 3 FROM chats INDEXED BY chats_groups
				WHERE grp = 1 AND chat_id LIKE ?1 ESCAPE '\')
		SELECT c.id, c.title, m.field, m.kind, m.network FROM m CROSS JOIN conversations c ON c.id = m.cid
		WHERE c.hidden = 0
		ORDER BY c.last_at DESC, c.id DESC, m.pri LIMIT ?2`, like, 4*limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: search names: %w", err)
	}
	defer rows.Close()
	var hits []SearchHit
	seen := map[ConversationID]bool{}
	for rows.Next() {
		var h SearchHit
		var field, network string
		if err := rows.Scan(&h.Conversation, &h.Title, &field, &h.NameKind, &network); err != nil {
			return nil, err
		}
		if seen[h.Conversation] || len(hits) == limit {
			continue
		}
		seen[h.Conversation] = true
		h.Name, h.Network = field, protocols.Network(network)
		h.Snippet = markAll(field, []string{query})
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

// snippetAround is the part of body around the first match of parts, the
// matches marked, clipped with "…", as FTS5's snippet() makes for words.
func snippetAround(body string, parts []string) string {
	const before, after = 30, 90 // bytes of context, extended to whole runes
	start, _ := firstMatch(body, parts)
	if start < 0 {
		start = 0
	}
	from, to := max(start-before, 0), min(start+after, len(body))
	for from > 0 && !utf8.RuneStart(body[from]) {
		from--
	}
	for to < len(body) && !utf8.RuneStart(body[to]) {
		to++
	}
	s := markAll(body[from:to], parts)
	if from > 0 {
		s = "…" + s
	}
	if to < len(body) {
		s += "…"
	}
	return s
}

// firstMatch is the byte offset and length of the first occurrence of any
// of parts in s (ASCII case folded), or -1.
func firstMatch(s string, parts []string) (int, int) {
	ls := asciiLower(s)
	best, n := -1, 0
	for _, p := range parts {
		if p == "" {
			continue
		}
		if i := strings.Index(ls, asciiLower(p)); i >= 0 && (best < 0 || i < best) {
			best, n = i, len(p)
		}
	}
	return best, n
}

// markAll puts the snippet markers around every occurrence of parts in s.
func markAll(s string, parts []string) string {
	var b strings.Builder
	for {
		i, n := firstMatch(s, parts)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(SnippetOpen)
		b.WriteString(s[i : i+n])
		b.WriteString(SnippetClose)
		s = s[i+n:]
	}
}

// asciiLower folds ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// OptimizeSearch merges the full-text index into one segment, so queries
// stop merging many small ones. It takes seconds on a large store; run it
// when idle (e.g. after a big history sync).
func (in *Inbox) OptimizeSearch() error {
	return in.write(func(tx *sql.Tx) error {
		for _, idx := range []string{wordIndex, gramIndex} {
			if _, err := tx.Exec(`INSERT INTO ` + idx + `(` + idx + `) VALUES ('optimize')`); err != nil {
				return fmt.Errorf("inbox: optimize search index: %w", err)
			}
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
