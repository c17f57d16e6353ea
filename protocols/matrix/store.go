package matrix

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"maunium.net/go/mautrix/id"

	_ "modernc.org/sqlite" // driver "sqlite": pure Go, works with cgo off
)

// openDB opens the connector's SQLite file: mautrix's crypto and state
// stores plus the few polyglot_matrix_* tables below live in it.
func openDB(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("matrix: DBPath is required (crypto keys and the sync token live there)")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("matrix: opening %s: %w", path, err)
	}
	// One writer at a time avoids SQLITE_BUSY between the sync loop and sends.
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("matrix: opening %s: %w", path, err)
	}
	return db, nil
}

const schema = `
CREATE TABLE IF NOT EXISTS polyglot_matrix_sync (
	user_id    TEXT PRIMARY KEY,
	next_batch TEXT NOT NULL DEFAULT '',
	filter_id  TEXT NOT NULL DEFAULT '',
	filter_sum TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS polyglot_matrix_rooms (
	room_id     TEXT PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	direct_user TEXT NOT NULL DEFAULT '',
	invited_by  TEXT NOT NULL DEFAULT '',
	membership  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS polyglot_matrix_rooms_direct ON polyglot_matrix_rooms(direct_user);
CREATE TABLE IF NOT EXISTS polyglot_matrix_reactions (
	event_id TEXT PRIMARY KEY,
	room_id  TEXT NOT NULL,
	target   TEXT NOT NULL,
	key      TEXT NOT NULL,
	sender   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS polyglot_matrix_reactions_target ON polyglot_matrix_reactions(room_id, target, sender, key);
CREATE TABLE IF NOT EXISTS polyglot_matrix_undecrypted (
	event_id   TEXT PRIMARY KEY,
	room_id    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	event      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS polyglot_matrix_undecrypted_session ON polyglot_matrix_undecrypted(room_id, session_id);
CREATE TABLE IF NOT EXISTS polyglot_matrix_xsign (
	user_id TEXT PRIMARY KEY,
	sealed  BLOB NOT NULL
);
`

// store is the connector's own small state next to mautrix's tables.
type store struct {
	db     *sql.DB
	userID id.UserID
}

func newStore(ctx context.Context, db *sql.DB, userID id.UserID) (*store, error) {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("matrix: creating tables: %w", err)
	}
	return &store{db: db, userID: userID}, nil
}

// syncStore implements mautrix.SyncStore. SaveNextBatch is a no-op: mautrix
// calls it before processing a response, and a crash then would lose those
// events. commitNextBatch is called once a response's events are stored.
type syncStore struct{ s *store }

func (ss syncStore) SaveFilterID(ctx context.Context, _ id.UserID, filterID string) error {
	_, err := ss.s.db.ExecContext(ctx, `INSERT INTO polyglot_matrix_sync(user_id, filter_id) VALUES(?, ?)
		ON CONFLICT(user_id) DO UPDATE SET filter_id=excluded.filter_id`, ss.s.userID.String(), filterID)
	return err
}

func (ss syncStore) LoadFilterID(ctx context.Context, _ id.UserID) (string, error) {
	var f string
	err := ss.s.db.QueryRowContext(ctx, `SELECT filter_id FROM polyglot_matrix_sync WHERE user_id=?`, ss.s.userID.String()).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return f, err
}

func (ss syncStore) SaveNextBatch(context.Context, id.UserID, string) error { return nil }

func (ss syncStore) LoadNextBatch(ctx context.Context, _ id.UserID) (string, error) {
	return ss.s.nextBatch(ctx)
}

func (s *store) nextBatch(ctx context.Context) (string, error) {
	var nb string
	err := s.db.QueryRowContext(ctx, `SELECT next_batch FROM polyglot_matrix_sync WHERE user_id=?`, s.userID.String()).Scan(&nb)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return nb, err
}

func (s *store) commitNextBatch(ctx context.Context, nb string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO polyglot_matrix_sync(user_id, next_batch) VALUES(?, ?)
		ON CONFLICT(user_id) DO UPDATE SET next_batch=excluded.next_batch`, s.userID.String(), nb)
	return err
}

// filterSum returns the checksum of the filter the stored filter ID was made
// from, so a changed filter in a new version is re-created on the server.
func (s *store) filterSum(ctx context.Context) string {
	var sum string
	_ = s.db.QueryRowContext(ctx, `SELECT filter_sum FROM polyglot_matrix_sync WHERE user_id=?`, s.userID.String()).Scan(&sum)
	return sum
}

func (s *store) setFilterSum(ctx context.Context, sum string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO polyglot_matrix_sync(user_id, filter_id, filter_sum) VALUES(?, '', ?)
		ON CONFLICT(user_id) DO UPDATE SET filter_id='', filter_sum=excluded.filter_sum`, s.userID.String(), sum)
	return err
}

// roomInfo is what the connector remembers about a room between runs.
type roomInfo struct {
	ID         id.RoomID
	Name       string
	DirectUser id.UserID // set for a DM (from m.direct or an is_direct invite)
	InvitedBy  id.UserID
	Membership string // join, invite, leave
}

