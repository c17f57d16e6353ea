package omemo

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Namespaces and nodes of OMEMO 0.3 as deployed (Conversations, Dino,
// Gajim, profanity): XEP-0384 version 0.3, "legacy OMEMO".
const (
	NS             = "eu.siacs.conversations.axolotl"
	NodeDeviceList = NS + ".devicelist"
	NodeBundles    = NS + ".bundles:" // + device id
	NSEME          = "urn:xmpp:eme:0"
	// Fallback is the body sent beside every encrypted message for clients
	// without OMEMO; it never carries the plaintext.
	Fallback = "I sent you an OMEMO encrypted message but your client doesn’t seem to support that. Find more information on https://conversations.im/omemo"
)

// Limits on what a peer may make us process.
const (
	MaxDevices  = 200  // ids in one device list
	MaxKeys     = 1000 // key elements in one message header
	MaxPreKeys  = 1000 // prekeys in one bundle
	MaxPayload  = 1 << 20
	maxKeyBytes = 4096 // one encrypted key element, decoded
)

// DeviceList is <list xmlns='eu.siacs.conversations.axolotl'>: the devices
// an account announces.
type DeviceList struct {
	XMLName xml.Name `xml:"eu.siacs.conversations.axolotl list"`
	Devices []Device `xml:"device"`
}

// Device is one <device id='…'/> of a list.
type Device struct {
	ID    string `xml:"id,attr"`
	Label string `xml:"label,attr,omitempty"`
}

// ErrTooManyDevices: a device list beyond MaxDevices is refused whole.
var ErrTooManyDevices = errors.New("omemo: device list too long")

// IDs validates the list: decimal ids in 1..2^31-1, at most MaxDevices;
// duplicates are folded. A bad id is skipped, a list too long refused.
func (l *DeviceList) IDs() ([]uint32, error) {
	if l == nil {
		return nil, nil
	}
	if len(l.Devices) > MaxDevices {
		return nil, fmt.Errorf("%w: %d devices (limit %d)", ErrTooManyDevices, len(l.Devices), MaxDevices)
	}
	seen := map[uint32]bool{}
	var out []uint32
	for _, d := range l.Devices {
		id, err := ParseDeviceID(d.ID)
		if err != nil || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// ParseDeviceID reads a device id attribute: decimal, 1..2^31-1.
func ParseDeviceID(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || n == 0 || n > 1<<31-1 {
		return 0, fmt.Errorf("omemo: bad device id %q", s)
	}
	return uint32(n), nil
}

// NewDeviceList builds a list of ids.
func NewDeviceList(ids []uint32) *DeviceList {
	l := &DeviceList{}
	for _, id := range ids {
		l.Devices = append(l.Devices, Device{ID: strconv.FormatUint(uint64(id), 10)})
	}
	return l
}

// Bundle is <bundle xmlns='eu.siacs.conversations.axolotl'>: the public keys
// a device publishes so others can start a session with it.
type Bundle struct {
	XMLName         xml.Name     `xml:"eu.siacs.conversations.axolotl bundle"`
	SignedPreKey    SignedPreKey `xml:"signedPreKeyPublic"`
	SignedSignature string       `xml:"signedPreKeySignature"`
	IdentityKey     string       `xml:"identityKey"`
	PreKeys         []PreKey     `xml:"prekeys>preKeyPublic"`
}

// SignedPreKey is <signedPreKeyPublic signedPreKeyId='…'>b64</…>.
type SignedPreKey struct {
	ID  string `xml:"signedPreKeyId,attr"`
	Key string `xml:",chardata"`
}

// PreKey is <preKeyPublic preKeyId='…'>b64</…>.
type PreKey struct {
	ID  string `xml:"preKeyId,attr"`
	Key string `xml:",chardata"`
}

// ParsedBundle is a bundle with every field decoded and checked for shape
// (not yet for the signature: that is VerifySignature).
type ParsedBundle struct {
	IdentityKey    [33]byte
	SignedPreKeyID uint32
	SignedPreKey   [33]byte
	Signature      [64]byte
	PreKeys        []ParsedPreKey
}

type ParsedPreKey struct {
	ID  uint32
	Key [33]byte
}

// Parse decodes and checks the bundle's fields; prekeys of a bad shape are
// dropped, a bundle without a usable one is refused.
func (b *Bundle) Parse() (*ParsedBundle, error) {
	if b == nil {
		return nil, errors.New("omemo: no bundle")
	}
	var p ParsedBundle
	var err error
	if p.IdentityKey, err = decodeKey(b.IdentityKey); err != nil {
		return nil, fmt.Errorf("omemo: bundle identity key: %w", err)
	}
	if p.SignedPreKey, err = decodeKey(b.SignedPreKey.Key); err != nil {
		return nil, fmt.Errorf("omemo: bundle signed prekey: %w", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(b.SignedPreKey.ID), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("omemo: bundle signed prekey id %q", b.SignedPreKey.ID)
	}
	p.SignedPreKeyID = uint32(id)
	sig, err := decodeB64(b.SignedSignature)
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("omemo: bundle signature is not 64 bytes of base64")
	}
	copy(p.Signature[:], sig)
	if len(b.PreKeys) > MaxPreKeys {
		return nil, fmt.Errorf("omemo: bundle has %d prekeys (limit %d)", len(b.PreKeys), MaxPreKeys)
	}
	for _, pk := range b.PreKeys {
		id, err := strconv.ParseUint(strings.TrimSpace(pk.ID), 10, 32)
		if err != nil {
			continue
		}
		k, err := decodeKey(pk.Key)
		if err != nil {
			continue
		}
		p.PreKeys = append(p.PreKeys, ParsedPreKey{ID: uint32(id), Key: k})
	}
	if len(p.PreKeys) == 0 {
		return nil, errors.New("omemo: bundle has no usable prekey")
	}
	return &p, nil
}

// decodeKey reads a serialized Curve25519 public key: 33 bytes, 0x05 first
// (some clients publish the bare 32 bytes; those get the prefix).
func decodeKey(s string) ([33]byte, error) {
	var k [33]byte
	b, err := decodeB64(s)
	if err != nil {
		return k, err
	}
	switch {
	case len(b) == 33 && b[0] == 0x05:
		copy(k[:], b)
	case len(b) == 32:
		k[0] = 0x05
		copy(k[1:], b)
	default:
		return k, fmt.Errorf("not a Curve25519 public key (%d bytes)", len(b))
	}
	return k, nil
}

// decodeB64 accepts standard base64 with or without padding and with
// whitespace (line breaks) inside, as clients send it.
func decodeB64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errors.New("malformed base64")
	}
	return b, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Encrypted is <encrypted xmlns='eu.siacs.conversations.axolotl'>.
type Encrypted struct {
	XMLName xml.Name `xml:"eu.siacs.conversations.axolotl encrypted"`
	Header  Header   `xml:"header"`
	Payload *string  `xml:"payload,omitempty"`
}

// Header names the sending device and carries one key per recipient device.
type Header struct {
	SID  string `xml:"sid,attr"`
	Keys []Key  `xml:"key"`
	IV   string `xml:"iv"`
}

// Key is the message key (16-byte AES key ‖ 16-byte GCM tag) encrypted for
// device RID by the libsignal session with it.
type Key struct {
	RID    string `xml:"rid,attr"`
	PreKey string `xml:"prekey,attr,omitempty"`
	Value  string `xml:",chardata"`
}

// IsPreKey: the key carries a PreKeySignalMessage (profanity and
// Conversations write "true", some clients "1").
func (k Key) IsPreKey() bool { return k.PreKey == "true" || k.PreKey == "1" }

// ParsedMessage is an <encrypted> element decoded and checked for shape.
type ParsedMessage struct {
	SID     uint32
	IV      []byte
	Payload []byte // nil: a key-transport element
	Keys    []ParsedKey
}

type ParsedKey struct {
	RID    uint32
	PreKey bool
	Data   []byte
}

// Parse decodes the element; keys with a bad rid or bad base64 are skipped
// only if they are not ours to read (the caller looks for its own rid).
func (e *Encrypted) Parse() (*ParsedMessage, error) {
	if e == nil {
		return nil, errors.New("omemo: no encrypted element")
	}
	sid, err := ParseDeviceID(e.Header.SID)
	if err != nil {
		return nil, fmt.Errorf("omemo: header sid: %w", err)
	}
	p := &ParsedMessage{SID: sid}
	if p.IV, err = decodeB64(e.Header.IV); err != nil || (len(p.IV) != 12 && len(p.IV) != 16) {
		return nil, fmt.Errorf("omemo: the IV is not 12 or 16 bytes of base64")
	}
	if e.Payload != nil {
		if len(*e.Payload) > MaxPayload*4/3+8 {
			return nil, fmt.Errorf("omemo: payload over %d bytes", MaxPayload)
		}
		if p.Payload, err = decodeB64(*e.Payload); err != nil {
			return nil, fmt.Errorf("omemo: payload: %w", err)
		}
		if p.Payload == nil {
			p.Payload = []byte{}
		}
	}
	if len(e.Header.Keys) > MaxKeys {
		return nil, fmt.Errorf("omemo: %d keys in one message (limit %d)", len(e.Header.Keys), MaxKeys)
	}
	for _, k := range e.Header.Keys {
		rid, err := ParseDeviceID(k.RID)
		if err != nil {
			continue
		}
		d, err := decodeB64(k.Value)
		if err != nil || len(d) == 0 || len(d) > maxKeyBytes {
			// Kept with no data: if it is ours, that is the error to show.
			d = nil
		}
		p.Keys = append(p.Keys, ParsedKey{RID: rid, PreKey: k.IsPreKey(), Data: d})
	}
	return p, nil
}

// EME is XEP-0380's <encryption/> naming OMEMO, sent beside the element.
type EME struct {
	XMLName   xml.Name `xml:"urn:xmpp:eme:0 encryption"`
	Namespace string   `xml:"namespace,attr"`
	Name      string   `xml:"name,attr,omitempty"`
}

// NewEME names OMEMO 0.3.
func NewEME() *EME { return &EME{Namespace: NS, Name: "OMEMO"} }
