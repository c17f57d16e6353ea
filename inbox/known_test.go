package inbox

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"polyglot/protocols"
)

// A configured account with no live connector (server down at start) still
// routes: the message queues on it with the identity's last known class
// (never less than the account's floor) and goes out once, with the same
// client ID, when a connector attaches and comes online.
func TestRegisteredAccountQueuesWithoutConnector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	conv, _ := obSeed(t, path)
	n := 0
	in, err := Open(path, Options{NewID: func() string { n++; return fmt.Sprintf("cid-%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.RegisterAccount("xm", protocols.XMPP, protocols.EncTransport)

	routes, err := in.Routes(conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].Account != "xm" || routes[0].Online || routes[0].Encryption != protocols.EncTransport {
		t.Fatalf("routes = %+v, want one offline xm route at the TLS floor", routes)
	}
	msg, err := in.Send(context.Background(), SendRequest{Conversation: conv, Body: "while down"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.State != StateQueued {
		t.Fatalf("state %v, want queued", msg.State)
	}

	c := newObConn(protocols.XMPP, protocols.EncTransport)
	in.Attach("xm", c)
	if err := in.Ingest("xm", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queued message to go out", func() bool { return len(c.sends()) == 1 })
	if got := c.sends()[0].ClientID; got != protocols.ClientID(msg.ClientID) {
		t.Fatalf("resent with client ID %q, want %q", got, msg.ClientID)
	}
}

// A removed account is forgotten: no route queues on it any more.
func TestForgottenAccountIsNoRoute(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	conv, _ := obSeed(t, path)
	in, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.RegisterAccount("xm", protocols.XMPP, protocols.EncTransport)
	if routes, err := in.Routes(conv); err != nil || len(routes) != 1 {
		t.Fatalf("registered: routes %+v, %v", routes, err)
	}
	in.ForgetAccount("xm")
	if routes, err := in.Routes(conv); err != nil || len(routes) != 0 {
		t.Fatalf("forgotten: routes %+v, %v; want none", routes, err)
	}
}
