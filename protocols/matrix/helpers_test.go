package matrix_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
)

// client is a Polyglot Matrix connector under test plus a recorder of every
// event it emitted.
type client struct {
	t  testing.TB
	c  *matrix.Connector
	mu sync.Mutex
	ev []protocols.Event
	wk chan struct{}
	dn chan struct{}
}

func pickleKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// connect starts a connector for user on d with the given DB file.
func connect(t testing.TB, d *testserver.Dendrite, cfg matrix.Config) *client {
	t.Helper()
	if cfg.Homeserver == "" {
		cfg.Homeserver = d.URL()
	}
	c, err := matrix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c, wk: make(chan struct{}, 1), dn: make(chan struct{})}
	go cl.record()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", cfg.UserID, err)
	}
	t.Cleanup(func() { cl.close() })
	return cl
}

func (cl *client) close() {
	_ = cl.c.Close()
}

func (cl *client) record() {
	defer close(cl.dn)
	for ev := range cl.c.Events() {
		if cp, ok := ev.(protocols.CheckpointEvent); ok {
			cp.Commit() // recorded counts as stored, as under the inbox
		}
		cl.mu.Lock()
		cl.ev = append(cl.ev, ev)
		cl.mu.Unlock()
		select {
		case cl.wk <- struct{}{}:
		default:
		}
	}
}

func (cl *client) events() []protocols.Event {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]protocols.Event(nil), cl.ev...)
}

// wait returns the first recorded event matching, waiting up to timeout.
func (cl *client) wait(timeout time.Duration, what string, match func(protocols.Event) bool) protocols.Event {
	cl.t.Helper()
	deadline := time.After(timeout)
	for {
		for _, ev := range cl.events() {
			if match(ev) {
				return ev
			}
		}
		select {
		case <-cl.wk:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			cl.t.Fatalf("no %s within %s; got %d events:\n%s", what, timeout, len(cl.events()), dumpEvents(cl.events()))
			return nil
		}
	}
}

func (cl *client) waitMessage(timeout time.Duration, body string) protocols.Message {
	cl.t.Helper()
	ev := cl.wait(timeout, fmt.Sprintf("message %q", body), func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && m.Message.Body == body
	})
	return ev.(protocols.MessageEvent).Message
}

func (cl *client) count(match func(protocols.Event) bool) int {
	n := 0
	for _, ev := range cl.events() {
		if match(ev) {
			n++
		}
	}
	return n
}

func dumpEvents(evs []protocols.Event) string {
	s := ""
	for i, ev := range evs {
		if i > 60 {
			s += "…\n"
			break
		}
		s += fmt.Sprintf("  %T %+v\n", ev, ev)
	}
	return s
}

func cfgFor(t testing.TB, user, pass string) matrix.Config {
	return matrix.Config{UserID: user, Password: pass, DBPath: filepath.Join(t.TempDir(), "matrix.db"), PickleKey: pickleKey()}
}

func bodyIs(body string) func(map[string]any) bool {
	return func(ev map[string]any) bool { return ev["ev"] == "message" && ev["body"] == body }
}

// peer is a foreign client driven over JSON lines (matrix-nio, js-sdk).
type peer interface {
	WaitEvent(time.Duration, func(map[string]any) bool) (map[string]any, error)
	MustDo(map[string]any) map[string]any
	Events() []map[string]any
	Stderr() string
}

// openDM has a send body end-to-end encrypted to user (who runs p), which
// creates the DM; p joins and must decrypt it. It returns the send result.
func openDM(t testing.TB, a *client, p peer, user, clientID, body string) protocols.SendResult {
	t.Helper()
	res, err := a.c.Send(context.Background(), protocols.OutgoingMessage{ClientID: protocols.ClientID(clientID),
		To: protocols.Address{Network: protocols.Matrix, ID: user}, Body: body, MinEncryption: protocols.EncE2EE})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if res.Encryption != protocols.EncE2EE {
		t.Fatalf("send result %+v", res)
	}
	if _, err := p.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "invite" && ev["room"] == string(res.Chat) }); err != nil {
		t.Fatalf("the peer got no invite: %v", err)
	}
	p.MustDo(map[string]any{"op": "join", "room": res.Chat})
	got, err := p.WaitEvent(30*time.Second, bodyIs(body))
	if err != nil {
		t.Fatalf("the peer did not decrypt Polyglot's message: %v\n%v\n%s", err, p.Events(), p.Stderr())
	}
	if got["encrypted"] != true || got["event_id"] != string(res.NetworkID) || got["sender"] != a.c.Session().UserID {
		t.Fatalf("the peer saw %v (sent %+v)", got, res)
	}
	return res
}
