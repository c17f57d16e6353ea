package testserver

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// TestProsodyStartsAndRestarts checks the harness against the real binary:
// the c2s port speaks XMPP and offers STARTTLS, users register, and a restart
// comes back on the same port.
func TestProsodyStartsAndRestarts(t *testing.T) {
	p := StartProsody(t)
	if jid := p.Register("alice", "pw"); jid != "alice@localhost" {
		t.Fatalf("Register returned %q", jid)
	}
	probe := func() string {
		c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`))
		var sb strings.Builder
		r := bufio.NewReader(c)
		buf := make([]byte, 4096)
		for !strings.Contains(sb.String(), "</stream:features>") {
			n, err := r.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return sb.String()
	}
	if s := probe(); !strings.Contains(s, "urn:ietf:params:xml:ns:xmpp-tls") {
		t.Fatalf("no STARTTLS offered: %q\n%s", s, p.Log())
	}
	p.Restart()
	if s := probe(); !strings.Contains(s, "starttls") {
		t.Fatalf("after restart: %q", s)
	}
}
