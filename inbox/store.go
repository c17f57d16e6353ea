package inbox

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// migrations are applied in order; PRAGMA user_version counts how many ran.
// Append only: never edit a step that has shipped.
var migrations = []string{
	// 1: base schema.
	`
CREATE TABLE people (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	norm_name TEXT NOT NULL DEFAULT '',
	preferred TEXT NOT NULL DEFAULT '',
	allow_downgrade INTEGER NOT NULL DEFAULT 0,
	last_network TEXT NOT NULL DEFAULT ''
);
CREATE INDEX people_norm ON people(norm_name) WHERE norm_name <> '';

CREATE TABLE identities (
	id INTEGER PRIMARY KEY,
	person_id INTEGER NOT NULL REFERENCES people(id),
	network TEXT NOT NULL,
	addr_id TEXT NOT NULL,
	account TEXT NOT NULL DEFAULT '',
	server TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL DEFAULT '',
	encryption INTEGER NOT NULL DEFAULT 0,
	presence INTEGER NOT NULL DEFAULT 0,
	consent INTEGER NOT NULL DEFAULT 0,
	contact INTEGER NOT NULL DEFAULT 0,
	phone TEXT NOT NULL DEFAULT '',
	UNIQUE(network, addr_id)
);
CREATE INDEX identities_person ON identities(person_id);
CREATE INDEX identities_phone ON identities(phone) WHERE phone <> '';

CREATE TABLE conversations (
	id INTEGER PRIMARY KEY,
	kind INTEGER NOT NULL,
	person_id INTEGER REFERENCES people(id),
	title TEXT NOT NULL DEFAULT '',
	last_at INTEGER NOT NULL DEFAULT 0,
	preview TEXT NOT NULL DEFAULT '',
	unread INTEGER NOT NULL DEFAULT 0,
	request INTEGER NOT NULL DEFAULT 0,
	request_kind INTEGER NOT NULL DEFAULT 0,
	request_from INTEGER REFERENCES identities(id),
	hidden INTEGER NOT NULL DEFAULT 0,
	encryption INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX conversations_direct ON conversations(person_id) WHERE kind = 1;
CREATE INDEX conversations_list ON conversations(last_at, id) WHERE request = 0 AND hidden = 0;
CREATE INDEX conversations_requests ON conversations(last_at, id) WHERE request = 1 AND hidden = 0;

CREATE TABLE chats (
	account TEXT NOT NULL,
	chat_id TEXT NOT NULL,
	network TEXT NOT NULL,
	conversation_id INTEGER NOT NULL REFERENCES conversations(id),
	grp INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY(account, chat_id)
);
CREATE INDEX chats_conversation ON chats(conversation_id);

CREATE TABLE messages (
	id INTEGER PRIMARY KEY,
	conversation_id INTEGER NOT NULL REFERENCES conversations(id),
	kind INTEGER NOT NULL DEFAULT 0,
	client_id TEXT,
	network TEXT NOT NULL DEFAULT '',
	account TEXT NOT NULL DEFAULT '',
	network_id TEXT,
	chat_id TEXT NOT NULL DEFAULT '',
	to_id TEXT NOT NULL DEFAULT '',
	to_server TEXT NOT NULL DEFAULT '',
	grp INTEGER NOT NULL DEFAULT 0,
	sender TEXT NOT NULL DEFAULT '',
	sender_server TEXT NOT NULL DEFAULT '',
	sender_name TEXT NOT NULL DEFAULT '',
	outgoing INTEGER NOT NULL DEFAULT 0,
	body TEXT NOT NULL DEFAULT '',
	formatted TEXT NOT NULL DEFAULT '',
	at INTEGER NOT NULL,
	encryption INTEGER NOT NULL DEFAULT 0,
	min_encryption INTEGER NOT NULL DEFAULT 0,
	state INTEGER NOT NULL DEFAULT 0,
	fail_reason TEXT NOT NULL DEFAULT '',
	reply_to TEXT NOT NULL DEFAULT '',
	edited INTEGER NOT NULL DEFAULT 0,
	deleted INTEGER NOT NULL DEFAULT 0,
	notice TEXT NOT NULL DEFAULT '',
	attachments TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX messages_client ON messages(client_id) WHERE client_id IS NOT NULL;
CREATE UNIQUE INDEX messages_network ON messages(network, network_id) WHERE network_id IS NOT NULL;
CREATE INDEX messages_page ON messages(conversation_id, at, id);
CREATE INDEX messages_outbox ON messages(account, id) WHERE state = 1;

CREATE TABLE reactions (
	message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	key TEXT NOT NULL,
	sender TEXT NOT NULL,
	mine INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY(message_id, key, sender)
) WITHOUT ROWID;

CREATE TABLE account_settings (
	account TEXT PRIMARY KEY,
	reachability INTEGER NOT NULL DEFAULT 0,
	server TEXT NOT NULL DEFAULT ''
);

-- Full-text index over live text messages only: deleted and system lines
-- never match.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id', prefix='2 3');
CREATE TRIGGER messages_fts_ins AFTER INSERT ON messages
WHEN new.kind = 0 AND new.deleted = 0 BEGIN
	INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_del AFTER DELETE ON messages
WHEN old.kind = 0 AND old.deleted = 0 BEGIN
	INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_upd_old AFTER UPDATE OF body, deleted, kind ON messages
WHEN old.kind = 0 AND old.deleted = 0 BEGIN
	INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_upd_new AFTER UPDATE OF body, deleted, kind ON messages
WHEN new.kind = 0 AND new.deleted = 0 BEGIN
	INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
END;
`,
	// SQLite runs triggers of one event newest-first, so the two update
	// triggers above re-added the row before removing the old text, and an
	// edited message dropped out of the index (and broke snippets). One
	// trigger removes then re-adds; the index is rebuilt from live rows.
	`
DROP TRIGGER messages_fts_upd_old;
DROP TRIGGER messages_fts_upd_new;
CREATE TRIGGER messages_fts_upd AFTER UPDATE OF body, deleted, kind ON messages BEGIN
	INSERT INTO messages_fts(messages_fts, rowid, body) SELECT 'delete', old.id, old.body WHERE old.kind = 0 AND old.deleted = 0;
	INSERT INTO messages_fts(rowid, body) SELECT new.id, new.body WHERE new.kind = 0 AND new.deleted = 0;
END;
INSERT INTO messages_fts(messages_fts) VALUES ('delete-all');
INSERT INTO messages_fts(rowid, body) SELECT id, body FROM messages WHERE kind = 0 AND deleted = 0;
`,
	// Ingest indexes a batch's messages in one statement at the end
	// (fts_later = 1) instead of per row: a per-row trigger makes every
	// INSERT a statement savepoint, and FTS5 flushes its buffer to a new
	// tiny segment at each one, which cost most of the ingest time and
	// fragmented the index.
	`
ALTER TABLE messages ADD COLUMN fts_later INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER messages_fts_ins;
CREATE TRIGGER messages_fts_ins AFTER INSERT ON messages
WHEN new.kind = 0 AND new.deleted = 0 AND new.fts_later = 0 BEGIN
	INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
END;
`,
	// Attachments the user downloaded, so opening one again reuses the
	// file instead of fetching (and naming) a second copy.
	`
CREATE TABLE downloads (
	message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	idx INTEGER NOT NULL,
	path TEXT NOT NULL,
	PRIMARY KEY(message_id, idx)
) WITHOUT ROWID;
`,
	// A message stored while its key was missing is marked, so the copy
	// that arrives decrypted later fills in that row instead of being
	// dropped as a duplicate.
	`
ALTER TABLE messages ADD COLUMN undecryptable INTEGER NOT NULL DEFAULT 0;
`,
	// Ingest speed (issue 3): any INSERT trigger on messages, even one
	// whose WHEN is false, makes every insert open a statement journal, so
	// the trigger goes: each path that stores a text message indexes it
	// itself (ingest per batch, Send per message; search_index_test.go
	// checks them).
	`
DROP TRIGGER messages_fts_ins;
`,
	// 7: scripts without spaces (CJK, Thai, …) are found inside words: a
	// second, contentless index of those messages' characters and pairs
	// (grams.go). Every path that stores or rewrites text adds its row;
	// the triggers only remove rows, from messages whose text may have
	// been indexed. Stores that have messages already are indexed by a
	// background job, newest first, below the id kept in grams_backfill.
	`
CREATE VIRTUAL TABLE messages_grams USING fts5(w, u, g, content='', contentless_delete=1,
	tokenize="unicode61 categories 'L* M* N* Co Cn'");
CREATE TRIGGER messages_grams_del AFTER DELETE ON messages
WHEN old.kind = 0 AND old.deleted = 0 AND old.body GLOB '` + gramGlob7 + `' BEGIN
	DELETE FROM messages_grams WHERE rowid = old.id;
END;
CREATE TRIGGER messages_grams_upd AFTER UPDATE OF body, deleted, kind ON messages
WHEN old.kind = 0 AND old.deleted = 0 AND old.body GLOB '` + gramGlob7 + `' BEGIN
	DELETE FROM messages_grams WHERE rowid = old.id;
END;
CREATE TABLE grams_backfill(below INTEGER NOT NULL);
-- Name search scans only group titles and addresses: a direct
-- conversation's title is its person's name, searched in people.
CREATE INDEX conversations_groups ON conversations(title) WHERE kind = 2;
CREATE INDEX chats_groups ON chats(chat_id, conversation_id, network) WHERE grp = 1;
INSERT INTO grams_backfill(below) SELECT id + 1 FROM messages ORDER BY id DESC LIMIT 1;
`,
	// 8: what the user left unsent in a conversation's composer, so it is
	// still there after a restart.
	`
CREATE TABLE drafts (
	conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
	body TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
`,
	// 9: a file the user sends: where it is and what it was when queued
	// (size, SHA-256), so a retry sends the same bytes or nothing.
	`
CREATE TABLE outgoing_files (
	message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	path TEXT NOT NULL,
	name TEXT NOT NULL,
	mime TEXT NOT NULL,
	size INTEGER NOT NULL,
	sha256 TEXT NOT NULL
);
`,
	// 10: client-side bridge links (bridge.go). A leg is a conversation
	// pinned to one network and address; the queue holds what the bridge
	// still owes, in order, and leaves it only in the transaction that
	// stores the relayed copy (exactly once across restarts).
	`
CREATE TABLE bridge_links (
	id INTEGER PRIMARY KEY,
	conv_a INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	network_a TEXT NOT NULL,
	addr_a TEXT NOT NULL,
	conv_b INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	network_b TEXT NOT NULL,
	addr_b TEXT NOT NULL,
	enc_a INTEGER NOT NULL,
	enc_b INTEGER NOT NULL,
	weaker INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	notice_a INTEGER NOT NULL DEFAULT 0,
	notice_b INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE bridge_queue (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	link_id INTEGER NOT NULL REFERENCES bridge_links(id) ON DELETE CASCADE,
	side INTEGER NOT NULL,
	kind INTEGER NOT NULL,
	message_id INTEGER NOT NULL,
	key TEXT NOT NULL DEFAULT ''
);
CREATE TABLE bridge_map (
	link_id INTEGER NOT NULL REFERENCES bridge_links(id) ON DELETE CASCADE,
	src INTEGER NOT NULL,
	dst INTEGER NOT NULL,
	PRIMARY KEY (link_id, src)
);
CREATE INDEX bridge_map_dst ON bridge_map(dst);
CREATE TABLE bridge_posts (
	message_id INTEGER PRIMARY KEY,
	link_id INTEGER NOT NULL
);
CREATE TABLE bridge_members (
	link_id INTEGER NOT NULL REFERENCES bridge_links(id) ON DELETE CASCADE,
	side INTEGER NOT NULL,
	addr TEXT NOT NULL,
	stopped INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (link_id, side, addr)
);
`,
	// 11: found: what a contact lookup (polyglot contact find, the person
	// view's find key) learnt, one row per network that knows the person;
	// merge suggestions read it. query is "+digits" or a lower-case address.
	`
CREATE TABLE found (
	query TEXT NOT NULL,
	network TEXT NOT NULL,
	addr_id TEXT NOT NULL,
	account TEXT NOT NULL DEFAULT '',
	by TEXT NOT NULL DEFAULT '',
	at INTEGER NOT NULL,
	PRIMARY KEY (query, network, addr_id)
);
CREATE INDEX found_addr ON found(network, addr_id);
`,
}

// gramGlob7 is gramGlob as migration 7 wrote it into the triggers. If
// gramRanges changes, a new migration must replace the triggers.
const gramGlob7 = "*[\u0e00-\u0e7f\u0e80-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3005-\u3007" +
	"\u3041-\u309f\u30a1-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff" +
	"\uff66-\uff9f\U00020000-\U000323af]*"

// openDB opens (creating 0600 in a 0700 directory) and migrates the store.
func openDB(path string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("inbox: empty store path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("inbox: create store directory: %w", err)
	}
	// Create the file ourselves so it is 0600 from the first byte; SQLite
	// gives the -wal and -shm files the same mode as the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("inbox: open store: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("inbox: store permissions: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("inbox: open store: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(0)
	if err := migrate(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(db *sql.DB) error {
	ctx := context.Background()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("inbox: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("inbox: store schema version %d is newer than this program (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("inbox: migrate: %w", err)
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("inbox: migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("inbox: migration %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("inbox: migration %d: %w", v+1, err)
		}
	}
	return nil
}

// Times are stored as Unix nanoseconds; 0 is the zero time.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
