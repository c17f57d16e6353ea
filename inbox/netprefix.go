package inbox

import (
	"strings"

	"polyglot/protocols"
)

// splitNetwork takes a "network:" prefix off an address as users write it
// ("xmpp:bob@example.org", "matrix:!room:example.org"); net is "" when
// there is none (a Matrix "@bob:example.org" keeps its colon).
func splitNetwork(addr string) (net protocols.Network, id string) {
	if i := strings.IndexByte(addr, ':'); i > 0 {
		if n, err := protocols.ParseNetwork(addr[:i]); err == nil {
			return n, addr[i+1:]
		}
	}
	return "", addr
}
