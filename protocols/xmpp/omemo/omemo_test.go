package omemo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/stanza"
)

// pep is an in-memory PEP service: node items as raw XML, per account.
type pep struct {
	mu    sync.Mutex
	items map[string]string // jid + "\x00" + node → item payload XML
}

func newPEP() *pep { return &pep{items: map[string]string{}} }

// iq returns the IQ function of account owner against this service.
func (p *pep) iq(owner string) IQ {
	return func(ctx context.Context, typ, to string, payload, reply any) error {
		if to == "" {
			to = owner
		}
		raw, err := xml.Marshal(payload)
		if err != nil {
			return err
		}
		var req struct {
			Publish *struct {
				Node string `xml:"node,attr"`
				Item struct {
					Inner []byte `xml:",innerxml"`
				} `xml:"item"`
			} `xml:"publish"`
			Items *struct {
				Node string `xml:"node,attr"`
			} `xml:"items"`
		}
		if err := xml.Unmarshal(raw, &req); err != nil {
			return err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case typ == "set" && req.Publish != nil:
			if to != owner {
				return stanza.Error{Condition: stanza.Forbidden}
			}
			p.items[to+"\x00"+req.Publish.Node] = string(req.Publish.Item.Inner)
			return nil
		case typ == "get" && req.Items != nil:
			it, ok := p.items[to+"\x00"+req.Items.Node]
			if !ok {
				return stanza.Error{Condition: stanza.ItemNotFound}
			}
			resp := fmt.Sprintf(`<pubsub xmlns='%s'><items node='%s'><item id='current'>%s</item></items></pubsub>`, nsPubSub, req.Items.Node, it)
			if reply == nil {
				return nil
			}
			return xml.Unmarshal([]byte(resp), reply)
		}
		return stanza.Error{Condition: stanza.BadRequest}
	}
}

func (p *pep) set(jid, node, item string) {
	p.mu.Lock()
	p.items[jid+"\x00"+node] = item
	p.mu.Unlock()
}

var testKey = bytes.Repeat([]byte{7}, KeySize)

func open(t *testing.T, dir, jid string) *Manager {
	t.Helper()
	m, err := Open(context.Background(), filepath.Join(dir, FileName), testKey, jid, nopLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// roundTrip: XML-encode and decode an element, as the wire does.
func roundTrip(t *testing.T, e *Encrypted) *Encrypted {
	t.Helper()
	b, err := xml.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var out Encrypted
	if err := xml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestOMEMOSessionBothWaysAndReplay(t *testing.T) {
	ctx := context.Background()
	srv := newPEP()
	alice := open(t, t.TempDir(), "alice@x")
	bob := open(t, t.TempDir(), "bob@x")
	for _, m := range []*Manager{alice, bob} {
		if err := m.Publish(ctx, srv.iq(m.Own())); err != nil {
			t.Fatal(err)
		}
	}
	if alice.HasDevices("bob@x") {
		t.Fatal("bob's devices known before any fetch")
	}
	if _, err := alice.FetchDeviceList(ctx, srv.iq("alice@x"), "bob@x"); err != nil {
		t.Fatal(err)
	}
	if !alice.HasDevices("bob@x") {
		t.Fatal("bob's device not known after fetch")
	}
	enc, err := alice.Encrypt(ctx, srv.iq("alice@x"), "bob@x", []byte("hello bob"))
	if err != nil {
		t.Fatal(err)
	}
	if len(enc.Header.Keys) != 1 || !enc.Header.Keys[0].IsPreKey() {
		t.Fatalf("keys %+v: want one prekey message", enc.Header.Keys)
	}
	wire := roundTrip(t, enc)
	d, err := bob.Decrypt(ctx, "alice@x", wire)
	if err != nil || string(d.Body) != "hello bob" {
		t.Fatalf("bob decrypt: %v %+v", err, d)
	}
	// The same element again (archive copy): the stored text, no error.
	d, err = bob.Decrypt(ctx, "alice@x", roundTrip(t, enc))
	if err != nil || string(d.Body) != "hello bob" {
		t.Fatalf("replay: %v %+v", err, d)
	}
	// Bob answers over the session the prekey message set up.
	if _, err := bob.FetchDeviceList(ctx, srv.iq("bob@x"), "alice@x"); err != nil {
		t.Fatal(err)
	}
	enc2, err := bob.Encrypt(ctx, srv.iq("bob@x"), "alice@x", []byte("hi alice"))
	if err != nil {
		t.Fatal(err)
	}
	if enc2.Header.Keys[0].IsPreKey() {
		t.Fatal("bob's answer should use the existing session")
	}
	d, err = alice.Decrypt(ctx, "bob@x", roundTrip(t, enc2))
	if err != nil || string(d.Body) != "hi alice" {
		t.Fatalf("alice decrypt: %v %+v", err, d)
	}
	devs, err := bob.Devices(ctx, "alice@x")
	if err != nil || len(devs) != 1 || devs[0].Fingerprint != alice.Fingerprint() || !devs[0].Session || devs[0].Compared {
		t.Fatalf("bob's view of alice: %+v %v", devs, err)
	}
	if err := bob.SetCompared(ctx, "alice@x", alice.DeviceID(), true); err != nil {
		t.Fatal(err)
	}
	if devs, _ := bob.Devices(ctx, "alice@x"); !devs[0].Compared {
		t.Fatal("compared not kept")
	}
	// Reopen: same identity and sessions.
	id, fp := bob.DeviceID(), bob.Fingerprint()
	bob.Close()
	_ = id
	_ = fp
}

func TestOMEMOWrongKeyRefused(t *testing.T) {
	dir := t.TempDir()
	m := open(t, dir, "a@x")
	m.Close()
	_, err := Open(context.Background(), filepath.Join(dir, FileName), bytes.Repeat([]byte{8}, KeySize), "a@x", nopLog)
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("err = %v", err)
	}
	m2 := open(t, dir, "a@x")
	if m2.DeviceID() != m.DeviceID() || m2.Fingerprint() != m.Fingerprint() {
		t.Fatal("identity changed on reopen")
	}
	if strings.Count(m2.Fingerprint(), " ") != 7 {
		t.Fatalf("fingerprint %q", m2.Fingerprint())
	}
}

var nopLog = zerolog.Nop()

// TestOMEMOKeyTransport: an element without payload (a session set up or
// refreshed) decrypts to no message, not to an error.
func TestOMEMOKeyTransport(t *testing.T) {
	ctx := context.Background()
	srv := newPEP()
	alice := open(t, t.TempDir(), "alice@x")
	bob := open(t, t.TempDir(), "bob@x")
	for _, m := range []*Manager{alice, bob} {
		if err := m.Publish(ctx, srv.iq(m.Own())); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.FetchDeviceList(ctx, srv.iq("alice@x"), "bob@x"); err != nil {
		t.Fatal(err)
	}
	enc, err := alice.Encrypt(ctx, srv.iq("alice@x"), "bob@x", nil)
	if err != nil || enc.Payload != nil {
		t.Fatalf("key transport: %+v %v", enc, err)
	}
	d, err := bob.Decrypt(ctx, "alice@x", roundTrip(t, enc))
	if err != nil || !d.KeyTransport || d.Body != nil {
		t.Fatalf("bob: %+v %v", d, err)
	}
	// The session it set up carries the next message.
	enc, _ = alice.Encrypt(ctx, srv.iq("alice@x"), "bob@x", []byte("after"))
	if d, err := bob.Decrypt(ctx, "alice@x", roundTrip(t, enc)); err != nil || string(d.Body) != "after" {
		t.Fatalf("after key transport: %+v %v", d, err)
	}
}
