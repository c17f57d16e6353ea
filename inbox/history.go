package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
)

// ErrNoStore says there is no store file yet: nothing was ever received.
var ErrNoStore = errors.New("nothing is stored yet")

// AmbiguousError is a name that matches several people: the user must give
// an address instead.
type AmbiguousError struct {
	Name   string
	People int
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q names %d people; use an address", e.Name, e.People)
}

// OpenReadOnly opens an existing store for reading while another process
// (a running polyglot) may own it and write: SQLite's WAL lets readers see
// the last committed state without blocking the writer, and the busy
// timeout rides out its checkpoints. Nothing is created, migrated or
// written; every write method fails. A store of another schema version is
// refused rather than misread.
func OpenReadOnly(path string, opts Options) (*Inbox, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoStore
	} else if err != nil {
		return nil, fmt.Errorf("cannot read the store: %w", err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	for _, p := range []string{"busy_timeout(10000)", "query_only(1)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("cannot read the store: %w", err)
	}
	db.SetMaxOpenConns(2)
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot read the store %s: %w", path, err)
	}
	switch {
	case v < len(migrations):
		db.Close()
		return nil, fmt.Errorf("the store %s is from an older polyglot: start polyglot once to upgrade it", path)
	case v > len(migrations):
		db.Close()
		return nil, fmt.Errorf("the store %s is from a newer polyglot (schema %d, this one knows %d)", path, v, len(migrations))
	}
	opts.fill()
	return newInbox(db, opts), nil
}

// MessagesAfter returns up to limit messages of a conversation newer than
// the cursor (zero: from the oldest), oldest first. The next page is keyed
// by the last message: Cursor{At: m.At, ID: int64(m.ID)}.
func (in *Inbox) MessagesAfter(id ConversationID, after Cursor, limit int) ([]Message, error) {
	at, mid := int64(math.MinInt64), int64(math.MinInt64)
	if !after.At.IsZero() || after.ID != 0 {
		at, mid = toNanos(after.At), after.ID
	}
	rows, err := in.db.Query(`SELECT `+msgCols+` FROM messages INDEXED BY messages_page
		WHERE conversation_id = ? AND (at, id) > (?, ?) ORDER BY at, id LIMIT ?`, id, at, mid, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("reading messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, in.fillReactions(out)
}

// TailCursor is the cursor after which a conversation's newest n messages
// start, for MessagesAfter; the zero Cursor when it holds n or fewer. It
// walks the page index, not the messages.
func (in *Inbox) TailCursor(id ConversationID, n int) (Cursor, error) {
	if n <= 0 {
		return Cursor{}, nil
	}
	var at, mid int64
	err := in.db.QueryRow(`SELECT at, id FROM messages INDEXED BY messages_page
		WHERE conversation_id = ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`, id, n).Scan(&at, &mid)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("reading messages: %w", err)
	}
	return Cursor{At: fromNanos(at), ID: mid}, nil
}
