package xmpp

import (
	"testing"

	"github.com/rs/zerolog"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/protocolstest"
)

// TestConnectorContract holds the XMPP connector to the promises every
// connector keeps (protocols/protocolstest), against a real Prosody with
// another Polyglot connector as the peer.
func TestConnectorContract(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("contract-me", "pw-me")
	p.Register("contract-peer", "pw-peer")
	dir := t.TempDir()
	cfg := func(user, pass, data string) Config {
		return Config{JID: user + "@" + p.Domain(), Password: pass, Server: p.Addr(), CAFile: p.CAFile(),
			Resource: "polyglot", Account: "acct-" + user, DataDir: data,
			Logger: zerolog.New(zerolog.ConsoleWriter{Out: testWriter{t}, NoColor: true}).Level(zerolog.InfoLevel)}
	}
	open := func(t testing.TB, c Config) protocols.Connector {
		conn, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	me := protocols.Address{Network: protocols.XMPP, ID: "contract-me@" + p.Domain()}
	peerAddr := protocols.Address{Network: protocols.XMPP, ID: "contract-peer@" + p.Domain()}
	peer := protocolstest.NewConnectorPeer(t, open(t, cfg("contract-peer", "pw-peer", t.TempDir())), peerAddr, me)
	protocolstest.Run(t, protocolstest.Network{
		New:     func(t testing.TB) protocols.Connector { return open(t, cfg("contract-me", "pw-me", dir)) },
		Peer:    peer,
		CatchUp: true,
		Hostile: protocolstest.HostileCommon,
	})
}
