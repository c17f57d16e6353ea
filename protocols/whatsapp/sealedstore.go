package whatsapp

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Purposes: each names one kind of secret and derives its own key.
const (
	purposeNoise        = "device noise key"
	purposeIdentity     = "device identity key"
	purposeSignedPreKey = "device signed prekey"
	purposeAdv          = "device adv secret key"
	purposeContactID    = "contact identity key"
	purposeSession      = "signal session"
	purposePreKey       = "prekey"
	purposeSenderKey    = "sender key"
	purposeAppStateKey  = "app state sync key"
	purposeMsgSecret    = "message secret"
	purposePrivacyToken = "privacy token"
	purposeNCTSalt      = "nct salt"
	purposeBuffered     = "buffered event"
	purposeOutgoing     = "outgoing event"
	purposeCompared     = "compared identity key"
	purposeCheck        = "key check"
)

// sealedContainer stands in for whatsmeow's Container as every device's
// Container: Device.Save (pairing, push name and LID updates) comes here,
// so the device's own private keys reach the file masked, never raw.
type sealedContainer struct {
	inner *sqlstore.Container
	db    *dbutil.Database
	s     *sealer
}

var _ wastore.DeviceContainer = (*sealedContainer)(nil)

// firstDevice is GetFirstDevice with the device's keys unmasked and its
// stores sealed; a new (unlinked) device saves through c.
func (c *sealedContainer) firstDevice(ctx context.Context) (*wastore.Device, error) {
	dev, err := c.inner.GetFirstDevice(ctx)
	if err != nil {
		return nil, err
	}
	if !dev.Initialized {
		dev.Container = c
		return dev, nil
	}
	jid := dev.ID.String()
	dev.NoiseKey = keys.NewKeyPairFromPrivateKey(*c.s.mask32(purposeNoise, jid, dev.NoiseKey.Priv))
	dev.IdentityKey = keys.NewKeyPairFromPrivateKey(*c.s.mask32(purposeIdentity, jid, dev.IdentityKey.Priv))
	dev.SignedPreKey.KeyPair = *keys.NewKeyPairFromPrivateKey(*c.s.mask32(purposeSignedPreKey, jid, dev.SignedPreKey.Priv))
	dev.AdvSecretKey = c.s.mask(purposeAdv, jid, dev.AdvSecretKey)
	c.attach(dev)
	return dev, nil
}

func (c *sealedContainer) newDevice() *wastore.Device {
	dev := c.inner.NewDevice()
	dev.Container = c
	return dev
}

// attach gives dev sealed stores over whatsmeow's SQL store.
func (c *sealedContainer) attach(dev *wastore.Device) {
	inner := sqlstore.NewSQLStore(c.inner, *dev.ID)
	dev.SetAllStores(&sealedStore{AllSessionSpecificStores: inner, db: c.db, s: c.s, jid: inner.JID})
	dev.LIDs = c.inner.LIDMap
	dev.Container = c
	dev.Initialized = true
}

// PutDevice saves a copy of dev whose private keys are masked (whatsmeow's
// schema pins them to 32 bytes, so they cannot be sealed; they are written
// once and never change, see sealer.mask). whatsmeow's upsert never
// rewrites the key columns, so every later Save leaves them as they are.
func (c *sealedContainer) PutDevice(ctx context.Context, dev *wastore.Device) error {
	if dev.ID == nil {
		return sqlstore.ErrDeviceIDMustBeSet
	}
	jid := dev.ID.String()
	shadow := *dev
	shadow.NoiseKey = &keys.KeyPair{Pub: dev.NoiseKey.Pub, Priv: c.s.mask32(purposeNoise, jid, dev.NoiseKey.Priv)}
	shadow.IdentityKey = &keys.KeyPair{Pub: dev.IdentityKey.Pub, Priv: c.s.mask32(purposeIdentity, jid, dev.IdentityKey.Priv)}
	shadow.SignedPreKey = &keys.PreKey{
		KeyPair:   keys.KeyPair{Pub: dev.SignedPreKey.Pub, Priv: c.s.mask32(purposeSignedPreKey, jid, dev.SignedPreKey.Priv)},
		KeyID:     dev.SignedPreKey.KeyID,
		Signature: dev.SignedPreKey.Signature,
	}
	shadow.AdvSecretKey = c.s.mask(purposeAdv, jid, dev.AdvSecretKey)
	err := c.inner.PutDevice(ctx, &shadow)
	if !dev.Initialized && shadow.Initialized {
		// whatsmeow gave the copy its stores; the device itself gets sealed ones.
		c.attach(dev)
	}
	return err
}

