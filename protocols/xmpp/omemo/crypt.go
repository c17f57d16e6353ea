package omemo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/util/optional"
)

// ErrNoDevices: the peer has no device we could encrypt to.
var ErrNoDevices = errors.New("omemo: no device of the peer can be reached")

// DecryptError says why a message could not be decrypted and which device
// sent it.
type DecryptError struct {
	Device uint32 // the sender's device id (0 if unreadable)
	Reason string
}

func (e *DecryptError) Error() string {
	if e.Device == 0 {
		return "could not decrypt an OMEMO message: " + e.Reason
	}
	return fmt.Sprintf("could not decrypt an OMEMO message from device %d: %s", e.Device, e.Reason)
}

// Decrypted is the result of Decrypt.
type Decrypted struct {
	Body []byte
	// KeyTransport: the element carried no payload (a session being set
	// up or refreshed): there is no message to show.
	KeyTransport bool
	Device       uint32 // the sender's device
}

// guard turns a panic inside libsignal (it indexes hostile bytes without
// checking) into an error.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed session message (%v)", r)
		}
	}()
	return f()
}

// Decrypt opens an <encrypted> element sent by from (a bare JID; ours for
// our own other devices' messages). A copy of a message decrypted before
// (carbon, archive, a replay after restart) gives the stored plaintext: a
// ratchet key opens once. Errors are *DecryptError.
func (m *Manager) Decrypt(ctx context.Context, from string, enc *Encrypted) (*Decrypted, error) {
	p, err := enc.Parse()
	if err != nil {
		dev := uint32(0)
		if enc != nil {
			dev, _ = ParseDeviceID(enc.Header.SID)
		}
		return nil, &DecryptError{Device: dev, Reason: strings.ReplaceAll(err.Error(), "omemo: ", "")}
	}
	fail := func(format string, a ...any) (*Decrypted, error) {
		return nil, &DecryptError{Device: p.SID, Reason: fmt.Sprintf(format, a...)}
	}
	var mine *ParsedKey
	for i := range p.Keys {
		if p.Keys[i].RID == m.device {
			mine = &p.Keys[i]
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%x\x00%x\x00", from, p.SID, p.IV, p.Payload)
	if mine != nil {
		h.Write(mine.Data)
	}
	hash := h.Sum(nil)
	if body, ok, err := m.cached(ctx, hash); err != nil {
		return fail("store: %v", err)
	} else if ok {
		return &Decrypted{Body: body, KeyTransport: p.Payload == nil, Device: p.SID}, nil
	}
	if mine == nil {
		if from == m.own && p.SID == m.device {
			return fail("sent by this device before its copy was kept")
		}
		return fail("not encrypted for this device (%d)", m.device)
	}
	if mine.Data == nil {
		return fail("the key for this device is malformed")
	}
	addr := protocol.NewSignalAddress(from, p.SID)
	var keyTag []byte
	err = guard(func() error {
		b := session.NewBuilder(m.store(), m.store(), m.store(), m.store(), addr, m.ser)
		c := session.NewCipher(b, addr)
		asPreKey := func() error {
			pm, err := protocol.NewPreKeySignalMessageFromBytes(mine.Data, m.ser.PreKeySignalMessage, m.ser.SignalMessage)
			if err != nil {
				return err
			}
			keyTag, err = c.DecryptMessage(ctx, pm)
			return err
		}
		if mine.PreKey {
			return asPreKey()
		}
		sm, err := protocol.NewSignalMessageFromBytes(mine.Data, m.ser.SignalMessage)
		if err != nil {
			// Some clients omit prekey='true'.
			if perr := asPreKey(); perr == nil {
				return nil
			}
			return err
		}
		keyTag, err = c.Decrypt(ctx, sm)
		return err
	})
	if err != nil {
		return fail("%s", describe(err))
	}
	out := &Decrypted{KeyTransport: p.Payload == nil, Device: p.SID}
	if p.Payload != nil {
		if out.Body, err = openPayload(keyTag, p.IV, p.Payload); err != nil {
			return fail("%v", err)
		}
	}
	if err := m.remember(ctx, hash, out.Body); err != nil {
		m.log.Warn().Err(err).Msg("OMEMO: decrypted message not remembered")
	}
	return out, nil
}

// describe shortens libsignal's errors to what a user can act on.
func describe(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "no session"), strings.Contains(s, "No session"):
		return "no session with that device (" + s + ")"
	case strings.Contains(s, "untrusted identity"), strings.Contains(s, "Untrusted"):
		return "the device's identity key changed; refused (" + s + ")"
	case strings.Contains(s, "old counter"), strings.Contains(s, "duplicate"):
		return "message key already used (" + s + ")"
	case strings.Contains(s, "proto"), strings.Contains(s, "malformed"), strings.Contains(s, "bad key type"),
		strings.Contains(s, "message version"), strings.Contains(s, "incomplete"):
		return "the key for this device is malformed (" + strings.ReplaceAll(s, "\u00a0", " ") + ")"
	}
	return s
}

