package xmpp

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

// OMEMO glue: the omemo package does the cryptography and keeps its store;
// this file gives it IQ round trips and maps its results to events.

// openOMEMO opens the account's omemo.db when a store key was given.
func (c *Connector) openOMEMO() error {
	if len(c.cfg.OMEMOKey) == 0 || c.cfg.DataDir == "" {
		return nil // OMEMO off: messages travel with TLS only
	}
	path := filepath.Join(c.cfg.DataDir, omemo.FileName)
	m, err := omemo.Open(context.Background(), path, c.cfg.OMEMOKey, c.me.String(), c.log)
	if errors.Is(err, omemo.ErrWrongKey) {
		// Not retried: the keystore no longer holds the key this device's
		// secrets are sealed under.
		return fmt.Errorf("xmpp: %w: %v; move %s away to start a new OMEMO device", protocols.ErrAuthFailed, err, path)
	}
	if err != nil {
		return fmt.Errorf("xmpp: %w", err)
	}
	c.om = m
	return nil
}

// omemoIQ is the omemo package's view of the link: one IQ round trip on
// the current session, ended with it.
func (c *Connector) omemoIQ(ctx context.Context, typ, to string, payload, reply any) error {
	sess, _, err := c.session()
	if err != nil {
		return err
	}
	ctx, cancel := c.linked(ctx)
	defer cancel()
	return c.iq(ctx, sess, typ, to, payload, reply)
}

// publishOMEMO adds this device to our device list and publishes its
// bundle. A failure is logged: the account still works with TLS only, and
// the next connect tries again.
func (c *Connector) publishOMEMO(ctx context.Context) {
	if c.om == nil {
		return
	}
	if err := c.om.Publish(ctx, c.omemoIQ); err != nil {
		c.log.Warn().Err(err).Msg("OMEMO device not published")
		return
	}
	c.log.Info().Uint32("device", c.om.DeviceID()).Str("fingerprint", c.om.Fingerprint()).Msg("OMEMO device published")
}

// republish publishes the bundle again after the prekey pool was refilled.
// It runs on its own goroutine: the read loop must not wait for an IQ.
func (c *Connector) republish() {
	if c.om == nil || !c.om.NeedsRepublish() || !c.republishing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.republishing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.om.PublishBundle(ctx, c.omemoIQ); err != nil {
			c.log.Warn().Err(err).Msg("OMEMO bundle not republished")
		}
	}()
}

// peerOMEMO reports, from the store, whether peer can get OMEMO.
func (c *Connector) peerOMEMO(peer string) bool {
	if c.om == nil {
		return false
	}
	j, err := jid.Parse(peer)
	if err != nil {
		return false
	}
	c.mu.Lock()
	_, room := c.rooms[j.Bare().String()]
	c.mu.Unlock()
	return !room && c.om.HasDevices(j.Bare().String())
}

// encryptFor decides how a 1:1 message to peer travels. It refreshes the
// device lists of peer and of our own account (the user is sending, so
// asking the peer's server about them is consented), then encrypts if the
// peer lists devices. It returns nil (send as is) only when the peer
// publishes no OMEMO device and min allows transport encryption: a peer
// that lists devices never gets a plaintext copy, even when none of them
// can be reached (a forged bundle) — that is ErrEncryptionUnavailable.
func (c *Connector) encryptFor(ctx context.Context, peer jid.JID, body string, min protocols.Encryption) (*omemo.Encrypted, error) {
	if c.om == nil {
		if min >= protocols.EncE2EE {
			return nil, fmt.Errorf("%w: OMEMO is not set up for this account", protocols.ErrEncryptionUnavailable)
		}
		return nil, nil
	}
	p := peer.Bare().String()
	_, ferr := c.om.FetchDeviceList(ctx, c.omemoIQ, p)
	if ferr != nil {
		c.log.Info().Err(ferr).Str("peer", p).Msg("OMEMO device list not refreshed")
	}
	if _, err := c.om.FetchDeviceList(ctx, c.omemoIQ, c.me.String()); err != nil {
		c.log.Info().Err(err).Msg("our OMEMO device list not refreshed")
	}
	if !c.om.PublishesDevices(p) {
		var se stanza.Error
		if ferr != nil && !errors.As(ferr, &se) && !errors.Is(ferr, omemo.ErrTooManyDevices) {
			// No answer (link down, timeout): whether the peer has OMEMO is
			// unknown, and guessing "no" would send the text in the clear.
			return nil, fmt.Errorf("%w: the peer's OMEMO devices could not be asked: %v", protocols.ErrNotConnected, ferr)
		}
		if min >= protocols.EncE2EE && errors.Is(ferr, omemo.ErrTooManyDevices) {
			return nil, fmt.Errorf("%w: %s's OMEMO device list refused: %w", protocols.ErrEncryptionUnavailable, p, ferr)
		}
		if min >= protocols.EncE2EE {
			return nil, fmt.Errorf("%w: %s publishes no OMEMO device", protocols.ErrEncryptionUnavailable, p)
		}
		return nil, nil
	}
	return c.sealTo(ctx, []string{p}, body)
}

