package demo

import (
	"slices"
	"testing"
	"time"

	"polyglot/protocols"
	"polyglot/protocols/protocolstest"
)

// TestConnectorContract holds each simulated network to the promises
// every connector keeps (protocols/protocolstest).
func TestConnectorContract(t *testing.T) {
	peers := map[protocols.Network]string{
		protocols.Matrix:   "@bob:" + matrixServer, // E2EE, not verified
		protocols.XMPP:     "bob@" + xmppServer,
		protocols.WhatsApp: "15550100001@" + waServer,
	}
	for _, n := range protocols.Networks {
		t.Run(string(n), func(t *testing.T) {
			w := New(Options{Seed: 7, Speed: 50, Now: func() time.Time { return epoch }})
			t.Cleanup(func() { _ = w.Close() })
			acc := account(t, w, n)
			protocolstest.Run(t, protocolstest.Network{
				New:     func(testing.TB) protocols.Connector { return acc.Connector },
				Peer:    &demoPeer{w: w, account: acc.ID, addr: protocols.Address{Network: n, ID: peers[n]}},
				Hostile: slices.Concat(protocolstest.HostileCommon, protocolstest.HostileControls),
				Timeout: 10 * time.Second,
			})
		})
	}
}

// demoPeer is a cast member: what they say is put on the simulated
// network; what they heard is the world's record of the user's sends.
type demoPeer struct {
	w       *World
	account string
	addr    protocols.Address
}

func (p *demoPeer) Address() protocols.Address { return p.addr }

func (p *demoPeer) Say(t testing.TB, body string) {
	t.Helper()
	if _, err := p.w.Say(p.account, p.addr.ID, body); err != nil {
		t.Fatal(err)
	}
}

func (p *demoPeer) Heard(t testing.TB, body, sentinel string) int {
	t.Helper()
	n, sent := 0, false
	for _, o := range p.w.Outbound() {
		if o.Kind != OutMessage || o.Resend || o.To.ID != p.addr.ID {
			continue
		}
		sent = sent || o.Body == sentinel
		if o.Body == body {
			n++
		}
	}
	if !sent {
		t.Fatalf("the user's %q never reached %s", sentinel, p.addr.ID)
	}
	return n
}