func (m *Manager) cached(ctx context.Context, hash []byte) ([]byte, bool, error) {
	var sealed []byte
	err := m.db.QueryRowContext(ctx, `SELECT body FROM decrypted WHERE hash = ?`, hash).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	body, err := m.s.open("plaintext", fmt.Sprintf("%x", hash), sealed)
	if err != nil {
		return nil, false, err
	}
	return body, true, nil
}

// keepDecrypted bounds the plaintext cache: beyond it, the oldest go (an
// archive copy that old is past every catch-up window).
const keepDecrypted = 20000

func (m *Manager) remember(ctx context.Context, hash, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	_, err := m.db.ExecContext(ctx, `INSERT OR IGNORE INTO decrypted (hash, body, at) VALUES (?, ?, ?)`,
		hash, m.s.seal("plaintext", fmt.Sprintf("%x", hash), body), time.Now().Unix())
	if err == nil {
		_, err = m.db.ExecContext(ctx, `DELETE FROM decrypted WHERE rowid <= (SELECT max(rowid) FROM decrypted) - ?`, keepDecrypted)
	}
	return err
}

// RememberSent keeps the plaintext of a message this device encrypted, so
// its copy coming back from the archive (which we cannot decrypt: we never
// encrypt to ourselves) shows the text.
func (m *Manager) RememberSent(ctx context.Context, enc *Encrypted, body []byte) error {
	p, err := enc.Parse()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%x\x00%x\x00", m.own, p.SID, p.IV, p.Payload)
	return m.remember(ctx, h.Sum(nil), body)
}

// Encrypt encrypts body for every active device of peer and for our own
// other devices, building sessions from bundles fetched with iq where none
// exist. It fails with ErrNoDevices if no device of the peer can be reached.
// A nil body makes a key-transport element (no payload).
func (m *Manager) Encrypt(ctx context.Context, iq IQ, peer string, body []byte) (*Encrypted, error) {
	return m.EncryptTo(ctx, iq, []string{peer}, body)
}

