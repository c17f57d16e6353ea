package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/store/sqlstore/upgrades"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite" // driver "sqlite": pure Go, works with cgo off
)

// dsn is the modernc DSN for path. whatsmeow's schema needs foreign keys
// (mattn's _foreign_keys is ignored by modernc and Upgrade then fails).
func dsn(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)"
}

// createPrivate makes sure path exists with mode 0600 before SQLite opens
// it (SQLite would create it with the umask's mode).
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return os.Chmod(path, 0o600)
}

// store is whatsmeow's device store plus Polyglot's tables in the same
// file: the message ID chosen for each ClientID, what a reply, reaction or
// edit must know about an earlier message (its sender), and the contacts
// whose security code the user compared (with the key it was compared for).
// Every private key and session secret in it is sealed under the account's
// store key (seal.go, sealedstore.go).
type store struct {
	container *sealedContainer
	db        *sql.DB
	s         *sealer
}

const schema = `
CREATE TABLE IF NOT EXISTS polyglot_sent (
	client_id  TEXT PRIMARY KEY,
	message_id TEXT NOT NULL,
	chat       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS polyglot_messages (
	chat    TEXT NOT NULL,
	id      TEXT NOT NULL,
	sender  TEXT NOT NULL,
	from_me INTEGER NOT NULL,
	body    TEXT NOT NULL,
	PRIMARY KEY (chat, id)
);
CREATE TABLE IF NOT EXISTS polyglot_compared (
	peer     TEXT PRIMARY KEY, -- the contact's phone number (JID user)
	identity BLOB NOT NULL     -- their identity key when the user compared the code (sealed)
);
CREATE TABLE IF NOT EXISTS polyglot_reactions (
	chat   TEXT NOT NULL,
	target TEXT NOT NULL,
	sender TEXT NOT NULL,
	key    TEXT NOT NULL,
	PRIMARY KEY (chat, target, sender)
);
-- whatsmeow's whatsmeow_pre_keys, with the private key sealed.
CREATE TABLE IF NOT EXISTS polyglot_pre_keys (
	jid      TEXT,
	key_id   INTEGER CHECK ( key_id >= 0 AND key_id < 16777216 ),
	key      BLOB    NOT NULL,
	uploaded BOOLEAN NOT NULL,
	PRIMARY KEY (jid, key_id),
	FOREIGN KEY (jid) REFERENCES whatsmeow_device(jid) ON DELETE CASCADE ON UPDATE CASCADE
);
-- The file's HKDF salt, and a value sealed under the store key that tells
-- a wrong key before anything is read or written.
CREATE TABLE IF NOT EXISTS polyglot_seal (
	id    INTEGER PRIMARY KEY CHECK ( id = 1 ),
	salt  BLOB NOT NULL,
	check_value BLOB NOT NULL
);`