// sealTo encrypts body to every device of peers (and our other devices),
// announces devices it learnt, and keeps the text for our own copy (the
// archive's, a carbon's or a room's echo), which no key of ours opens.
func (c *Connector) sealTo(ctx context.Context, peers []string, body string) (*omemo.Encrypted, error) {
	enc, err := c.om.EncryptTo(ctx, c.omemoIQ, peers, []byte(body))
	c.emitNews()
	if err != nil {
		if errors.Is(err, omemo.ErrNoDevices) {
			return nil, fmt.Errorf("%w: %v", protocols.ErrEncryptionUnavailable, err)
		}
		return nil, err
	}
	if err := c.om.RememberSent(ctx, enc, []byte(body)); err != nil {
		c.log.Warn().Err(err).Msg("OMEMO: sent text not kept for our own copy")
	}
	return enc, nil
}

// decrypted is what an incoming <encrypted> element gave.
type decrypted struct {
	body          string
	notice        string
	undecryptable bool
	keyTransport  bool
	device        uint32 // the sender's device
}

// decryptIn opens an OMEMO element from sender (a bare JID: ours for
// messages of our other devices). A failure is a notice saying why and
// which device sent it, never a silent drop.
func (c *Connector) decryptIn(sender jid.JID, enc *omemo.Encrypted) decrypted {
	if c.om == nil {
		return decrypted{undecryptable: true, notice: "could not decrypt an OMEMO message: OMEMO is not set up for this account"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := c.om.Decrypt(ctx, sender.Bare().String(), enc)
	c.republish()
	if err != nil {
		c.log.Info().Err(err).Str("from", sender.String()).Msg("OMEMO message not decrypted")
		return decrypted{undecryptable: true, notice: err.Error()}
	}
	if d.KeyTransport {
		return decrypted{keyTransport: true}
	}
	return decrypted{body: string(d.Body), device: d.Device}
}

// onPEPEvent takes a pushed device list (ours or a contact's). Our own list
// without this device (another client of ours published over it) gets it
// back.
func (c *Connector) onPEPEvent(m *inMessage) {
	list, ok := m.PEPEvent.DeviceList()
	if !ok || c.om == nil {
		return
	}
	from := c.me
	if m.From != "" {
		f, err := jid.Parse(m.From)
		if err != nil {
			return
		}
		from = f.Bare()
	}
	missing, err := c.om.OnDeviceList(context.Background(), from.String(), list)
	if err != nil {
		c.log.Warn().Err(err).Str("from", from.String()).Msg("OMEMO device list push refused")
		return
	}
	if missing {
		go c.publishOMEMO(context.Background())
	}
}

// emitNews turns devices learnt or refused into key-change events in the
// contact's conversation.
func (c *Connector) emitNews() {
	for _, ev := range c.newsEvents() {
		c.emit(ev)
	}
}

func (c *Connector) newsEvents() []protocols.Event {
	if c.om == nil {
		return nil
	}
	var evs []protocols.Event
	for _, n := range c.om.TakeNews() {
		j, err := jid.Parse(n.JID)
		if err != nil {
			continue
		}
		kind := protocols.KeyNew
		if n.Changed {
			kind = protocols.KeyChanged
		}
		evs = append(evs, protocols.KeyChangeEvent{Chat: protocols.ChatID(n.JID), Contact: c.addr(j), DeviceID: strconv.FormatUint(uint64(n.Device), 10),
			Fingerprint: n.Fingerprint, Kind: kind, EndsVerification: c.anyCompared(n.JID), At: time.Now()})
	}
	return evs
}

// OMEMO is the account's OMEMO manager (nil when off), for the trust UI:
// Devices lists a contact's devices with fingerprints, SetCompared marks
// one compared, Fingerprint/DeviceID are our own.
func (c *Connector) OMEMO() *omemo.Manager { return c.om }