func (c *sealedContainer) DeleteDevice(ctx context.Context, dev *wastore.Device) error {
	return c.inner.DeleteDevice(ctx, dev)
}

// sealedStore is one device's stores: whatsmeow's SQL store underneath,
// with every method that carries a private key or session secret
// overridden to seal on the way in and open on the way out. What is not
// secret (contacts, chat settings, app state versions and MACs) passes
// through. Prekeys live in polyglot_pre_keys, because whatsmeow generates
// and inserts them raw inside its own methods.
type sealedStore struct {
	wastore.AllSessionSpecificStores
	db  *dbutil.Database
	s   *sealer
	jid string

	preKeyMu sync.Mutex
	migrated sync.Map // pn signal users moved to their LID in this run
}

var _ wastore.AllSessionSpecificStores = (*sealedStore)(nil)

// Identities: contacts' identity keys are masked per address (the column
// must stay 32 bytes); a deterministic mask keeps IsTrustedIdentity's
// equality check working on masked values.

func (st *sealedStore) PutIdentity(ctx context.Context, address string, key [32]byte) error {
	return st.AllSessionSpecificStores.PutIdentity(ctx, address, *st.s.mask32(purposeContactID, address, &key))
}

func (st *sealedStore) IsTrustedIdentity(ctx context.Context, address string, key [32]byte) (bool, error) {
	return st.AllSessionSpecificStores.IsTrustedIdentity(ctx, address, *st.s.mask32(purposeContactID, address, &key))
}

// Sessions.

func (st *sealedStore) GetSession(ctx context.Context, address string) ([]byte, error) {
	raw, err := st.AllSessionSpecificStores.GetSession(ctx, address)
	if err != nil {
		return nil, err
	}
	return st.s.open(purposeSession, address, raw)
}