// openStore opens (or makes) whatsapp.db sealed under key, the account's
// store key from the keystore. A store sealed under another key is
// refused (ErrWrongStoreKey) before anything is written; one written by
// an earlier Polyglot, in plaintext, is sealed in place.
func openStore(ctx context.Context, path string, key []byte, log zerolog.Logger) (*store, error) {
	if len(key) != StoreKeySize {
		return nil, fmt.Errorf("whatsapp store: the store key has %d bytes, want %d", len(key), StoreKeySize)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	salt, check, err := readSeal(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	var s *sealer
	if salt != nil {
		s = newSealer(key, salt)
		if _, err := s.open(purposeCheck, "", check); err != nil {
			return nil, ErrWrongStoreKey
		}
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	wrapped, err := dbutil.NewWithDB(db, "sqlite")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	wrapped.UpgradeTable = upgrades.Table
	wrapped.VersionTable = "whatsmeow_version"
	inner := sqlstore.NewWithWrappedDB(wrapped, wmLog(log, "whatsmeow-store"))
	if err := inner.Upgrade(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("whatsapp store: failed to upgrade database: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	if s == nil {
		salt = NewStoreKey()
		s = newSealer(key, salt)
		n, err := sealPlaintext(ctx, wrapped, s, salt)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("whatsapp store: sealing the secrets of an earlier version's whatsapp.db: %w", err)
		}
		if n > 0 {
			log.Info().Int("values", n).Msg("sealed the plaintext secrets of an earlier version's whatsapp.db")
		}
	}
	return &store{container: &sealedContainer{inner: inner, db: wrapped, s: s}, db: db, s: s}, nil
}

// readSeal reads the file's salt and check value through a read-only
// handle (nil, nil: the file was never sealed), so a wrong key is told
// without the file being touched.
func readSeal(ctx context.Context, path string) (salt, check []byte, err error) {
	db, err := sql.Open("sqlite", dsn(path)+"&mode=ro")
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'polyglot_seal'`).Scan(&n); err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, nil
	}
	err = db.QueryRowContext(ctx, `SELECT salt, check_value FROM polyglot_seal WHERE id = 1`).Scan(&salt, &check)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	return salt, check, err
}

func (s *store) close() error {
	return s.container.inner.Close() // closes db too: it is the same pool
}

// sentID returns the message ID chosen earlier for clientID, or stores
// fresh (the ID a first attempt will use) and returns it.
func (s *store) sentID(ctx context.Context, clientID, chat string, fresh func() string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT message_id FROM polyglot_sent WHERE client_id = ?`, clientID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	id = fresh()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO polyglot_sent(client_id, message_id, chat) VALUES (?, ?, ?)
		ON CONFLICT(client_id) DO NOTHING`, clientID, id, chat); err != nil {
		return "", err
	}
	// A concurrent attempt for the same ClientID may have won the insert.
	err = s.db.QueryRowContext(ctx, `SELECT message_id FROM polyglot_sent WHERE client_id = ?`, clientID).Scan(&id)
	return id, err
}

// clientIDOf maps a message ID we sent back to the ClientID it was sent
// for ("" if none): our own messages echoed from history carry it.
func (s *store) clientIDOf(ctx context.Context, messageID string) string {
	var cid string
	_ = s.db.QueryRowContext(ctx, `SELECT client_id FROM polyglot_sent WHERE message_id = ?`, messageID).Scan(&cid)
	return cid
}

type known struct {
	sender string
	fromMe bool
	body   string
}

func (s *store) remember(ctx context.Context, chat, id, sender string, fromMe bool, body string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO polyglot_messages(chat, id, sender, from_me, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(chat, id) DO UPDATE SET body = excluded.body`, chat, id, sender, fromMe, body)
	return err
}

func (s *store) lookup(ctx context.Context, chat, id string) (known, bool) {
	var k known
	err := s.db.QueryRowContext(ctx, `SELECT sender, from_me, body FROM polyglot_messages WHERE chat = ? AND id = ?`, chat, id).
		Scan(&k.sender, &k.fromMe, &k.body)
	return k, err == nil
}

// swapReaction records sender's reaction on target (WhatsApp keeps one per
// person; "" clears it) and returns the one it replaces.
func (s *store) swapReaction(ctx context.Context, chat, target, sender, key string) (prev string) {
	_ = s.db.QueryRowContext(ctx, `SELECT key FROM polyglot_reactions WHERE chat = ? AND target = ? AND sender = ?`, chat, target, sender).Scan(&prev)
	if key == "" {
		_, _ = s.db.ExecContext(ctx, `DELETE FROM polyglot_reactions WHERE chat = ? AND target = ? AND sender = ?`, chat, target, sender)
	} else {
		_, _ = s.db.ExecContext(ctx, `INSERT INTO polyglot_reactions(chat, target, sender, key) VALUES (?, ?, ?, ?)
			ON CONFLICT(chat, target, sender) DO UPDATE SET key = excluded.key`, chat, target, sender, key)
	}
	return prev
}

// wmLog is whatsmeow's logger: never below info, because its debug lines
// carry protocol nodes (pairing refs, keys) that must not reach the log.
func wmLog(log zerolog.Logger, component string) waLog.Logger {
	l := log.With().Str("component", component).Logger()
	if l.GetLevel() < zerolog.InfoLevel {
		l = l.Level(zerolog.InfoLevel)
	}
	return waLog.Zerolog(l)
}
