package xmpp

import (
	"strings"
	"testing"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestTLSModes: direct TLS works; an untrusted certificate is refused (no
// silent skip); the insecure switch is refused off loopback and, where
// allowed, drops the encryption class to none.
func TestTLSModes(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")

	direct := newClient(t, p, "alice", "pw", func(c *Config) { c.Server, c.DirectTLS = p.DirectTLSAddr(), true })
	if direct.PeerEncryption(bobAddr) != protocols.EncTransport {
		t.Fatal("direct TLS not transport-encrypted")
	}

	untrusted, err := New(Config{JID: "alice@localhost", Password: "pw", Server: p.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	if err := untrusted.Connect(ctx10(t)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed server without CAFile: %v, want a certificate error", err)
	}

	if _, err := New(Config{JID: "alice@example.org", Password: "pw", Server: "example.org:5222", InsecureSkipVerifyLoopback: true}); err == nil {
		t.Fatal("insecure mode accepted for a remote server")
	}
	insecure := newClient(t, p, "alice", "pw", func(c *Config) { c.CAFile, c.InsecureSkipVerifyLoopback = "", true })
	if got := insecure.PeerEncryption(bobAddr); got != protocols.EncNone {
		t.Fatalf("unverified TLS reported as %v", got)
	}
}
