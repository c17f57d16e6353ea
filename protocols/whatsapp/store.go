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
	"go.mau.fi/whatsmeow/store/sqlstore"
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
type store struct {
	container *sqlstore.Container
	db        *sql.DB
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
	identity BLOB NOT NULL     -- their identity key when the user compared the code
);
CREATE TABLE IF NOT EXISTS polyglot_reactions (
	chat   TEXT NOT NULL,
	target TEXT NOT NULL,
	sender TEXT NOT NULL,
	key    TEXT NOT NULL,
	PRIMARY KEY (chat, target, sender)
);`

func openStore(ctx context.Context, path string, log zerolog.Logger) (*store, error) {
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	container, err := sqlstore.New(ctx, "sqlite", dsn(path), wmLog(log, "whatsmeow-store"))
	if err != nil {
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		container.Close()
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		container.Close()
		return nil, fmt.Errorf("whatsapp store: %w", err)
	}
	return &store{container: container, db: db}, nil
}

func (s *store) close() error {
	return errors.Join(s.db.Close(), s.container.Close())
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
