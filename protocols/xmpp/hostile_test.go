package xmpp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestHostilePeer: what a hostile peer can push through a real Prosody —
// C1 controls and bidi overrides in body and nickname, a 1 MiB body, an
// unknown payload — arrives inert (raw text for the TUI's sanitizer, a
// capped body with a notice, a notice for the unknown payload) and the
// connector keeps running.
func TestHostilePeer(t *testing.T) {
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("mallory", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	mal := p.StartPeer("mallory@localhost", "pw")
	const w = 10 * time.Second

	evil := "csi\u009b31m osc\u009d0;x\u009c bidi\u202egnp.exe\u202c iso\u2066x\u2069"
	mal.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": evil})
	got := waitEvent(t, alice, w, func(e protocols.MessageEvent) bool { return strings.HasPrefix(e.Message.Body, "csi") })
	if got.Message.Body != evil {
		t.Fatalf("body changed in transit: %q", got.Message.Body)
	}

	big := strings.Repeat("A", 1<<20)
	mal.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": big})
	huge := waitEvent(t, alice, 30*time.Second, func(e protocols.MessageEvent) bool { return strings.HasPrefix(e.Message.Body, "AAAA") })
	if len(huge.Message.Body) != defaultMaxBody || !strings.Contains(huge.Message.Notice, "truncated from 1048576 bytes") {
		t.Fatalf("1 MiB body: kept %d bytes, notice %q", len(huge.Message.Body), huge.Message.Notice)
	}

	mal.Send(map[string]any{"op": "send", "to": "alice@localhost", "payload": "<blob xmlns='urn:example:evil'><deep><deeper/></deep></blob>"})
	unk := waitEvent(t, alice, w, func(e protocols.MessageEvent) bool { return e.Message.Notice != "" })
	if unk.Message.Body != "" || !strings.Contains(unk.Message.Notice, "{urn:example:evil}blob") {
		t.Fatalf("unknown payload %+v", unk.Message)
	}

	// A bidi/C1 nickname in a room. slixmpp's own resourceprep refuses such
	// a nick, so the join is sent raw; Prosody's PRECIS checks may refuse it
	// too. Either way nothing breaks, and if it gets through the nick is
	// passed on raw for the TUI's sanitizer.
	room := "den@" + p.MUCDomain()
	if err := alice.JoinRoom(ctx10(t), room); err != nil {
		t.Fatal(err)
	}
	nick := "adm\u202eni\u009b"
	// slixmpp itself crashes on the server's reply to this join, so a
	// throw-away second session of mallory sends it.
	mal2 := p.StartPeer("mallory@localhost/nick", "pw")
	mal2.Do(map[string]any{"op": "raw", "xml": "<presence to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'/></presence>"})
	time.Sleep(300 * time.Millisecond)
	mal2.Do(map[string]any{"op": "raw", "xml": "<message to='" + room + "' type='groupchat' id='n1'><body>hi from a tricky nick</body></message>"})
	deadline := time.After(2 * time.Second)
nickLoop:
	for {
		select {
		case ev := <-alice.Events():
			stored(ev)
			if me, ok := ev.(protocols.MessageEvent); ok && me.Message.Body == "hi from a tricky nick" {
				if me.Message.Sender.ID != room+"/"+nick {
					t.Fatalf("nick sender %q", me.Message.Sender.ID)
				}
				t.Logf("Prosody let the bidi/C1 nick through; delivered raw for the sanitizer")
				break nickLoop
			}
		case <-deadline:
			t.Logf("Prosody refused the bidi/C1 nick (no room message arrived)")
			break nickLoop
		}
	}

	// Still running: an ordinary message both ways.
	mal.Send(map[string]any{"op": "send", "to": "alice@localhost", "body": "still there?"})
	waitEvent(t, alice, w, func(e protocols.MessageEvent) bool { return e.Message.Body == "still there?" })
	if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: "ok1", To: protocols.Address{ID: "mallory@localhost"}, Body: "yes"}); err != nil {
		t.Fatal(err)
	}
	mal.Message(w, "yes")
}

