package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scripts written without spaces between words (Chinese, Japanese, Thai,
// …) are one long token to the word index, so "会議" would not find
// "明日の会議". Messages holding such text get a second index,
// messages_grams, whose text this file makes: every character of those
// scripts as a token (column u, for one-character queries) and every pair
// of neighbours (column g, queried as a phrase of consecutive pairs, so a
// query of any length matches exactly the substrings), plus the message's
// other words (column w) so a query mixing scripts runs on one index.
// Bigrams rather than the FTS5 trigram tokenizer: most Chinese and
// Japanese words are two characters, which trigrams cannot find.

// gramRanges are the scripts indexed by character. Hangul is spaced, but
// particles attach to words (회의를), so it is indexed the same way.
var gramRanges = [][2]rune{
	{0x0E00, 0x0E7F},   // Thai
	{0x0E80, 0x0EFF},   // Lao
	{0x0F00, 0x0FFF},   // Tibetan
	{0x1000, 0x109F},   // Myanmar
	{0x1780, 0x17FF},   // Khmer
	{0x3005, 0x3007},   // 々〆〇
	{0x3041, 0x309F},   // Hiragana
	{0x30A1, 0x30FF},   // Katakana
	{0x31F0, 0x31FF},   // Katakana phonetic extensions
	{0x3400, 0x4DBF},   // CJK extension A
	{0x4E00, 0x9FFF},   // CJK unified ideographs
	{0xAC00, 0xD7A3},   // Hangul syllables
	{0xF900, 0xFAFF},   // CJK compatibility ideographs
	{0xFF66, 0xFF9F},   // halfwidth Katakana
	{0x20000, 0x323AF}, // CJK extensions B–H
}

// gramGlob is an SQL GLOB pattern true for any text holding a character of
// gramRanges. Migration 7 wrote it into the triggers that remove index rows
// (as gramGlob7), so they skip messages that were never indexed.
var gramGlob = func() string {
	var b strings.Builder
	b.WriteString("*[")
	for _, r := range gramRanges {
		b.WriteRune(r[0])
		b.WriteByte('-')
		b.WriteRune(r[1])
	}
	b.WriteString("]*")
	return b.String()
}()

// gramRune says whether r is indexed by character: in gramRanges and a
// letter, mark or digit (punctuation inside those blocks separates, as it
// does for the tokenizer).
func gramRune(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	for _, g := range gramRanges {
		if r < g[0] {
			return false
		}
		if r <= g[1] {
			return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r)
		}
	}
	return false
}

// hasGrams says whether text needs the character index.
func hasGrams(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < 0xE0 { // ASCII and 2-byte UTF-8 are below U+0E00
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if gramRune(r) {
			return true
		}
		i += n
	}
	return false
}

// gramSep separates runs in column g, so the last pair of one run and the
// first of the next are not neighbours a phrase could match across. It is
// never a pair itself.
const gramSep = "0"

// gramText is what messages_grams indexes for body: other words (only
// letters, marks and digits, the rest spaces), each character of the
// gram scripts, and each pair of neighbours.
func gramText(body string) (w, u, g string) {
	var wb, ub, gb strings.Builder
	var prev rune // previous rune of the current run; 0: none
	for _, r := range body {
		switch {
		case gramRune(r):
			wb.WriteByte(' ')
			ub.WriteRune(r)
			ub.WriteByte(' ')
			if prev != 0 {
				gb.WriteRune(prev)
				gb.WriteRune(r)
				gb.WriteByte(' ')
			}
			prev = r
			continue
		case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r):
			wb.WriteRune(r)
		default:
			wb.WriteByte(' ')
		}
		if prev != 0 {
			gb.WriteString(gramSep + " ")
			prev = 0
		}
	}
	return wb.String(), ub.String(), gb.String()
}

// gramQuery turns user input into a query on messages_grams: a run of the
// gram scripts becomes its characters (one: column u) or its consecutive
// pairs as a phrase (column g), any other word a quoted term on column w,
// the last one as a prefix when prefix is set. Everything is quoted, so
// operators in the input are text. parts are the pieces searched for,
// for snippets. It returns "" when nothing searchable is left.
func gramQuery(input string, prefix bool) (q string, parts []string) {
	var terms []string
	lastWord := false
	add := func(run []rune, gram bool) {
		if len(run) == 0 {
			return
		}
		s := string(run)
		parts = append(parts, s)
		lastWord = !gram
		switch {
		case !gram:
			terms = append(terms, `w : "`+s+`"`)
		case len(run) == 1:
			terms = append(terms, `u : "`+s+`"`)
		default:
			pairs := make([]string, 0, len(run)-1)
			for i := 1; i < len(run); i++ {
				pairs = append(pairs, string(run[i-1:i+1]))
			}
			terms = append(terms, `g : "`+strings.Join(pairs, " ")+`"`)
		}
	}
	var run []rune
	gram := false
	for _, r := range input {
		isGram := gramRune(r)
		isWord := !isGram && (unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r))
		if (!isGram && !isWord) || isGram != gram {
			add(run, gram)
			run = run[:0]
		}
		if isGram || isWord {
			run = append(run, r)
			gram = isGram
		}
	}
	add(run, gram)
	if len(terms) == 0 {
		return "", nil
	}
	if prefix && lastWord {
		terms[len(terms)-1] += "*"
	}
	return strings.Join(terms, " "), parts
}

