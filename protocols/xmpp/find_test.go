package xmpp

import (
	"errors"
	"testing"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestContactFindXMPP tries addresses against the real Prosody: a
// registered account that never logged in is found, a name nobody
// registered is not, a phone number cannot be asked, and a server the
// user's server cannot reach is "can't ask", not "not found".
func TestContactFindXMPP(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	c := newClient(t, p, "alice", "pw", nil)

	r, err := c.FindContact(ctx10(t), protocols.ContactQuery{Address: "bob@" + p.Domain()}, protocols.FindOptions{})
	if err != nil || !r.Found || r.Address.ID != "bob@"+p.Domain() || r.Address.Network != protocols.XMPP {
		t.Fatalf("existing bob: %+v, %v", r, err)
	}
	r, err = c.FindContact(ctx10(t), protocols.ContactQuery{Address: "nobody@" + p.Domain()}, protocols.FindOptions{})
	if err != nil || r.Found {
		t.Fatalf("unregistered nobody: %+v, %v", r, err)
	}
	if _, err := c.FindContact(ctx10(t), protocols.ContactQuery{Phone: "491701234567"}, protocols.FindOptions{}); !errors.Is(err, protocols.ErrCannotLookUp) {
		t.Fatalf("phone number: %v, want ErrCannotLookUp", err)
	}
	if r, err := c.FindContact(ctx10(t), protocols.ContactQuery{Address: "bob@elsewhere.example"}, protocols.FindOptions{}); err == nil {
		t.Fatalf("unreachable server answered %+v", r)
	}
}