func (st *sealedStore) GetManySessions(ctx context.Context, addresses []string) (map[string][]byte, error) {
	raw, err := st.AllSessionSpecificStores.GetManySessions(ctx, addresses)
	if err != nil {
		return nil, err
	}
	for addr, v := range raw {
		if raw[addr], err = st.s.open(purposeSession, addr, v); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

func (st *sealedStore) PutSession(ctx context.Context, address string, session []byte) error {
	return st.AllSessionSpecificStores.PutSession(ctx, address, st.s.seal(purposeSession, address, session))
}

func (st *sealedStore) PutManySessions(ctx context.Context, sessions map[string][]byte) error {
	sealed := make(map[string][]byte, len(sessions))
	for addr, v := range sessions {
		sealed[addr] = st.s.seal(purposeSession, addr, v)
	}
	return st.AllSessionSpecificStores.PutManySessions(ctx, sealed)
}

// MigratePNToLID does what whatsmeow's does (move a contact's sessions,
// identity keys and sender keys from their phone number to their LID, in
// one transaction), but re-seals each value for its new address: SQL
// alone would copy values bound to the old one.
func (st *sealedStore) MigratePNToLID(ctx context.Context, pn, lid types.JID) error {
	pnSignal := pn.SignalAddressUser()
	if _, done := st.migrated.LoadOrStore(pnSignal, true); done {
		return nil
	}
	lidSignal := lid.SignalAddressUser()
	moved := func(addr string) string { return strings.ReplaceAll(addr, pnSignal, lidSignal) }
	err := st.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		sessions, err := st.rows(ctx, `SELECT their_id, '', session FROM whatsmeow_sessions WHERE our_jid=$1 AND their_id LIKE $2 || ':%'`, pnSignal)
		if err != nil {
			return fmt.Errorf("failed to migrate sessions: %w", err)
		}
		for _, r := range sessions {
			plain, err := st.s.open(purposeSession, r.a, r.v)
			if err != nil {
				return err
			}
			if _, err := st.db.Exec(ctx, `INSERT INTO whatsmeow_sessions (our_jid, their_id, session) VALUES ($1, $2, $3)
				ON CONFLICT (our_jid, their_id) DO UPDATE SET session=excluded.session`,
				st.jid, moved(r.a), st.s.seal(purposeSession, moved(r.a), plain)); err != nil {
				return fmt.Errorf("failed to migrate sessions: %w", err)
			}
		}
		if _, err := st.db.Exec(ctx, `DELETE FROM whatsmeow_sessions WHERE our_jid=$1 AND their_id LIKE $2`, st.jid, pnSignal+":%"); err != nil {
			return fmt.Errorf("failed to delete extra sessions: %w", err)
		}

		ids, err := st.rows(ctx, `SELECT their_id, '', identity FROM whatsmeow_identity_keys WHERE our_jid=$1 AND their_id LIKE $2 || ':%'`, pnSignal)
		if err != nil {
			return fmt.Errorf("failed to migrate identity keys: %w", err)
		}
		for _, r := range ids {
			plain := st.s.mask(purposeContactID, r.a, r.v)
			if _, err := st.db.Exec(ctx, `INSERT INTO whatsmeow_identity_keys (our_jid, their_id, identity) VALUES ($1, $2, $3)
				ON CONFLICT (our_jid, their_id) DO UPDATE SET identity=excluded.identity`,
				st.jid, moved(r.a), st.s.mask(purposeContactID, moved(r.a), plain)); err != nil {
				return fmt.Errorf("failed to migrate identity keys: %w", err)
			}
		}
		if _, err := st.db.Exec(ctx, `DELETE FROM whatsmeow_identity_keys WHERE our_jid=$1 AND their_id LIKE $2`, st.jid, pnSignal+":%"); err != nil {
			return fmt.Errorf("failed to delete extra identity keys: %w", err)
		}

		sks, err := st.rows(ctx, `SELECT sender_id, chat_id, sender_key FROM whatsmeow_sender_keys WHERE our_jid=$1 AND sender_id LIKE $2 || ':%'`, pnSignal)
		if err != nil {
			return fmt.Errorf("failed to migrate sender keys: %w", err)
		}
		for _, r := range sks {
			plain, err := st.s.open(purposeSenderKey, senderKeyAD(r.b, r.a), r.v)
			if err != nil {
				return err
			}
			if _, err := st.db.Exec(ctx, `INSERT INTO whatsmeow_sender_keys (our_jid, chat_id, sender_id, sender_key) VALUES ($1, $2, $3, $4)
				ON CONFLICT (our_jid, chat_id, sender_id) DO UPDATE SET sender_key=excluded.sender_key`,
				st.jid, r.b, moved(r.a), st.s.seal(purposeSenderKey, senderKeyAD(r.b, moved(r.a)), plain)); err != nil {
				return fmt.Errorf("failed to migrate sender keys: %w", err)
			}
		}
		if _, err := st.db.Exec(ctx, `DELETE FROM whatsmeow_sender_keys WHERE our_jid=$1 AND sender_id LIKE $2`, st.jid, pnSignal+":%"); err != nil {
			return fmt.Errorf("failed to delete extra sender keys: %w", err)
		}
		return nil
	})
	if err != nil {
		st.migrated.Delete(pnSignal)
	}
	return err
}

type rowAB struct {
	a, b string
	v    []byte
}

