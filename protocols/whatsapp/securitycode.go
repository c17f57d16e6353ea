package whatsapp

import (
	"context"
	"crypto/sha512"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/fingerprint"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/whatsmeow/types"

	"polyglot/protocols"
)

// Security codes. WhatsApp's security code is Signal's safety number
// (WhatsApp security whitepaper, "Verifying Keys"): each side's 30 digits
// come from SHA-512 iterated 5200 times over the identity key and the
// user's identifier, and the 60 digits are both halves, the smaller first,
// so both phones show the same number. libsignal-go has the display half
// (fingerprint.NewDisplay) but not the numeric generator: fingerprintHash
// is that generator, as libsignal's NumericFingerprintGenerator defines it.
//
// The keys are the accounts' identity keys, not a linked device's own:
// for us the phone's key (Store.Account.AccountSignatureKey, which signs
// this device's link), for the contact the key of their primary device
// (device 0), the one WhatsApp announces as changed.

// fingerprintIterations is libsignal's count for 60-digit codes
// ("5200 > 112 bits"), the one WhatsApp and Signal use.
const fingerprintIterations = 5200

// fingerprintVersion is the hash version libsignal prefixes (two bytes).
const fingerprintVersion = 0

// fingerprintHash is one side's hash: H_0 = version ‖ key ‖ id,
// H_i = SHA-512(H_{i-1} ‖ key); key is the serialized public key (0x05 ‖ 32
// bytes). The display uses its first 30 bytes.
func fingerprintHash(id string, key [32]byte) []byte {
	pub := identity.NewKey(ecc.NewDjbECPublicKey(key)).Serialize()
	h := make([]byte, 0, 2+len(pub)+len(id))
	h = append(h, byte(fingerprintVersion>>8), byte(fingerprintVersion))
	h = append(h, pub...)
	h = append(h, id...)
	for range fingerprintIterations {
		d := sha512.New()
		d.Write(h)
		d.Write(pub)
		h = d.Sum(nil)
	}
	return h
}

// safetyNumber is the 60-digit code of two users, the same whichever side
// computes it.
func safetyNumber(localID string, localKey [32]byte, remoteID string, remoteKey [32]byte) string {
	return fingerprint.NewDisplay(fingerprintHash(localID, localKey), fingerprintHash(remoteID, remoteKey)).DisplayText()
}

// codeKey is what a code is computed from: the cache key.
type codeKey struct {
	own, peer       string
	ownKey, peerKey [32]byte
}

// code is safetyNumber, remembered: the person view asks on every refresh
// and one computation takes milliseconds (2 × 5200 SHA-512).
func (c *Connector) code(own types.JID, ownKey [32]byte, peer types.JID, peerKey [32]byte) string {
	k := codeKey{stableID(own), stableID(peer), ownKey, peerKey}
	c.mu.Lock()
	d, ok := c.codes[k]
	c.mu.Unlock()
	if ok {
		return d
	}
	d = safetyNumber(k.own, ownKey, k.peer, peerKey)
	c.mu.Lock()
	if len(c.codes) >= 256 {
		clear(c.codes)
	}
	c.codes[k] = d
	c.mu.Unlock()
	return d
}

// stableID is a WhatsApp user's identifier in the code: the phone number
// as the JID's user part (digits, no +).
func stableID(j types.JID) string { return j.User }

// peerJID is the phone-number JID of a 1:1 peer address.
func peerJID(peer protocols.Address) (types.JID, error) {
	j, err := ParseAddress(peer.ID)
	if err != nil {
		return types.JID{}, err
	}
	if j.Server != types.DefaultUserServer {
		return types.JID{}, fmt.Errorf("whatsapp: %s is not a person: %w", peer.ID, protocols.ErrUnknownPeer)
	}
	return j, nil
}

// ownIdentity is the phone's (the account's) identity key.
func (c *Connector) ownIdentity() (types.JID, [32]byte, error) {
	var k [32]byte
	st := c.cli.Store
	if st.ID == nil || st.Account == nil || len(st.Account.GetAccountSignatureKey()) != 32 {
		return types.JID{}, k, fmt.Errorf("whatsapp: this device is not linked: %w", protocols.ErrNotConnected)
	}
	copy(k[:], st.Account.GetAccountSignatureKey())
	return st.ID.ToNonAD(), k, nil
}

// peerIdentity is the stored identity key of peer's primary device: under
// their LID (whatsmeow moves sessions there) or their phone number.
// ErrUnknownPeer when no session was ever set up with them.
func (c *Connector) peerIdentity(ctx context.Context, peer types.JID) ([32]byte, error) {
	var k [32]byte
	if c.cli.Store.ID == nil {
		return k, protocols.ErrNotConnected
	}
	addrs := []string{}
	if c.cli.Store.LIDs != nil {
		if lid, err := c.cli.Store.LIDs.GetLIDForPN(ctx, peer); err == nil && !lid.IsEmpty() {
			addrs = append(addrs, lid.ToNonAD().SignalAddress().String())
		}
	}
	addrs = append(addrs, peer.ToNonAD().SignalAddress().String())
	for _, a := range addrs {
		var b []byte
		err := c.st.db.QueryRowContext(ctx, `SELECT identity FROM whatsmeow_identity_keys WHERE our_jid = ? AND their_id = ?`,
			c.cli.Store.ID.String(), a).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return k, fmt.Errorf("whatsapp: reading %s's identity key: %w", peer.User, err)
		}
		if len(b) != 32 {
			return k, fmt.Errorf("whatsapp: %s's stored identity key has %d bytes", peer.User, len(b))
		}
		copy(k[:], c.st.s.mask(purposeContactID, a, b)) // masked as sealedStore.PutIdentity wrote it
		return k, nil
	}
	return k, fmt.Errorf("whatsapp: no identity key of %s yet (exchange a message first): %w", peer.User, protocols.ErrUnknownPeer)
}

