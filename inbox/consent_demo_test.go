package inbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/internal/demotest"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// TestNothingLeavesBeforeConsent uses the demo world's record of what
// reached its networks: while a stranger's first message is a request,
// opening it (MarkRead) and typing (SetTyping) send nothing back; after
// Accept they do, and the decision is remembered.
func TestNothingLeavesBeforeConsent(t *testing.T) {
	ctx := context.Background()
	in, world := demotest.Inbox(t)

	// The stranger (a WhatsApp number, no roster entry) writes after a few
	// demo seconds.
	var req inbox.Request
	deadline := time.Now().Add(10 * time.Second)
	for req.Conversation == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no message request arrived")
		}
		rs, err := in.Requests()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.From.Network == protocols.WhatsApp {
				req = r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stranger := req.From.ID
	leaked := func() []demo.Outbound {
		var out []demo.Outbound
		for _, ob := range world.Outbound() {
			if (ob.Kind == demo.OutRead || ob.Kind == demo.OutTyping) && (ob.To.ID == stranger || strings.Contains(ob.Chat, stranger)) {
				out = append(out, ob)
			}
		}
		return out
	}

	if err := in.MarkRead(ctx, req.Conversation); err != nil {
		t.Fatal(err)
	}
	if err := in.SetTyping(ctx, req.Conversation, true); err != nil {
		t.Fatal(err)
	}
	if l := leaked(); len(l) != 0 {
		t.Fatalf("before consent, these reached the stranger: %+v", l)
	}
	if _, err := in.Send(ctx, inbox.SendRequest{Conversation: req.Conversation, Body: "hi?"}); err == nil {
		t.Fatal("a reply into an unanswered request was sent")
	}

	if err := in.Decide(ctx, req.Conversation, inbox.Accept); err != nil {
		t.Fatal(err)
	}
	if err := in.MarkRead(ctx, req.Conversation); err != nil {
		t.Fatal(err)
	}
	if err := in.SetTyping(ctx, req.Conversation, true); err != nil {
		t.Fatal(err)
	}
	var read, typing bool
	for _, ob := range leaked() {
		read = read || ob.Kind == demo.OutRead
		typing = typing || ob.Kind == demo.OutTyping
	}
	if !read || !typing {
		t.Fatalf("after Accept, want a read receipt and typing to go out (read=%v typing=%v)", read, typing)
	}
	rs, _ := in.Requests()
	for _, r := range rs {
		if r.Conversation == req.Conversation {
			t.Fatal("an accepted request is still asked about")
		}
	}
}
