package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/config"
	"polyglot/inbox"
	"polyglot/protocols"
)

// fileConn is a planConn that also carries files, at the same class as
// its text; it records the files it was given.
type fileConn struct {
	*planConn
	files []string
}

func (c *fileConn) FileEncryption(p protocols.Address) protocols.Encryption {
	return c.PeerEncryption(p)
}
func (c *fileConn) UploadLimit(context.Context) (int64, error) { return 0, nil }

func (c *fileConn) Send(ctx context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	res, err := c.planConn.Send(ctx, m)
	if err == nil && m.File != nil {
		c.mu.Lock()
		c.files = append(c.files, m.File.Name)
		c.mu.Unlock()
	}
	return res, err
}

// TestSendFileRefusesASilentDowngrade: `polyglot send --file` follows the
// route plan as text does. Ada's Matrix (end to end) is offline and her
// XMPP is TLS only: without --allow-downgrade the file is refused with
// exit 3 and reaches no network; with it, it goes over XMPP and the report
// says TLS.
func TestSendFileRefusesASilentDowngrade(t *testing.T) {
	in, err := inbox.Open(filepath.Join(t.TempDir(), "send.db"), inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx := context.Background()
	ada := map[protocols.Network]protocols.Address{
		protocols.Matrix: {Network: protocols.Matrix, Account: "mx", ID: "@ada:example.org", Server: "example.org"},
		protocols.XMPP:   {Network: protocols.XMPP, Account: "xm", ID: "ada@jabber.example", Server: "jabber.example"},
	}
	acct := map[protocols.Network]string{protocols.Matrix: "mx", protocols.XMPP: "xm"}
	enc := map[protocols.Network]protocols.Encryption{protocols.Matrix: protocols.EncE2EE, protocols.XMPP: protocols.EncTransport}
	conns := map[protocols.Network]*fileConn{}
	cfg := &config.Config{}
	for n, a := range acct {
		conns[n] = &fileConn{planConn: &planConn{net: n, enc: enc[n], events: make(chan protocols.Event), sent: map[string]protocols.Encryption{}}}
		in.Attach(a, conns[n])
		if err := in.Ingest(a, protocols.ContactEvent{Contact: ada[n], Name: "Ada Lovelace", Subscription: "both"}); err != nil {
			t.Fatal(err)
		}
		cfg.Accounts = append(cfg.Accounts, config.Account{ID: a, Network: n, Address: "me@" + string(n), Enabled: true})
	}
	if err := in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$hello",
		Chat: protocols.Chat{ID: "!ada:example.org", Peer: ada[protocols.Matrix]}, Sender: ada[protocols.Matrix], Body: "hello"}}); err != nil {
		t.Fatal(err)
	}
	sugg, err := in.MergeSuggestions()
	if err != nil || len(sugg) != 1 {
		t.Fatalf("merge suggestions: %v %v", sugg, err)
	}
	if err := in.Merge(sugg[0].A, sugg[0].B); err != nil {
		t.Fatal(err)
	}
	for n, on := range map[protocols.Network]protocols.ConnState{protocols.Matrix: protocols.ConnOffline, protocols.XMPP: protocols.ConnOnline} {
		if err := in.Ingest(acct[n], protocols.ConnectionEvent{State: on}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "plans.txt")
	if err := os.WriteFile(path, []byte("the engine's plans"), 0o600); err != nil {
		t.Fatal(err)
	}
	to := "matrix:" + ada[protocols.Matrix].ID

	var out bytes.Buffer
	a := &app{io: streams{out: &out, err: &out}}
	err = a.deliver(ctx, in, cfg, &sendOptions{to: to, file: path}, "")
	var ce *codedError
	if !errors.As(err, &ce) || ce.code != exitCannot || !strings.Contains(err.Error(), "downgrade not allowed") {
		t.Fatalf("err = %v (%q), want exit %d 'downgrade not allowed'", err, out.String(), exitCannot)
	}
	if len(conns[protocols.XMPP].files)+len(conns[protocols.Matrix].files) != 0 {
		t.Fatal("the refused file reached a network")
	}

	out.Reset()
	if err := a.deliver(ctx, in, cfg, &sendOptions{to: to, file: path, allowDowngrade: true}, ""); err != nil {
		t.Fatalf("--allow-downgrade: %v (%q)", err, out.String())
	}
	if got := conns[protocols.XMPP].files; len(got) != 1 || got[0] != "plans.txt" {
		t.Fatalf("XMPP carried %v", got)
	}
	if !strings.Contains(out.String(), "XMPP") || !strings.Contains(out.String(), "TLS") {
		t.Fatalf("the report should name the network and encryption used: %q", out.String())
	}
}
