package xmpp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

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

// TestNoPasswordWithoutTLS: a server (or a man in the middle stripping
// STARTTLS) that offers only PLAIN on an unencrypted stream gets no
// password: Connect fails and the credentials never go on the wire.
func TestNoPasswordWithoutTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wire := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			wire <- nil
			return
		}
		defer conn.Close()
		// mellium sees nothing it may use and waits; the server gives
		// up first here (with a silent MITM the caller's deadline ends it).
		conn.SetDeadline(time.Now().Add(time.Second))
		var got []byte
		buf := make([]byte, 4096)
		sentFeatures := false
		for {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			if !sentFeatures && bytes.Contains(got, []byte("stream:stream")) {
				sentFeatures = true
				fmt.Fprint(conn, `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>`+
					`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`)
			}
		}
		wire <- got
	}()
	const pw = "hunter2-secret"
	c, err := New(Config{JID: "alice@localhost", Password: pw, Server: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	err = c.Connect(ctx10(t))
	if err == nil {
		t.Fatal("Connect succeeded on a stream without TLS")
	}
	t.Logf("refused after %s: %v", time.Since(start), err)
	c.Close()
	got := <-wire
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pw))
	if bytes.Contains(got, []byte(plain)) || bytes.Contains(got, []byte(pw)) || bytes.Contains(got, []byte("<auth")) {
		t.Fatalf("credentials sent in clear: %s", got)
	}
}
