package omemo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // the project's pure-Go SQLite driver
)

// FileName is the store's file in the account's data directory.
const FileName = "omemo.db"

// schema: secrets (private keys, sessions, cached plaintexts) are sealed;
// public material (contacts' identity keys, device ids) is not.
const schema = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS signed_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
	jid TEXT NOT NULL, device INTEGER NOT NULL, record BLOB NOT NULL,
	PRIMARY KEY (jid, device));
-- One row per device of a contact (or of ours) we learnt of from a device
-- list or a message. identity is the 33-byte public identity key, NULL until
-- a bundle or a prekey message showed it; active: in the current device
-- list; compared: the user compared its fingerprint (trust UI).
CREATE TABLE IF NOT EXISTS devices (
	jid TEXT NOT NULL, device INTEGER NOT NULL, identity BLOB,
	first_seen INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 0,
	compared INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (jid, device));
-- When a contact's device list was last fetched or pushed (and with how
-- many devices), so "publishes no OMEMO" is known without the network.
CREATE TABLE IF NOT EXISTS device_lists (jid TEXT PRIMARY KEY, updated INTEGER NOT NULL);
-- Messages already decrypted, by a hash of their encrypted element: a
-- double-ratchet key opens once, so a copy seen again (carbon, archive,
-- replay after a restart) gets the stored plaintext instead of a second,
-- failing decryption.
CREATE TABLE IF NOT EXISTS decrypted (hash BLOB PRIMARY KEY, body BLOB NOT NULL, at INTEGER NOT NULL);
`

func dsn(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
}

// openDB opens (creating, mode 0600) the store and checks key against the
// file's check value, made on first use.
func openDB(ctx context.Context, path string, key []byte) (*sql.DB, *sealer, error) {
	if len(key) != KeySize {
		return nil, nil, fmt.Errorf("omemo store: the key has %d bytes, want %d", len(key), KeySize)
	}
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, nil, fmt.Errorf("omemo store: %w", err)
	} else {
		f.Close()
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, nil, fmt.Errorf("omemo store: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; the manager serialises anyway
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("omemo store: %w", err)
	}
	var salt, check []byte
	err = db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'salt'`).Scan(&salt)
	if errors.Is(err, sql.ErrNoRows) {
		salt = NewKey()
		s := newSealer(key, salt)
		check = s.seal("check", "", []byte("omemo"))
		if _, err := db.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('salt', ?), ('check', ?)`, salt, check); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("omemo store: %w", err)
		}
		return db, s, nil
	}
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'check'`).Scan(&check)
	}
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("omemo store: %w", err)
	}
	s := newSealer(key, salt)
	if _, err := s.open("check", "", check); err != nil {
		db.Close()
		return nil, nil, ErrWrongKey
	}
	return db, s, nil
}
