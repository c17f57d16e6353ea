package omemo

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/serialize"
	"go.mau.fi/libsignal/state/record"
)

// Prekey pool: 100 published; refilled when a prekey message consumed one
// and fewer than refillBelow remain.
const (
	preKeyCount  = 100
	refillBelow  = 80
	signedPreKey = 1
)

// Manager is OMEMO for one account: its identity, its sessions with
// contacts' devices, the devices it knows, and what it already decrypted.
// Methods are safe for concurrent use; store and ratchet work is serialised.
type Manager struct {
	own    string // our bare JID
	db     *sql.DB
	s      *sealer
	ser    *serialize.Serializer
	log    zerolog.Logger
	device uint32
	regID  uint32
	ident  *identity.KeyPair

	mu sync.Mutex // store and ratchet work
	// republish: a prekey was consumed and the pool refilled; the bundle
	// on the server must be published again.
	republish bool
	news      []DeviceNews

	fmu     sync.Mutex
	badUtil map[string]time.Time // jid/device whose bundle failed, until
}

// DeviceNews is a device whose identity key we learnt (New) or whose key
// changed and was refused (Changed), for the conversation to show.
type DeviceNews struct {
	JID         string
	Device      uint32
	Fingerprint string
	Changed     bool
}

// Open opens (or creates) the store at path, sealed under key, for the
// account own (a bare JID). A first open makes the device: a random
// 31-bit id, an identity key pair, a signed prekey and 100 prekeys.
func Open(ctx context.Context, path string, key []byte, own string, log zerolog.Logger) (*Manager, error) {
	quietSignal()
	db, s, err := openDB(ctx, path, key)
	if err != nil {
		return nil, err
	}
	m := &Manager{own: own, db: db, s: s, ser: serialize.NewProtoBufSerializer(), log: log, badUtil: map[string]time.Time{}}
	if err := m.loadOrCreate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return m, nil
}

// Close closes the store.
func (m *Manager) Close() error { return m.db.Close() }

// DeviceID is our device id.
func (m *Manager) DeviceID() uint32 { return m.device }

// Fingerprint is our identity key's fingerprint as clients show it.
func (m *Manager) Fingerprint() string { return Fingerprint(m.ident.PublicKey().Serialize()) }

// Own is the account's bare JID.
func (m *Manager) Own() string { return m.own }

func (m *Manager) meta(ctx context.Context, k string) ([]byte, error) {
	var v []byte
	err := m.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

func (m *Manager) setMeta(ctx context.Context, k string, v []byte) error {
	_, err := m.db.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, k, v)
	return err
}

func randomDeviceID() uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		if id := binary.BigEndian.Uint32(b[:]) & 0x7fffffff; id != 0 {
			return id
		}
	}
}

func (m *Manager) loadOrCreate(ctx context.Context) error {
	dev, err := m.meta(ctx, "device")
	if err != nil {
		return fmt.Errorf("omemo store: %w", err)
	}
	if dev == nil {
		return m.create(ctx)
	}
	n, err := strconv.ParseUint(string(dev), 10, 32)
	if err != nil {
		return fmt.Errorf("omemo store: bad device id %q", dev)
	}
	m.device = uint32(n)
	reg, err := m.meta(ctx, "registration")
	if err != nil || len(reg) != 4 {
		return fmt.Errorf("omemo store: registration id missing")
	}
	m.regID = binary.BigEndian.Uint32(reg)
	sealed, err := m.meta(ctx, "identity")
	if err != nil || sealed == nil {
		return fmt.Errorf("omemo store: identity key missing")
	}
	raw, err := m.s.open("identity", m.own, sealed)
	if err != nil {
		return err
	}
	if len(raw) != 64 {
		return errors.New("omemo store: identity key damaged")
	}
	m.ident = keyPair(raw[:32], raw[32:])
	return nil
}

func keyPair(priv, pub []byte) *identity.KeyPair {
	var pr, pu [32]byte
	copy(pr[:], priv)
	copy(pu[:], pub)
	return identity.NewKeyPair(identity.NewKey(ecc.NewDjbECPublicKey(pu)), ecc.NewDjbECPrivateKey(pr))
}

// create makes a new device in one transaction.
func (m *Manager) create(ctx context.Context) error {
	kp, err := ecc.GenerateKeyPair()
	if err != nil {
		return err
	}
	priv := kp.PrivateKey().Serialize()
	pub := kp.PublicKey().PublicKey()
	m.ident = keyPair(priv[:], pub[:])
	m.device = randomDeviceID()
	var rb [2]byte
	rand.Read(rb[:])
	m.regID = uint32(binary.BigEndian.Uint16(rb[:]))%16380 + 1
	spk, err := ecc.GenerateKeyPair()
	if err != nil {
		return err
	}
	sig := ecc.CalculateSignature(m.ident.PrivateKey(), spk.PublicKey().Serialize())
	srec := record.NewSignedPreKey(signedPreKey, time.Now().UnixMilli(), spk, sig, m.ser.SignedPreKeyRecord)
	if err := m.store().StoreSignedPreKey(ctx, signedPreKey, srec); err != nil {
		return err
	}
	if err := m.fillPreKeys(ctx); err != nil {
		return err
	}
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], m.regID)
	if err := m.setMeta(ctx, "registration", reg[:]); err != nil {
		return err
	}
	if err := m.setMeta(ctx, "identity", m.s.seal("identity", m.own, append(priv[:], pub[:]...))); err != nil {
		return err
	}
	// Last: a crash before this leaves no device id, and the next open
	// starts over.
	if err := m.setMeta(ctx, "device", []byte(strconv.FormatUint(uint64(m.device), 10))); err != nil {
		return err
	}
	m.log.Info().Uint32("device", m.device).Msg("OMEMO device created")
	return nil
}

// fillPreKeys tops the prekey pool up to preKeyCount with new ids (never
// reusing one a peer may still hold).
func (m *Manager) fillPreKeys(ctx context.Context) error {
	var have int
	if err := m.db.QueryRowContext(ctx, `SELECT count(*) FROM prekeys`).Scan(&have); err != nil {
		return err
	}
	next := uint32(1)
	if v, err := m.meta(ctx, "next_prekey"); err != nil {
		return err
	} else if len(v) == 4 {
		next = binary.BigEndian.Uint32(v)
	}
	for ; have < preKeyCount; have++ {
		kp, err := ecc.GenerateKeyPair()
		if err != nil {
			return err
		}
		if next == 0 || next > 0xfffffe {
			next = 1 // libsignal's medium range
		}
		if err := m.store().StorePreKey(ctx, next, record.NewPreKey(next, kp, m.ser.PreKeyRecord)); err != nil {
			return err
		}
		next++
	}
	var nb [4]byte
	binary.BigEndian.PutUint32(nb[:], next)
	return m.setMeta(ctx, "next_prekey", nb[:])
}