// rows reads (text, text, blob) rows of st's device, all before any write.
func (st *sealedStore) rows(ctx context.Context, query, arg string) ([]rowAB, error) {
	rs, err := st.db.Query(ctx, query, st.jid, arg)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []rowAB
	for rs.Next() {
		var r rowAB
		if err := rs.Scan(&r.a, &r.b, &r.v); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// Prekeys: whatsmeow's semantics (sqlstore's PreKeyStore), sealed, in
// polyglot_pre_keys.

func (st *sealedStore) nextPreKeyID(ctx context.Context) (uint32, error) {
	var last sql.NullInt32
	if err := st.db.QueryRow(ctx, `SELECT MAX(key_id) FROM polyglot_pre_keys WHERE jid=$1`, st.jid).Scan(&last); err != nil {
		return 0, fmt.Errorf("failed to query next prekey ID: %w", err)
	}
	return uint32(last.Int32) + 1, nil
}

func (st *sealedStore) genPreKey(ctx context.Context, id uint32, uploaded bool) (*keys.PreKey, error) {
	key := keys.NewPreKey(id)
	_, err := st.db.Exec(ctx, `INSERT INTO polyglot_pre_keys (jid, key_id, key, uploaded) VALUES ($1, $2, $3, $4)`,
		st.jid, key.KeyID, st.s.seal(purposePreKey, preKeyAD(id), key.Priv[:]), uploaded)
	return key, err
}

func (st *sealedStore) GenOnePreKey(ctx context.Context) (*keys.PreKey, error) {
	st.preKeyMu.Lock()
	defer st.preKeyMu.Unlock()
	id, err := st.nextPreKeyID(ctx)
	if err != nil {
		return nil, err
	}
	return st.genPreKey(ctx, id, true)
}

func (st *sealedStore) GetOrGenPreKeys(ctx context.Context, count uint32) ([]*keys.PreKey, error) {
	st.preKeyMu.Lock()
	defer st.preKeyMu.Unlock()
	rs, err := st.db.Query(ctx, `SELECT key_id, key FROM polyglot_pre_keys WHERE jid=$1 AND uploaded=false ORDER BY key_id LIMIT $2`, st.jid, count)
	if err != nil {
		return nil, fmt.Errorf("failed to query existing prekeys: %w", err)
	}
	var got []*keys.PreKey
	for rs.Next() {
		k, err := st.scanPreKey(rs)
		if err != nil {
			rs.Close()
			return nil, fmt.Errorf("failed to query existing prekeys: %w", err)
		}
		got = append(got, k)
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return nil, fmt.Errorf("failed to query existing prekeys: %w", err)
	}
	have := uint32(len(got))
	if count > have {
		next, err := st.nextPreKeyID(ctx)
		if err != nil {
			return nil, err
		}
		got = slices.Grow(got, int(count-have))
		for i := have; i < count; i++ {
			k, err := st.genPreKey(ctx, next, false)
			if err != nil {
				return nil, fmt.Errorf("failed to generate prekey: %w", err)
			}
			got = append(got, k)
			next++
		}
	}
	return got, nil
}

func (st *sealedStore) scanPreKey(row dbutil.Scannable) (*keys.PreKey, error) {
	var id uint32
	var sealed []byte
	if err := row.Scan(&id, &sealed); err != nil {
		return nil, err
	}
	priv, err := st.s.open(purposePreKey, preKeyAD(id), sealed)
	if err != nil {
		return nil, err
	}
	if len(priv) != 32 {
		return nil, sqlstore.ErrInvalidLength
	}
	return &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey(*(*[32]byte)(priv)), KeyID: id}, nil
}

func (st *sealedStore) GetPreKey(ctx context.Context, id uint32) (*keys.PreKey, error) {
	k, err := st.scanPreKey(st.db.QueryRow(ctx, `SELECT key_id, key FROM polyglot_pre_keys WHERE jid=$1 AND key_id=$2`, st.jid, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return k, err
}

func (st *sealedStore) RemovePreKey(ctx context.Context, id uint32) error {
	_, err := st.db.Exec(ctx, `DELETE FROM polyglot_pre_keys WHERE jid=$1 AND key_id=$2`, st.jid, id)
	return err
}

func (st *sealedStore) MarkPreKeysAsUploaded(ctx context.Context, upToID uint32) error {
	_, err := st.db.Exec(ctx, `UPDATE polyglot_pre_keys SET uploaded=true WHERE jid=$1 AND key_id<=$2`, st.jid, upToID)
	return err
}

func (st *sealedStore) UploadedPreKeyCount(ctx context.Context) (n int, err error) {
	err = st.db.QueryRow(ctx, `SELECT COUNT(*) FROM polyglot_pre_keys WHERE jid=$1 AND uploaded=true`, st.jid).Scan(&n)
	return n, err
}

func preKeyAD(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

// Sender keys.

func senderKeyAD(group, user string) string { return group + "\x00" + user }

func (st *sealedStore) PutSenderKey(ctx context.Context, group, user string, session []byte) error {
	return st.AllSessionSpecificStores.PutSenderKey(ctx, group, user, st.s.seal(purposeSenderKey, senderKeyAD(group, user), session))
}

func (st *sealedStore) GetSenderKey(ctx context.Context, group, user string) ([]byte, error) {
	raw, err := st.AllSessionSpecificStores.GetSenderKey(ctx, group, user)
	if err != nil {
		return nil, err
	}
	return st.s.open(purposeSenderKey, senderKeyAD(group, user), raw)
}

// App state sync keys: GetAllAppStateSyncKeys returns keys without their
// IDs, so the ID is sealed inside the value (and checked by
// GetAppStateSyncKey) rather than passed as associated data.

func (st *sealedStore) PutAppStateSyncKey(ctx context.Context, id []byte, key wastore.AppStateSyncKey) error {
	payload := binary.AppendUvarint(nil, uint64(len(id)))
	payload = append(append(payload, id...), key.Data...)
	key.Data = st.s.seal(purposeAppStateKey, "", payload)
	return st.AllSessionSpecificStores.PutAppStateSyncKey(ctx, id, key)
}

func (st *sealedStore) openAppStateKey(k *wastore.AppStateSyncKey) ([]byte, error) {
	payload, err := st.s.open(purposeAppStateKey, "", k.Data)
	if err != nil {
		return nil, err
	}
	n, used := binary.Uvarint(payload)
	if used <= 0 || uint64(len(payload)-used) < n {
		return nil, fmt.Errorf("whatsapp store: a sealed %s is malformed", purposeAppStateKey)
	}
	id := payload[used : used+int(n)]
	k.Data = payload[used+int(n):]
	return id, nil
}

func (st *sealedStore) GetAppStateSyncKey(ctx context.Context, id []byte) (*wastore.AppStateSyncKey, error) {
	k, err := st.AllSessionSpecificStores.GetAppStateSyncKey(ctx, id)
	if err != nil || k == nil {
		return k, err
	}
	sealedID, err := st.openAppStateKey(k)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(sealedID, id) {
		return nil, fmt.Errorf("whatsapp store: the %s stored under one ID was sealed for another", purposeAppStateKey)
	}
	return k, nil
}

func (st *sealedStore) GetAllAppStateSyncKeys(ctx context.Context) ([]*wastore.AppStateSyncKey, error) {
	all, err := st.AllSessionSpecificStores.GetAllAppStateSyncKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range all {
		if _, err := st.openAppStateKey(k); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Message secrets: whatsmeow finds them under the chat's or sender's
// phone number or LID, so only the message ID binds them.

func (st *sealedStore) PutMessageSecrets(ctx context.Context, inserts []wastore.MessageSecretInsert) error {
	sealed := make([]wastore.MessageSecretInsert, len(inserts))
	for i, in := range inserts {
		in.Secret = st.s.seal(purposeMsgSecret, in.ID, in.Secret)
		sealed[i] = in
	}
	return st.AllSessionSpecificStores.PutMessageSecrets(ctx, sealed)
}

func (st *sealedStore) PutMessageSecret(ctx context.Context, chat, sender types.JID, id types.MessageID, secret []byte) error {
	return st.AllSessionSpecificStores.PutMessageSecret(ctx, chat, sender, id, st.s.seal(purposeMsgSecret, id, secret))
}

func (st *sealedStore) GetMessageSecret(ctx context.Context, chat, sender types.JID, id types.MessageID) ([]byte, types.JID, error) {
	raw, real, err := st.AllSessionSpecificStores.GetMessageSecret(ctx, chat, sender, id)
	if err != nil || raw == nil {
		return raw, real, err
	}
	secret, err := st.s.open(purposeMsgSecret, id, raw)
	return secret, real, err
}

// Privacy tokens (looked up under phone number or LID alike: no AD).

func (st *sealedStore) PutPrivacyTokens(ctx context.Context, tokens ...wastore.PrivacyToken) error {
	sealed := make([]wastore.PrivacyToken, len(tokens))
	for i, t := range tokens {
		t.Token = st.s.seal(purposePrivacyToken, "", t.Token)
		sealed[i] = t
	}
	return st.AllSessionSpecificStores.PutPrivacyTokens(ctx, sealed...)
}

func (st *sealedStore) GetPrivacyToken(ctx context.Context, user types.JID) (*wastore.PrivacyToken, error) {
	t, err := st.AllSessionSpecificStores.GetPrivacyToken(ctx, user)
	if err != nil || t == nil {
		return t, err
	}
	if t.Token, err = st.s.open(purposePrivacyToken, "", t.Token); err != nil {
		return nil, err
	}
	return t, nil
}

func (st *sealedStore) PutNCTSalt(ctx context.Context, salt []byte) error {
	return st.AllSessionSpecificStores.PutNCTSalt(ctx, st.s.seal(purposeNCTSalt, "", salt))
}

func (st *sealedStore) GetNCTSalt(ctx context.Context) ([]byte, error) {
	raw, err := st.AllSessionSpecificStores.GetNCTSalt(ctx)
	if err != nil {
		return nil, err
	}
	return st.s.open(purposeNCTSalt, "", raw)
}

// Event buffers hold decrypted messages (incoming until handled, outgoing
// for retry receipts): sealed too.

func (st *sealedStore) GetBufferedEvent(ctx context.Context, hash [32]byte) (*wastore.BufferedEvent, error) {
	ev, err := st.AllSessionSpecificStores.GetBufferedEvent(ctx, hash)
	if err != nil || ev == nil {
		return ev, err
	}
	if ev.Plaintext, err = st.s.open(purposeBuffered, hex.EncodeToString(hash[:]), ev.Plaintext); err != nil {
		return nil, err
	}
	return ev, nil
}

func (st *sealedStore) PutBufferedEvent(ctx context.Context, hash [32]byte, plaintext []byte, serverTimestamp time.Time) error {
	return st.AllSessionSpecificStores.PutBufferedEvent(ctx, hash, st.s.seal(purposeBuffered, hex.EncodeToString(hash[:]), plaintext), serverTimestamp)
}

func (st *sealedStore) GetOutgoingEvent(ctx context.Context, chat, altChat types.JID, id types.MessageID) (string, []byte, error) {
	format, raw, err := st.AllSessionSpecificStores.GetOutgoingEvent(ctx, chat, altChat, id)
	if err != nil || raw == nil {
		return format, raw, err
	}
	plain, err := st.s.open(purposeOutgoing, id, raw)
	return format, plain, err
}

func (st *sealedStore) AddOutgoingEvent(ctx context.Context, chat types.JID, id types.MessageID, format string, plaintext []byte) error {
	return st.AllSessionSpecificStores.AddOutgoingEvent(ctx, chat, id, format, st.s.seal(purposeOutgoing, id, plaintext))
}
