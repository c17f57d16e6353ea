package matrix_test

import (
	"path/filepath"
	"slices"
	"testing"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
	"polyglot/protocols/protocolstest"
)

// TestConnectorContract holds the Matrix connector to the promises every
// connector keeps (protocols/protocolstest), against a real Dendrite with
// another Polyglot connector as the peer, in an encrypted DM.
func TestConnectorContract(t *testing.T) {
	d := testserver.StartDendrite(t)
	me := d.CreateUser("contractme", "password-me")
	peerID := d.CreateUser("contractpeer", "password-peer")
	open := func(t testing.TB, cfg matrix.Config) protocols.Connector {
		cfg.Homeserver = d.URL()
		c, err := matrix.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	myCfg := cfgFor(t, me, "password-me") // one data file and pickle key: a restart
	myCfg.DBPath = filepath.Join(t.TempDir(), "matrix.db")
	peer := protocolstest.NewConnectorPeer(t, open(t, cfgFor(t, peerID, "password-peer")),
		protocols.Address{Network: protocols.Matrix, ID: peerID}, protocols.Address{Network: protocols.Matrix, ID: me})
	protocolstest.Run(t, protocolstest.Network{
		New:     func(t testing.TB) protocols.Connector { return open(t, myCfg) },
		Peer:    peer,
		CatchUp: true,
		Hostile: slices.Concat(protocolstest.HostileCommon, protocolstest.HostileControls),
	})
}