// insertGrams adds (or replaces: the backfill may meet a row an edit has
// indexed already) one message's row of the character index.
const insertGrams = `INSERT OR REPLACE INTO messages_grams(rowid, w, u, g) VALUES (?, ?, ?, ?)`

// indexGrams adds message id's text to the character index if it holds
// any gram script. exec runs in the caller's write transaction.
func indexGrams(exec func(string, ...any) (sql.Result, error), id int64, body string) error {
	if !hasGrams(body) {
		return nil
	}
	w, u, g := gramText(body)
	if _, err := exec(insertGrams, id, w, u, g); err != nil {
		return fmt.Errorf("inbox: index text: %w", err)
	}
	return nil
}

// Backfill: a store written before migration 7 has its messages indexed a
// window of ids per transaction, newest first (so recent messages are
// found first), while the program runs; grams_backfill keeps how far it
// got across restarts. One step reads a window of ids (~15 ms on 5000
// messages without such text) and indexes at most backfillRows of them
// (~0.15 ms each) and backfillBytes of text, so it holds the write lock
// briefly and little in memory.
const (
	backfillWindow = 5000
	backfillRows   = 200
	backfillBytes  = 4 << 20
)

// startBackfill runs the backfill in the background if a migration left
// one to do; gramsDone is closed when none is left.
func (in *Inbox) startBackfill() error {
	in.gramsDone = make(chan struct{})
	var n int
	if err := in.db.QueryRow(`SELECT count(*) FROM grams_backfill`).Scan(&n); err != nil {
		return fmt.Errorf("inbox: read search index state: %w", err)
	}
	if n == 0 {
		close(in.gramsDone)
		return nil
	}
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		for in.ctx.Err() == nil {
			done, err := in.backfillStep(backfillWindow)
			if err != nil {
				// Search still works for everything indexed so far; the
				// next start resumes where this one stopped.
				in.log.Warn().Err(err).Msg("indexing older messages for search stopped")
				return
			}
			if done {
				close(in.gramsDone)
				return
			}
		}
	}()
	return nil
}

// backfillStep indexes the next window of older messages and reports
// whether nothing is left to do.
func (in *Inbox) backfillStep(window int64) (done bool, err error) {
	err = in.write(func(tx *sql.Tx) error {
		var below int64
		err := tx.QueryRow(`SELECT below FROM grams_backfill`).Scan(&below)
		if errors.Is(err, sql.ErrNoRows) {
			done = true
			return nil
		}
		if err != nil {
			return err
		}
		from := max(below-window, 0)
		// hasGrams picks them: it skips ASCII a byte at a time, several
		// times faster than GLOB with a class of ranges in SQLite.
		rows, err := tx.Query(`SELECT id, body FROM messages WHERE id >= ? AND id < ? AND kind = 0 AND deleted = 0
			ORDER BY id DESC`, from, below)
		if err != nil {
			return err
		}
		type row struct {
			id   int64
			body string
		}
		var todo []row
		size := 0
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.body); err != nil {
				rows.Close()
				return err
			}
			if !hasGrams(r.body) {
				continue
			}
			todo = append(todo, r)
			if size += len(r.body); size >= backfillBytes || len(todo) >= backfillRows {
				from = r.id // the rest of the window waits for the next step
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range todo {
			if err := indexGrams(tx.Exec, r.id, r.body); err != nil {
				return err
			}
		}
		if from <= 0 {
			_, err = tx.Exec(`DELETE FROM grams_backfill`)
			done = true
		} else {
			_, err = tx.Exec(`UPDATE grams_backfill SET below = ?`, from)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("inbox: index older messages for search: %w", err)
	}
	return done, nil
}

// waitBackfill blocks until older messages are all indexed (tests, the
// benchmark's store generator) or ctx ends.
func (in *Inbox) waitBackfill(ctx context.Context) error {
	if in.gramsDone == nil {
		return nil
	}
	select {
	case <-in.gramsDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
