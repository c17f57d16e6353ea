package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// `polyglot contact unblock ADDRESS` takes back a block decided in the
// TUI: the stranger's request is back in the profile's store.
func TestContactUnblockCLI(t *testing.T) {
	p := newProfile(t)
	store := filepath.Join(p.data, "polyglot", profileDB)
	eve := protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "eve@example.org", Server: "example.org"}
	in, err := inbox.Open(store, inbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Ingest("xm", protocols.MessageEvent{Message: protocols.Message{NetworkID: "e1",
		Chat: protocols.Chat{ID: protocols.ChatID(eve.ID)}, Sender: eve, Body: "hello from eve", Sent: time.Unix(1_700_000_000, 0)}}); err != nil {
		t.Fatal(err)
	}
	reqs, err := in.Requests()
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests %+v, %v", reqs, err)
	}
	if err := in.Decide(context.Background(), reqs[0].Conversation, inbox.Block); err != nil {
		t.Fatal(err)
	}
	in.Close()

	if _, stderr, code := p.run("", "contact", "unblock"); code != exitUsage {
		t.Fatalf("unblock without an address: exit %d %s", code, stderr)
	}
	if _, stderr, code := p.run("", "contact", "unblock", "nobody@example.org"); code != exitCannot || !strings.Contains(stderr, "no contact") {
		t.Fatalf("unblock of an unknown address: exit %d %s", code, stderr)
	}
	out, stderr, code := p.run("", "contact", "unblock", "xmpp:"+eve.ID)
	if code != 0 || !strings.Contains(out, "unblocked") {
		t.Fatalf("unblock: exit %d, out %q, err %q", code, out, stderr)
	}
	if out, _, _ := p.run("", "contact", "unblock", eve.ID); !strings.Contains(out, "was not blocked") {
		t.Fatalf("a second unblock says %q", out)
	}

	if in, err = inbox.Open(store, inbox.Options{}); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if reqs, err := in.Requests(); err != nil || len(reqs) != 1 || reqs[0].From.ID != eve.ID {
		t.Fatalf("after unblocking, requests %+v, %v", reqs, err)
	}
}
