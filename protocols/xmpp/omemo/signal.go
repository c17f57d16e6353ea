package omemo

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/state/record"
)

// The libsignal stores (IdentityKey, PreKey, SignedPreKey, Session) on the
// SQLite file. OMEMO 0.3's libsignal address is (bare JID, device id).
// sigStore is the Manager seen as those stores, so their methods stay out
// of the Manager's API. Callers hold m.mu.
type sigStore Manager

func (m *Manager) store() *sigStore { return (*sigStore)(m) }

func (m *sigStore) GetIdentityKeyPair() *identity.KeyPair { return m.ident }
func (m *sigStore) GetLocalRegistrationID() uint32        { return m.regID }

// Fingerprint renders a serialized identity key as OMEMO clients show it:
// the 32 key bytes in hex, in groups of eight.
func Fingerprint(key []byte) string {
	if len(key) == 33 {
		key = key[1:]
	}
	h := hex.EncodeToString(key)
	var b strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i:min(i+8, len(h))])
	}
	return b.String()
}

func (m *sigStore) knownIdentity(ctx context.Context, jid string, dev uint32) ([]byte, error) {
	var k []byte
	err := m.db.QueryRowContext(ctx, `SELECT identity FROM devices WHERE jid = ? AND device = ?`, jid, dev).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return k, err
}

