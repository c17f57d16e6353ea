package xmpp

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

// The trust model (issue 15): a contact's first devices are trusted on
// first use (E2EE, unverified); the user compares fingerprints in the
// person view (CodeComparer), which makes them E2EE verified; a device
// added later is not compared, so the contact drops back to E2EE until
// the user looks again. Our own devices never change a contact's class.

var _ protocols.CodeComparer = (*Connector)(nil)

// SecurityCode lists peer's OMEMO devices a message goes to, with their
// fingerprints and whether the user compared them, and ours.
func (c *Connector) SecurityCode(ctx context.Context, peer protocols.Address) (protocols.SecurityCode, error) {
	if c.om == nil {
		return protocols.SecurityCode{}, protocols.ErrUnsupported
	}
	p, err := jid.Parse(peer.ID)
	if err != nil {
		return protocols.SecurityCode{}, fmt.Errorf("xmpp: %w", err)
	}
	devs, err := c.om.Devices(ctx, p.Bare().String())
	if err != nil {
		return protocols.SecurityCode{}, err
	}
	sc := protocols.SecurityCode{Devices: recipients(devs)}
	if len(sc.Devices) == 0 {
		return protocols.SecurityCode{}, protocols.ErrUnknownPeer
	}
	sc.Compared = allCompared(sc.Devices)
	sc.This = protocols.DeviceKey{ID: strconv.FormatUint(uint64(c.om.DeviceID()), 10), Fingerprint: plainFingerprint(c.om.Fingerprint())}
	own, err := c.om.Devices(ctx, c.me.String())
	if err != nil {
		return protocols.SecurityCode{}, err
	}
	for _, d := range recipients(own) {
		if d.ID != sc.This.ID {
			sc.OwnDevices = append(sc.OwnDevices, d)
		}
	}
	return sc, nil
}

// MarkCompared records that the user compared every device SecurityCode
// showed; a device list that changed since then is refused.
func (c *Connector) MarkCompared(ctx context.Context, peer protocols.Address, token string) error {
	sc, err := c.SecurityCode(ctx, peer)
	if err != nil {
		return err
	}
	if sc.Token() != token {
		return protocols.ErrCodeChanged
	}
	p, _ := jid.Parse(peer.ID)
	for _, d := range sc.Devices {
		if d.Fingerprint == "" {
			continue // no key seen yet: nothing was compared, it stays new
		}
		id, err := strconv.ParseUint(d.ID, 10, 32)
		if err != nil {
			return err
		}
		if err := c.om.SetCompared(ctx, p.Bare().String(), uint32(id), true); err != nil {
			return err
		}
	}
	return nil
}

// peerVerified says every device a message to peer goes to was compared.
func (c *Connector) peerVerified(ctx context.Context, peer string) bool {
	if c.om == nil {
		return false
	}
	devs, err := c.om.Devices(ctx, peer)
	if err != nil {
		return false
	}
	keys := recipients(devs)
	return len(keys) > 0 && allCompared(keys)
}

// omemoClass is the class an OMEMO message to (or from) peer has.
func (c *Connector) omemoClass(ctx context.Context, peer string) protocols.Encryption {
	if c.peerVerified(ctx, peer) {
		return protocols.EncE2EEVerified
	}
	return protocols.EncE2EE
}

// recipients are the devices of a list a message is encrypted to: active
// ones (in the current device list). One whose key is not known yet has
// an empty fingerprint and counts as not compared.
func recipients(devs []omemo.DeviceInfo) []protocols.DeviceKey {
	var out []protocols.DeviceKey
	for _, d := range devs {
		if d.Active {
			out = append(out, protocols.DeviceKey{ID: strconv.FormatUint(uint64(d.Device), 10), Fingerprint: plainFingerprint(d.Fingerprint), Compared: d.Compared && d.Fingerprint != ""})
		}
	}
	return out
}

func allCompared(keys []protocols.DeviceKey) bool {
	for _, k := range keys {
		if !k.Compared {
			return false
		}
	}
	return true
}

// plainFingerprint is the fingerprint as one hex string (the person view
// groups it itself, and the compare token must not depend on spacing).
func plainFingerprint(fp string) string { return strings.ReplaceAll(fp, " ", "") }

// sentVerified says a decrypted message counts as E2EE verified: it came
// from a contact's device the user compared, or from another device of
// ours in a chat whose devices are all compared.
func (c *Connector) sentVerified(sender jid.JID, device uint32, chat jid.JID) bool {
	ctx := context.Background()
	if sender.Equal(c.me) {
		return c.peerVerified(ctx, chat.Bare().String())
	}
	devs, err := c.om.Devices(ctx, sender.Bare().String())
	if err != nil {
		return false
	}
	for _, d := range devs {
		if d.Device == device {
			return d.Compared && d.Fingerprint != ""
		}
	}
	return false
}

// anyCompared says the user compared some device of peer: a device new to
// them then ends their verification (KeyChangeEvent.EndsVerification).
func (c *Connector) anyCompared(peer string) bool {
	devs, err := c.om.Devices(context.Background(), peer)
	if err != nil {
		return false
	}
	for _, d := range devs {
		if d.Compared {
			return true
		}
	}
	return false
}
