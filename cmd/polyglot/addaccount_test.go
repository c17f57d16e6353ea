package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"polyglot/config"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"polyglot/accounts"
	"polyglot/inbox"
	"polyglot/internal/testserver"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/tui"
)

// TestAddFormRulesAreTheCLIs: the TUI's add form is checked with the same
// rules as `account add` and config.toml (config.Account.Validate), and
// each refusal names the form field to fix.
func TestAddFormRulesAreTheCLIs(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	t.Chdir(dir)
	a := &app{log: zerolog.Nop()}
	cfg := config.Default()
	cfg.Accounts = []config.Account{{ID: "xmpp:alice@example.org", Network: protocols.XMPP, Address: "alice@example.org", Enabled: true}}
	m, err := accounts.New(cfg, accounts.Options{Paths: config.Paths{Data: dir}, Keystore: keystore.NewMemory(), Registry: registry(a.log, func(protocols.Address) bool { return false })})
	if err != nil {
		t.Fatal(err)
	}
	v := statusView{m: m, networks: addableNetworks(a), log: a.log, app: a}

	if got, want := v.AddNetworks(), []protocols.Network{protocols.Matrix, protocols.XMPP, protocols.WhatsApp}; !reflect.DeepEqual(got, want) {
		t.Fatalf("AddNetworks = %v, want %v", got, want)
	}

	bad := []struct {
		req   tui.AddAccountRequest
		field string
		text  string
	}{
		{tui.AddAccountRequest{Network: protocols.XMPP, Address: "bob"}, "address", "not a bare XMPP address"},
		{tui.AddAccountRequest{Network: protocols.XMPP, Address: "bob@example.org/phone"}, "address", "not a bare XMPP address"},
		{tui.AddAccountRequest{Network: protocols.Matrix, Address: "bob@example.org"}, "address", "not a Matrix user ID"},
		{tui.AddAccountRequest{Network: protocols.XMPP, Address: "bob@example.org", Server: "example.org"}, "server", "not host:port"},
		{tui.AddAccountRequest{Network: protocols.Matrix, Address: "@bob:example.org", Server: "matrix.example.org"}, "server", "not a homeserver URL"},
		{tui.AddAccountRequest{Network: protocols.XMPP, Address: "bob@example.org", CAFile: "/nonexistent/ca.pem"}, "ca_file", "cannot read CA file"},
		{tui.AddAccountRequest{Network: protocols.XMPP, Address: " alice@example.org "}, "address", "already added"},
	}
	for _, c := range bad {
		err := v.CheckAdd(c.req)
		var fe *tui.AddFieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.text) {
			t.Errorf("CheckAdd(%+v) = %v; want a %s error saying %q", c.req, err, c.field, c.text)
		}
	}
	good := []tui.AddAccountRequest{
		{Network: protocols.XMPP, Address: "bob@example.org", Server: "127.0.0.1:5222", CAFile: ca},
		{Network: protocols.XMPP, Address: "bob@example.org", CAFile: "ca.pem"},   // relative to where polyglot runs
		{Network: protocols.XMPP, Address: "bob@example.org", CAFile: "~/ca.pem"}, // no shell expands it in a form
		{Network: protocols.Matrix, Address: "@bob:example.org", Server: "https://matrix.example.org"},
	}
	for _, req := range good {
		if err := v.CheckAdd(req); err != nil {
			t.Errorf("CheckAdd(%+v) = %v, want ok", req, err)
		}
	}
	if acc := addRequestOptions(good[2]).account(); acc.CAFile != ca || acc.ID != "xmpp:bob@example.org" {
		t.Errorf("built account %+v: want CAFile %s and the CLI's ID", acc, ca)
	}

	// WhatsApp takes no password: the form links it (LinkAccount), so a
	// password add is refused before any login, nothing added.
	_, err = v.AddAccount(context.Background(), tui.AddAccountRequest{Network: protocols.WhatsApp, Address: "+4915123456789"}, []byte("pw"))
	if !errors.Is(err, errWhatsAppFormLink) {
		t.Fatalf("AddAccount(whatsapp) = %v, want errWhatsAppFormLink", err)
	}
	// A malformed number is refused on the phone row before any dial.
	_, err = v.LinkAccount(context.Background(), tui.LinkRequest{Network: protocols.WhatsApp, Phone: "call me"}, func(tui.LinkPrompt) {})
	if fe := (*tui.AddFieldError)(nil); !errors.As(err, &fe) || fe.Field != "phone" || !strings.Contains(err.Error(), "international form") {
		t.Fatalf("LinkAccount(bad phone) = %v, want a phone error", err)
	}
	// A refused login names the field to fix: nothing listens on port 1.
	_, err = v.AddAccount(context.Background(), tui.AddAccountRequest{Network: protocols.XMPP, Address: "bob@localhost",
		Server: "127.0.0.1:1"}, []byte("pw"))
	var fe *tui.AddFieldError
	if !errors.As(err, &fe) || fe.Field != "server" || !strings.Contains(err.Error(), "server unreachable") {
		t.Fatalf("AddAccount to a closed port = %v; want a server error saying it is unreachable", err)
	}
	if n := len(m.Statuses()); n != 1 {
		t.Fatalf("%d accounts after refused adds, want 1", n)
	}
}

// TestAddedAccountIsRegisteredWithTheInbox: an account added at run time is
// fed by its supervisor (a stranger's message lands in Requests) and, like
// the configured ones, is known to the router, so while it is disconnected
// its route still ranks (offline, TLS floor) and messages can queue on it.
func TestAddedAccountIsRegisteredWithTheInbox(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("bob", "bob-pw")
	srv.Register("carol", "carol-pw")
	p := newProfile(t)
	for _, kv := range p.env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	a, err := newApp(streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	cfg, err := a.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.stop()
	v := rt.control(a)
	id, err := v.AddAccount(ctx, tui.AddAccountRequest{Network: protocols.XMPP, Address: "bob@localhost",
		Server: srv.Addr(), CAFile: srv.CAFile()}, []byte("bob-pw"))
	if err != nil || id != "xmpp:bob@localhost" {
		t.Fatalf("AddAccount = %q, %v", id, err)
	}
	waitState(t, v, id, "online")

	carol := srv.StartPeer("carol@localhost", "carol-pw")
	defer carol.Close()
	carol.Send(map[string]any{"op": "send", "to": "bob@localhost", "body": "hi bob"})
	var req inbox.Request
	deadline := time.Now().Add(15 * time.Second)
	for req.Conversation == 0 && time.Now().Before(deadline) {
		reqs, err := rt.inbox.Requests()
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) == 1 {
			req = reqs[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	if req.Conversation == 0 || req.From.ID != "carol@localhost" || req.Preview != "hi bob" {
		t.Fatalf("carol's message did not reach the inbox through the added account: %+v", req)
	}

	if err := v.Disable(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, v, id, "disabled")
	routes, err := rt.inbox.Routes(req.Conversation)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].Account != id || routes[0].Online || routes[0].Encryption != protocols.EncTransport {
		t.Fatalf("routes while the added account is disconnected: %+v; want one offline TLS route on %s", routes, id)
	}
}

func waitState(t *testing.T, v statusView, id, state string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []tui.AccountStatus
	for time.Now().Before(deadline) {
		got = v.AccountStatuses()
		for _, s := range got {
			if s.Account == id && s.State.String() == state {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became %s: %+v", id, state, got)
}