// EncryptTo is Encrypt for several peers at once (the members of a group
// chat): one element, one key per device of every peer and of our own
// other devices. Each peer must get at least one device, or it fails with
// ErrNoDevices naming those that got none: a member left out would read
// nothing.
func (m *Manager) EncryptTo(ctx context.Context, iq IQ, peers []string, body []byte) (*Encrypted, error) {
	jids := []string{m.own}
	isPeer := map[string]bool{}
	for _, p := range peers {
		if !isPeer[p] {
			isPeer[p] = true
			if p != m.own {
				jids = append(jids, p)
			}
		}
	}
	if len(isPeer) == 0 {
		return nil, ErrNoDevices
	}
	targets := map[string][]uint32{}
	m.mu.Lock()
	for _, j := range jids {
		devs, err := m.activeDevices(ctx, j)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		targets[j] = devs
	}
	m.mu.Unlock()
	var why []string
	for _, j := range jids {
		for _, d := range targets[j] {
			if err := m.ensureSession(ctx, iq, j, d); err != nil {
				why = append(why, fmt.Sprintf("%s/%d: %v", j, d, err))
			}
		}
	}
	var payload, iv, keyTag []byte
	var err error
	if body != nil {
		payload, iv, keyTag, err = sealPayload(body)
	} else {
		keyTag = make([]byte, 32)
		iv = make([]byte, 12)
		rand.Read(keyTag)
		rand.Read(iv)
	}
	if err != nil {
		return nil, err
	}
	enc := &Encrypted{Header: Header{SID: fmt.Sprint(m.device), IV: b64(iv)}}
	if payload != nil {
		s := b64(payload)
		enc.Payload = &s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	reached := map[string]int{}
	for _, j := range jids {
		for _, d := range targets[j] {
			addr := protocol.NewSignalAddress(j, d)
			if ok, _ := m.store().ContainsSession(ctx, addr); !ok {
				continue
			}
			var cm protocol.CiphertextMessage
			err := guard(func() error {
				var err error
				cm, err = session.NewCipher(session.NewBuilder(m.store(), m.store(), m.store(), m.store(), addr, m.ser), addr).Encrypt(ctx, keyTag)
				return err
			})
			if err != nil {
				why = append(why, fmt.Sprintf("%s/%d: %v", j, d, err))
				continue
			}
			k := Key{RID: fmt.Sprint(d), Value: b64(cm.Serialize())}
			if cm.Type() == protocol.PREKEY_TYPE {
				k.PreKey = "true"
			}
			enc.Header.Keys = append(enc.Header.Keys, k)
			reached[j]++
		}
	}
	if len(why) > 0 {
		m.log.Warn().Strs("devices", why).Msg("OMEMO: some devices not reached")
	}
	var missed []string
	for _, p := range peers {
		if reached[p] == 0 && (p != m.own || len(isPeer) == 1) && !slices.Contains(missed, p) {
			missed = append(missed, p)
		}
	}
	if len(missed) > 0 {
		what := ErrNoDevices
		if len(isPeer) > 1 {
			what = fmt.Errorf("%w: %s", ErrNoDevices, strings.Join(missed, ", "))
		}
		if len(why) > 0 {
			return nil, fmt.Errorf("%w (%s)", what, strings.Join(why, "; "))
		}
		return nil, what
	}
	return enc, nil
}

// ensureSession builds a session with jid's device d from its bundle if
// there is none.
func (m *Manager) ensureSession(ctx context.Context, iq IQ, jid string, d uint32) error {
	addr := protocol.NewSignalAddress(jid, d)
	m.mu.Lock()
	ok, err := m.store().ContainsSession(ctx, addr)
	m.mu.Unlock()
	if err != nil || ok {
		return err
	}
	// Asked again at every send (the user is waiting for this message):
	// a bundle refused before (forbidden until a subscription, say) may
	// work now. The failure only keeps the device out of HasDevices.
	b, err := m.FetchBundle(ctx, iq, jid, d)
	if err == nil {
		err = m.processBundle(ctx, addr, b)
	}
	m.markFailed(jid, d, err != nil)
	return err
}

// processBundle checks the bundle's signed prekey signature (XEdDSA by
// the identity key) and starts a session on a random one of its prekeys.
func (m *Manager) processBundle(ctx context.Context, addr *protocol.SignalAddress, b *ParsedBundle) error {
	ik, err := ecc.DecodePoint(b.IdentityKey[:], 0)
	if err != nil {
		return err
	}
	spk, err := ecc.DecodePoint(b.SignedPreKey[:], 0)
	if err != nil {
		return err
	}
	if !ecc.VerifySignature(ik, b.SignedPreKey[:], b.Signature) {
		return errors.New("the bundle's signed prekey signature is bad: device refused")
	}
	var rb [4]byte
	rand.Read(rb[:])
	pk := b.PreKeys[binary.BigEndian.Uint32(rb[:])%uint32(len(b.PreKeys))]
	pkey, err := ecc.DecodePoint(pk.Key[:], 0)
	if err != nil {
		return err
	}
	bundle := prekey.NewBundle(0, addr.DeviceID(), optional.NewOptionalUint32(pk.ID), b.SignedPreKeyID,
		pkey, spk, b.Signature, identity.NewKey(ik))
	m.mu.Lock()
	defer m.mu.Unlock()
	return guard(func() error {
		return session.NewBuilder(m.store(), m.store(), m.store(), m.store(), addr, m.ser).ProcessBundle(ctx, bundle)
	})
}