// SaveIdentity records a device's identity key the first time it is seen
// (trust on first use). A different key for a known device is never
// written: IsTrustedIdentity refused it before.
func (m *sigStore) SaveIdentity(ctx context.Context, a *protocol.SignalAddress, key *identity.Key) error {
	k := key.Serialize()
	old, err := m.knownIdentity(ctx, a.Name(), a.DeviceID())
	if err != nil {
		return err
	}
	if old != nil {
		return nil
	}
	// A device first seen writing to us is live (its owner's list may not
	// have reached us: no subscription, no push yet): active, so a reply
	// goes to it and the route says so — and, for a verified contact, that
	// it is new — before the list is fetched again.
	_, err = m.db.ExecContext(ctx, `INSERT INTO devices (jid, device, identity, first_seen, active) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT(jid, device) DO UPDATE SET identity = excluded.identity WHERE identity IS NULL`,
		a.Name(), a.DeviceID(), k, time.Now().Unix())
	if err != nil {
		return err
	}
	// A contact's first device is not news (as Signal, the first key is
	// simply trusted); a further one is shown in the conversation.
	var others int
	if err := m.db.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE jid = ? AND device != ? AND identity IS NOT NULL`,
		a.Name(), a.DeviceID()).Scan(&others); err != nil {
		return err
	}
	if others > 0 && a.Name() != m.own {
		m.news = append(m.news, DeviceNews{JID: a.Name(), Device: a.DeviceID(), Fingerprint: Fingerprint(k)})
	}
	return nil
}

// IsTrustedIdentity: trust on first use. A device we never saw a key for is
// trusted; one whose key changed is refused and reported.
func (m *sigStore) IsTrustedIdentity(ctx context.Context, a *protocol.SignalAddress, key *identity.Key) (bool, error) {
	old, err := m.knownIdentity(ctx, a.Name(), a.DeviceID())
	if err != nil {
		return false, err
	}
	if old == nil || bytes.Equal(old, key.Serialize()) {
		return true, nil
	}
	m.log.Warn().Str("jid", a.Name()).Uint32("device", a.DeviceID()).
		Str("known", Fingerprint(old)).Str("offered", Fingerprint(key.Serialize())).
		Msg("OMEMO identity key changed for a known device: refused")
	m.news = append(m.news, DeviceNews{JID: a.Name(), Device: a.DeviceID(), Fingerprint: Fingerprint(key.Serialize()), Changed: true})
	return false, nil
}

func (m *sigStore) LoadPreKey(ctx context.Context, id uint32) (*record.PreKey, error) {
	var sealed []byte
	err := m.db.QueryRowContext(ctx, `SELECT record FROM prekeys WHERE id = ?`, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := m.s.open("prekey", fmt.Sprint(id), sealed)
	if err != nil {
		return nil, err
	}
	if len(raw) != 64 {
		return nil, errors.New("omemo store: prekey damaged")
	}
	return record.NewPreKey(id, rawKeyPair(raw), m.ser.PreKeyRecord), nil
}

// Prekeys are kept as private ‖ public key (libsignal v0.2.2's record
// deserialization reads the 33-byte serialized public key as 32 bytes, so
// its own record bytes do not round-trip).
func (m *sigStore) StorePreKey(ctx context.Context, id uint32, r *record.PreKey) error {
	_, err := m.db.ExecContext(ctx, `INSERT OR REPLACE INTO prekeys (id, record) VALUES (?, ?)`, id, m.s.seal("prekey", fmt.Sprint(id), rawPair(r.KeyPair())))
	return err
}

func rawPair(kp *ecc.ECKeyPair) []byte {
	priv := kp.PrivateKey().Serialize()
	pub := kp.PublicKey().PublicKey()
	return append(priv[:], pub[:]...)
}

func rawKeyPair(raw []byte) *ecc.ECKeyPair {
	var pr, pu [32]byte
	copy(pr[:], raw[:32])
	copy(pu[:], raw[32:64])
	return ecc.NewECKeyPair(ecc.NewDjbECPublicKey(pu), ecc.NewDjbECPrivateKey(pr))
}

func (m *sigStore) ContainsPreKey(ctx context.Context, id uint32) (bool, error) {
	r, err := m.LoadPreKey(ctx, id)
	return r != nil, err
}

// RemovePreKey drops a prekey a session consumed and asks for the bundle
// to be published again without it (another device picking the same,
// consumed prekey from the old bundle could not start a session); the pool
// is refilled when it runs low.
func (m *sigStore) RemovePreKey(ctx context.Context, id uint32) error {
	if _, err := m.db.ExecContext(ctx, `DELETE FROM prekeys WHERE id = ?`, id); err != nil {
		return err
	}
	m.republish = true
	var n int
	if err := m.db.QueryRowContext(ctx, `SELECT count(*) FROM prekeys`).Scan(&n); err != nil {
		return err
	}
	if n < refillBelow {
		if err := (*Manager)(m).fillPreKeys(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (m *sigStore) LoadSignedPreKey(ctx context.Context, id uint32) (*record.SignedPreKey, error) {
	var sealed []byte
	err := m.db.QueryRowContext(ctx, `SELECT record FROM signed_prekeys WHERE id = ?`, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := m.s.open("signed prekey", fmt.Sprint(id), sealed)
	if err != nil {
		return nil, err
	}
	if len(raw) != 64+64+8 {
		return nil, errors.New("omemo store: signed prekey damaged")
	}
	var sig [64]byte
	copy(sig[:], raw[64:128])
	return record.NewSignedPreKey(id, int64(binary.BigEndian.Uint64(raw[128:])), rawKeyPair(raw), sig, m.ser.SignedPreKeyRecord), nil
}

func (m *sigStore) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	r, err := m.LoadSignedPreKey(ctx, signedPreKey)
	if err != nil || r == nil {
		return nil, err
	}
	return []*record.SignedPreKey{r}, nil
}

func (m *sigStore) StoreSignedPreKey(ctx context.Context, id uint32, r *record.SignedPreKey) error {
	sig := r.Signature()
	raw := append(rawPair(r.KeyPair()), sig[:]...)
	raw = binary.BigEndian.AppendUint64(raw, uint64(r.Timestamp()))
	_, err := m.db.ExecContext(ctx, `INSERT OR REPLACE INTO signed_prekeys (id, record) VALUES (?, ?)`, id, m.s.seal("signed prekey", fmt.Sprint(id), raw))
	return err
}

func (m *sigStore) ContainsSignedPreKey(ctx context.Context, id uint32) (bool, error) {
	r, err := m.LoadSignedPreKey(ctx, id)
	return r != nil, err
}

func (m *sigStore) RemoveSignedPreKey(ctx context.Context, id uint32) error {
	_, err := m.db.ExecContext(ctx, `DELETE FROM signed_prekeys WHERE id = ?`, id)
	return err
}

func sessionAD(a *protocol.SignalAddress) string {
	return fmt.Sprintf("%s\x00%d", a.Name(), a.DeviceID())
}

// LoadSession returns the stored session or a fresh one (libsignal's
// contract: never nil).
func (m *sigStore) LoadSession(ctx context.Context, a *protocol.SignalAddress) (*record.Session, error) {
	var sealed []byte
	err := m.db.QueryRowContext(ctx, `SELECT record FROM sessions WHERE jid = ? AND device = ?`, a.Name(), a.DeviceID()).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return record.NewSession(m.ser.Session, m.ser.State), nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := m.s.open("session", sessionAD(a), sealed)
	if err != nil {
		return nil, err
	}
	return record.NewSessionFromBytes(raw, m.ser.Session, m.ser.State)
}

func (m *sigStore) GetSubDeviceSessions(ctx context.Context, name string) ([]uint32, error) {
	return deviceIDs(ctx, m.db, `SELECT device FROM sessions WHERE jid = ?`, name)
}

func (m *sigStore) StoreSession(ctx context.Context, a *protocol.SignalAddress, r *record.Session) error {
	_, err := m.db.ExecContext(ctx, `INSERT OR REPLACE INTO sessions (jid, device, record) VALUES (?, ?, ?)`,
		a.Name(), a.DeviceID(), m.s.seal("session", sessionAD(a), r.Serialize()))
	return err
}

func (m *sigStore) ContainsSession(ctx context.Context, a *protocol.SignalAddress) (bool, error) {
	var n int
	err := m.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE jid = ? AND device = ?`, a.Name(), a.DeviceID()).Scan(&n)
	return n > 0, err
}

func (m *sigStore) DeleteSession(ctx context.Context, a *protocol.SignalAddress) error {
	_, err := m.db.ExecContext(ctx, `DELETE FROM sessions WHERE jid = ? AND device = ?`, a.Name(), a.DeviceID())
	return err
}

func (m *sigStore) DeleteAllSessions(ctx context.Context) error {
	_, err := m.db.ExecContext(ctx, `DELETE FROM sessions`)
	return err
}
