package inbox

import (
	"context"
	"fmt"
	"testing"

	"polyglot/protocols"
)

// TestResendFlag: a connector is told when a send may repeat an earlier
// attempt: never on a message's first attempt right after it was stored,
// always on a retry and on every send of a message an earlier process
// stored (it may have died after the server took it).
func TestResendFlag(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	mx := w.conns["mx"]
	first, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "first try"})
	if err != nil || first.State != StateSent {
		t.Fatalf("send: %+v %v", first, err)
	}
	fails := 1
	mx.mu.Lock()
	mx.fail = func(protocols.OutgoingMessage) error {
		if fails > 0 {
			fails--
			return fmt.Errorf("no answer: %w", protocols.ErrNotConnected)
		}
		return nil
	}
	mx.mu.Unlock()
	old := outboxRetryDelay
	outboxRetryDelay = 0
	defer func() { outboxRetryDelay = old }()
	retried, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "retried"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry", func() bool { return w.state(t, retried.ID) == StateSent })
	tries := mx.attempts()
	if len(tries) != 3 || tries[0].Resend || tries[1].Resend || !tries[2].Resend {
		t.Fatalf("attempts %+v: want Resend only on the retry", tries)
	}
	if tries[2].At.IsZero() {
		t.Fatal("a resend does not say when its message was queued")
	}

	// Queued by a process that then went away: the next one's send is a
	// resend.
	w.online(t, "mx", false)
	left, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "left queued"})
	if err != nil || left.State != StateQueued {
		t.Fatalf("queue: %+v %v", left, err)
	}
	w.in.Close()
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	next := newObConn(protocols.Matrix, protocols.EncE2EE)
	in.Attach("mx", next)
	if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next process's send", func() bool { return len(next.sends()) == 1 })
	if s := next.sends()[0]; !s.Resend || s.Body != "left queued" {
		t.Fatalf("next process sent %+v, want the queued message as a resend", s)
	}
}