// TestHostileServerRawEscape: XML forbids ESC and invalid UTF-8, so only a
// hostile server can send them (Prosody refuses both from a peer). A fake
// server (direct TLS, accepts any password) sends raw ESC, an &#27;
// reference and invalid UTF-8: no such message reaches the core, the
// link is reported offline with the reason, and nothing panics.
func TestHostileServerRawEscape(t *testing.T) {
	certPEM, keyPEM := selfSigned(t, "localhost")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct{ payload, reason string }{
		{"raw \x1b[31mESC", "illegal character"},
		{"ref &#27;[31m ESC", "illegal character"},
		{"utf8 \xff\xfe\xc3 invalid", "invalid UTF-8"},
	} {
		payload := tc.payload
		t.Run(strings.Fields(payload)[0], func(t *testing.T) {
			go fakeServer(ln, payload)
			c, err := New(Config{JID: "alice@localhost", Password: "x", Server: ln.Addr().String(), DirectTLS: true, CAFile: caFile, PingInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The hostile message follows our first presence, still inside
			// Connect: Connect must fail at once (not wait for its deadline,
			// not report online) and the reason must be the bad character.
			start := time.Now()
			err = c.Connect(ctx10(t))
			if err == nil || errors.Is(err, protocols.ErrAuthFailed) {
				t.Fatalf("Connect to a server that sent %q: %v, want a lost link", payload, err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("Connect took %s to notice the broken stream", took)
			}
			off := waitEvent(t, c, 5*time.Second, func(ce protocols.ConnectionEvent) bool {
				if ce.State == protocols.ConnOnline {
					t.Fatal("reported online although the stream broke during login")
				}
				return ce.State == protocols.ConnOffline
			})
			if off.Err == nil || !strings.Contains(off.Detail, tc.reason) {
				t.Fatalf("offline event %+v, want reason %q", off, tc.reason)
			}
			for _, ev := range drain(c) {
				if me, ok := ev.(protocols.MessageEvent); ok && (strings.ContainsRune(me.Message.Body, 0x1b) || !utf8.ValidString(me.Message.Body)) {
					t.Fatalf("ESC or invalid UTF-8 reached the core: %q", me.Message.Body)
				}
			}
		})
	}
}

// fakeServer speaks just enough XMPP for one client: PLAIN accepted, bind,
// every IQ answered with an empty result, then the hostile message after the
// client's first presence.
func fakeServer(ln net.Listener, hostile string) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	header := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>`
	d := xml.NewDecoder(conn)
	next := func() (xml.StartElement, bool) {
		for {
			tok, err := d.Token()
			if err != nil {
				return xml.StartElement{}, false
			}
			if se, ok := tok.(xml.StartElement); ok {
				return se, true
			}
		}
	}
	if _, ok := next(); !ok { // stream open
		return
	}
	fmt.Fprint(conn, header+`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`)
	if se, ok := next(); !ok || se.Name.Local != "auth" {
		return
	}
	d.Skip()
	fmt.Fprint(conn, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	d = xml.NewDecoder(conn)
	if _, ok := next(); !ok {
		return
	}
	fmt.Fprint(conn, header+`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`)
	bound := false
	for {
		se, ok := next()
		if !ok {
			return
		}
		id := ""
		for _, a := range se.Attr {
			if a.Name.Local == "id" {
				id = a.Value
			}
		}
		d.Skip()
		switch se.Name.Local {
		case "iq":
			if !bound {
				bound = true
				fmt.Fprintf(conn, `<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/x</jid></bind></iq>`, id)
			} else {
				fmt.Fprintf(conn, `<iq type='result' id='%s'/>`, id)
			}
		case "presence":
			fmt.Fprintf(conn, `<message from='evil@localhost/x' to='alice@localhost/x' type='chat' id='e1'><body>%s</body></message>`, hostile)
			time.Sleep(time.Second)
			return
		}
	}
}

func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