func (s *store) room(ctx context.Context, roomID id.RoomID) (roomInfo, bool) {
	r := roomInfo{ID: roomID}
	var direct, inviter string
	err := s.db.QueryRowContext(ctx, `SELECT name, direct_user, invited_by, membership FROM polyglot_matrix_rooms WHERE room_id=?`,
		roomID.String()).Scan(&r.Name, &direct, &inviter, &r.Membership)
	r.DirectUser, r.InvitedBy = id.UserID(direct), id.UserID(inviter)
	return r, err == nil
}

// An empty DirectUser, InvitedBy or Membership keeps the stored one: the
// sync loop and a send creating the DM both read-modify-write the row, and
// the sync's copy read before the DM was recorded must not erase it.
func (s *store) putRoom(ctx context.Context, r roomInfo) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO polyglot_matrix_rooms(room_id, name, direct_user, invited_by, membership)
		VALUES(?, ?, ?, ?, ?) ON CONFLICT(room_id) DO UPDATE SET name=excluded.name,
		direct_user=coalesce(nullif(excluded.direct_user, ''), direct_user),
		invited_by=coalesce(nullif(excluded.invited_by, ''), invited_by),
		membership=coalesce(nullif(excluded.membership, ''), membership)`,
		r.ID.String(), r.Name, r.DirectUser.String(), r.InvitedBy.String(), r.Membership)
	return err
}

// dmRoom returns the joined (or else invited) DM room with user, newest first.
func (s *store) dmRoom(ctx context.Context, user id.UserID) (id.RoomID, bool) {
	var room string
	err := s.db.QueryRowContext(ctx, `SELECT room_id FROM polyglot_matrix_rooms WHERE direct_user=? AND membership IN ('join','invite')
		ORDER BY membership='join' DESC, rowid DESC LIMIT 1`, user.String()).Scan(&room)
	return id.RoomID(room), err == nil
}

// directRooms returns every room recorded as a DM, by user.
func (s *store) directRooms(ctx context.Context) (map[id.UserID][]id.RoomID, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT direct_user, room_id FROM polyglot_matrix_rooms WHERE direct_user != '' AND membership='join'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[id.UserID][]id.RoomID{}
	for rows.Next() {
		var u, r string
		if err := rows.Scan(&u, &r); err != nil {
			return nil, err
		}
		out[id.UserID(u)] = append(out[id.UserID(u)], id.RoomID(r))
	}
	return out, rows.Err()
}

func (s *store) putReaction(ctx context.Context, evtID id.EventID, room id.RoomID, target id.EventID, key string, sender id.UserID) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO polyglot_matrix_reactions(event_id, room_id, target, key, sender) VALUES(?,?,?,?,?)`,
		evtID.String(), room.String(), target.String(), key, sender.String())
	return err
}

type reactionRow struct {
	Target id.EventID
	Key    string
	Sender id.UserID
}

func (s *store) takeReaction(ctx context.Context, evtID id.EventID) (reactionRow, bool) {
	var r reactionRow
	var target, sender string
	err := s.db.QueryRowContext(ctx, `SELECT target, key, sender FROM polyglot_matrix_reactions WHERE event_id=?`, evtID.String()).
		Scan(&target, &r.Key, &sender)
	if err != nil {
		return r, false
	}
	_, _ = s.db.ExecContext(ctx, `DELETE FROM polyglot_matrix_reactions WHERE event_id=?`, evtID.String())
	r.Target, r.Sender = id.EventID(target), id.UserID(sender)
	return r, true
}

func (s *store) findReaction(ctx context.Context, room id.RoomID, target id.EventID, key string, sender id.UserID) (id.EventID, bool) {
	var evt string
	err := s.db.QueryRowContext(ctx, `SELECT event_id FROM polyglot_matrix_reactions WHERE room_id=? AND target=? AND sender=? AND key=? LIMIT 1`,
		room.String(), target.String(), sender.String(), key).Scan(&evt)
	return id.EventID(evt), err == nil
}

// Cross-signing private keys are sealed with a key derived from the pickle
// key (which lives in the keystore, never on disk in plaintext).
func sealKey(pickleKey []byte) []byte {
	h := sha256.Sum256(append([]byte("polyglot matrix cross-signing v1\x00"), pickleKey...))
	return h[:]
}

func (s *store) saveCrossSigning(ctx context.Context, pickleKey, plain []byte) error {
	block, err := aes.NewCipher(sealKey(pickleKey))
	if err != nil {
		return err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := gcm.Seal(nonce, nonce, plain, []byte(s.userID))
	_, err = s.db.ExecContext(ctx, `INSERT INTO polyglot_matrix_xsign(user_id, sealed) VALUES(?, ?)
		ON CONFLICT(user_id) DO UPDATE SET sealed=excluded.sealed`, s.userID.String(), sealed)
	return err
}

func (s *store) loadCrossSigning(ctx context.Context, pickleKey []byte) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed FROM polyglot_matrix_xsign WHERE user_id=?`, s.userID.String()).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey(pickleKey))
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("matrix: sealed cross-signing keys are corrupt")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(s.userID))
	if err != nil {
		return nil, errors.New("matrix: cannot open cross-signing keys (wrong pickle key?)")
	}
	return plain, nil
}
