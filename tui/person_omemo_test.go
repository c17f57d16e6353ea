package tui

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

// omemoConn is an XMPP double that compares per-device fingerprints the
// way an OMEMO connector does: MarkCompared takes the token of exactly the
// devices shown, and the contact is E2EE verified once all are compared.
// The store, router and person view under test are real.
type omemoConn struct {
	*routeConn
	mu      sync.Mutex
	devices []protocols.DeviceKey
	marked  string
}

func (c *omemoConn) SecurityCode(_ context.Context, peer protocols.Address) (protocols.SecurityCode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := true
	for _, d := range c.devices {
		all = all && d.Compared
	}
	return protocols.SecurityCode{
		Devices:    append([]protocols.DeviceKey(nil), c.devices...),
		Compared:   all,
		This:       protocols.DeviceKey{ID: "555", Fingerprint: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		OwnDevices: []protocols.DeviceKey{{ID: "777", Fingerprint: "77777777aaaaaaaa77777777aaaaaaaa77777777aaaaaaaa77777777aaaaaaaa"}},
	}, nil
}

func (c *omemoConn) MarkCompared(_ context.Context, peer protocols.Address, token string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token != (protocols.SecurityCode{Devices: c.devices}).Token() {
		return protocols.ErrCodeChanged
	}
	for i := range c.devices {
		c.devices[i].Compared = true
	}
	c.marked = token
	return nil
}

func (c *omemoConn) PeerEncryption(protocols.Address) protocols.Encryption {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.devices {
		if !d.Compared {
			return protocols.EncE2EE
		}
	}
	return protocols.EncE2EEVerified
}

// TestPersonOMEMODevices: bob has two OMEMO devices, one the user compared
// before and one new. The person view lists both fingerprints in groups of
// eight with which is new, this device's fingerprint (what bob compares)
// and the user's other device; V asks about both, y marks them compared
// and the route becomes E2EE verified. A later new device of bob's ends
// that (KeyChangeEvent.EndsVerification): the route drops to E2EE.
func TestPersonOMEMODevices(t *testing.T) {
	in, err := inbox.Open(filepath.Join(t.TempDir(), "polyglot.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	bob := protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "bob@example.org", Server: "example.org"}
	xm := &omemoConn{routeConn: newRouteConn(protocols.XMPP), devices: []protocols.DeviceKey{
		{ID: "1001", Fingerprint: "05ab12cd34ef56780000111122223333444455556666777788889999aaaabbbbcc", Compared: true},
		{ID: "2002", Fingerprint: "d00dfeed00000000111111112222222233333333444444445555555566666666"},
	}}
	in.Attach("xm", xm)
	for _, ev := range []protocols.Event{
		protocols.ConnectionEvent{State: protocols.ConnOnline},
		protocols.ContactEvent{Contact: bob, Name: "Bob"},
		protocols.MessageEvent{Message: protocols.Message{NetworkID: "x1", Chat: protocols.Chat{ID: protocols.ChatID(bob.ID), Name: "Bob"},
			Sender: bob, Body: "hi over omemo", Sent: testNow.Add(-1e9), Encryption: protocols.EncE2EE}},
	} {
		if err := in.Ingest("xm", ev); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, in, 160, 45)
	h.keys("p")
	h.mustShow("OMEMO devices of bob@example.org (XMPP)", "1 new, not compared",
		"1001", "05ab12cd 34ef5678 00001111", "2002", "d00dfeed 00000000 11111111", "new: not compared",
		"this device (what they compare on their side)", "555", "01234567 89abcdef",
		"your other devices", "777", "[V] these fingerprints match")
	h.keys("V")
	h.mustShow("Do all 2 fingerprints above match what Bob's clients show?", "[y] they match: mark compared")
	h.keys("y")
	h.mustShow("✓ all compared: E2EE verified")
	h.mustNotShow("new: not compared", "[V] these fingerprints match")
	if xm.marked != "1001=05ab12cd34ef56780000111122223333444455556666777788889999aaaabbbbcc,2002=d00dfeed00000000111111112222222233333333444444445555555566666666" {
		t.Fatalf("marked %q", xm.marked)
	}
	conv, err := in.FindConversation(bob.Key())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := in.PlanRoute(context.Background(), conv, inbox.RouteOptions{})
	if err != nil || plan.Route.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("after comparing: %+v %v", plan.Route, err)
	}

	// bob adds a device: not trusted silently.
	xm.mu.Lock()
	xm.devices = append(xm.devices, protocols.DeviceKey{ID: "3003", Fingerprint: "3003300330033003300330033003300330033003300330033003300330033003"})
	xm.mu.Unlock()
	if err := in.Ingest("xm", protocols.KeyChangeEvent{Chat: protocols.ChatID(bob.ID), Contact: bob, DeviceID: "3003",
		Fingerprint: "3003300330033003300330033003300330033003300330033003300330033003", Kind: protocols.KeyNew, EndsVerification: true}); err != nil {
		t.Fatal(err)
	}
	p, _ := in.PersonOf(bob)
	per, _ := in.Person(p)
	if per.Identities[0].Encryption != protocols.EncE2EE {
		t.Fatalf("a new device of a verified contact left the identity at %v", per.Identities[0].Encryption)
	}
	plan, err = in.PlanRoute(context.Background(), conv, inbox.RouteOptions{})
	if err != nil || plan.Route.Encryption != protocols.EncE2EE {
		t.Fatalf("after the new device: %+v %v", plan.Route, err)
	}
}