// SecurityCode is peer's code now and whether the user compared it.
func (c *Connector) SecurityCode(ctx context.Context, peer protocols.Address) (protocols.SecurityCode, error) {
	j, err := peerJID(peer)
	if err != nil {
		return protocols.SecurityCode{}, err
	}
	own, ownKey, err := c.ownIdentity()
	if err != nil {
		return protocols.SecurityCode{}, err
	}
	key, err := c.peerIdentity(ctx, j)
	if err != nil {
		return protocols.SecurityCode{}, err
	}
	code := protocols.SecurityCode{Digits: c.code(own, ownKey, j, key)}
	c.mu.Lock()
	compared, ok := c.compared[j.User]
	c.mu.Unlock()
	if ok && compared == key {
		code.Compared = true
	} else if ok {
		// The key changed without an IdentityChange reaching us (it was
		// stored while Polyglot was not running): the mark is void.
		c.forgetCompared(ctx, j)
	}
	return code, nil
}

// MarkCompared records that the user compared code with peer; from then
// on the peer's class is EncE2EEVerified, until their key changes.
func (c *Connector) MarkCompared(ctx context.Context, peer protocols.Address, code string) error {
	j, err := peerJID(peer)
	if err != nil {
		return err
	}
	own, ownKey, err := c.ownIdentity()
	if err != nil {
		return err
	}
	key, err := c.peerIdentity(ctx, j)
	if err != nil {
		return err
	}
	if c.code(own, ownKey, j, key) != code {
		return protocols.ErrCodeChanged
	}
	if _, err := c.st.db.ExecContext(ctx, `INSERT INTO polyglot_compared(peer, identity) VALUES (?, ?)
		ON CONFLICT(peer) DO UPDATE SET identity = excluded.identity`, j.User, c.st.s.seal(purposeCompared, j.User, key[:])); err != nil {
		return fmt.Errorf("whatsapp: keeping the compared code: %w", err)
	}
	c.mu.Lock()
	c.compared[j.User] = key
	c.mu.Unlock()
	c.emit(protocols.KeyChangeEvent{Chat: protocols.ChatID(j.String()), Contact: c.address(j), Kind: protocols.KeyVerified, At: time.Now()})
	return nil
}

// forgetCompared drops peer's compared mark.
func (c *Connector) forgetCompared(ctx context.Context, j types.JID) bool {
	c.mu.Lock()
	_, had := c.compared[j.User]
	delete(c.compared, j.User)
	c.mu.Unlock()
	if _, err := c.st.db.ExecContext(ctx, `DELETE FROM polyglot_compared WHERE peer = ?`, j.User); err != nil {
		c.log.Warn().Err(err).Msg("could not forget a compared security code")
	}
	return had
}

// identityChanged: a contact's identity key changed (their new phone, or
// a reinstall — or someone in between). The code they compared is void;
// the conversation says so, as WhatsApp and Signal do.
func (c *Connector) identityChanged(ctx context.Context, e identityChange) {
	j := c.phoneJID(ctx, e.jid, types.EmptyJID)
	if j.Server != types.DefaultUserServer {
		return
	}
	c.forgetCompared(ctx, j)
	at := e.at
	if at.IsZero() {
		at = time.Now()
	}
	c.emit(protocols.KeyChangeEvent{Chat: protocols.ChatID(j.String()), Contact: c.address(j), Kind: protocols.KeyCodeChanged, At: at})
}

type identityChange struct {
	jid types.JID
	at  time.Time
}

// loadCompared reads the compared marks into memory: PeerEncryption
// answers from there without I/O.
func (c *Connector) loadCompared(ctx context.Context) error {
	rows, err := c.st.db.QueryContext(ctx, `SELECT peer, identity FROM polyglot_compared`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var peer string
		var b []byte
		if err := rows.Scan(&peer, &b); err != nil {
			return err
		}
		if b, err = c.st.s.open(purposeCompared, peer, b); err != nil {
			return err
		}
		if len(b) == 32 {
			c.compared[peer] = [32]byte(b)
		}
	}
	return rows.Err()
}

// peerClass is the class of a 1:1 exchange with the user j.
func (c *Connector) peerClass(j types.JID) protocols.Encryption {
	if j.Server != types.DefaultUserServer {
		return protocols.EncE2EE
	}
	c.mu.Lock()
	_, ok := c.compared[j.User]
	c.mu.Unlock()
	if ok {
		return protocols.EncE2EEVerified
	}
	return protocols.EncE2EE
}
