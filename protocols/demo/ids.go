package demo

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"polyglot/protocols"
)

// newRand is a generator that depends only on the seed and the parts, so
// one stream's use never shifts another's (replies stay the same whatever
// else happened).
func newRand(seed int64, parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// networkID makes an ID shaped like the real network's: a Matrix event ID,
// a WhatsApp message ID or an XMPP stanza-id.
func networkID(n protocols.Network, seed int64, parts ...string) protocols.MessageID {
	r := newRand(seed, append([]string{"nid", string(n)}, parts...)...)
	var b [32]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	switch n {
	case protocols.Matrix:
		return protocols.MessageID("$" + base64.RawURLEncoding.EncodeToString(b[:]))
	case protocols.WhatsApp:
		return protocols.MessageID("3EB0" + strings.ToUpper(fmt.Sprintf("%x", b[:8])))
	default:
		return protocols.MessageID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	}
}

// fingerprint is a device key fingerprint in the usual groups of four.
func fingerprint(seed int64, parts ...string) string {
	r := newRand(seed, append([]string{"fp"}, parts...)...)
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = fmt.Sprintf("%04X", r.Uint32()&0xffff)
	}
	return strings.Join(groups, " ")
}
