package protocolstest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// Recorder reads a connector's events as the inbox would: it keeps them in
// order, commits checkpoints (what it read counts as stored) and accepts
// every request (the user consented), so a test asks it what arrived.
type Recorder struct {
	C  protocols.Connector
	mu sync.Mutex
	ev []protocols.Event
	wk chan struct{}
}

// Record starts reading c's events until its channel closes.
func Record(c protocols.Connector) *Recorder {
	r := &Recorder{C: c, wk: make(chan struct{}, 1)}
	go r.read()
	return r
}

func (r *Recorder) read() {
	for ev := range r.C.Events() {
		switch e := ev.(type) {
		case protocols.CheckpointEvent:
			e.Commit()
		case protocols.RequestEvent:
			if rr, ok := r.C.(protocols.RequestResponder); ok {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					_ = rr.AnswerRequest(ctx, e.From, e.Chat.ID, true)
				}()
			}
		}
		r.mu.Lock()
		r.ev = append(r.ev, ev)
		r.mu.Unlock()
		select {
		case r.wk <- struct{}{}:
		default:
		}
	}
}

// Events is a copy of everything read so far.
func (r *Recorder) Events() []protocols.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocols.Event(nil), r.ev...)
}

// Wait returns the index and the first event matching, waiting up to
// timeout for it to arrive.
func (r *Recorder) Wait(t testing.TB, timeout time.Duration, what string, match func(protocols.Event) bool) (int, protocols.Event) {
	t.Helper()
	return r.WaitFrom(t, 0, timeout, what, match)
}

// WaitFrom is Wait over the events from index from on.
func (r *Recorder) WaitFrom(t testing.TB, from int, timeout time.Duration, what string, match func(protocols.Event) bool) (int, protocols.Event) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for i, ev := range r.Events() {
			if i >= from && match(ev) {
				return i, ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s within %s; events:\n%s", r.C.Network(), what, timeout, Dump(r.Events()))
		}
		select {
		case <-r.wk:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Message waits for a message with body and returns it.
func (r *Recorder) Message(t testing.TB, timeout time.Duration, body string) protocols.Message {
	t.Helper()
	_, ev := r.Wait(t, timeout, fmt.Sprintf("message %q", body), IsMessage(body))
	return ev.(protocols.MessageEvent).Message
}

// Count is how many events read so far match.
func (r *Recorder) Count(match func(protocols.Event) bool) int {
	n := 0
	for _, ev := range r.Events() {
		if match(ev) {
			n++
		}
	}
	return n
}

// IsMessage matches a message with exactly this body.
func IsMessage(body string) func(protocols.Event) bool {
	return func(ev protocols.Event) bool {
		m, ok := ev.(protocols.MessageEvent)
		return ok && m.Message.Body == body
	}
}

// IsState matches a connection event with state s.
func IsState(s protocols.ConnState) func(protocols.Event) bool {
	return func(ev protocols.Event) bool {
		c, ok := ev.(protocols.ConnectionEvent)
		return ok && c.State == s
	}
}

// Dump lists events for a failure message.
func Dump(evs []protocols.Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i == 80 {
			b.WriteString("  …\n")
			break
		}
		if m, ok := ev.(protocols.MessageEvent); ok {
			fmt.Fprintf(&b, "  message %q from %s in %s (historical %v, %s)\n", m.Message.Body, m.Message.Sender.ID, m.Message.Chat.ID, m.Historical, m.Message.Encryption.Label())
			continue
		}
		fmt.Fprintf(&b, "  %T %+v\n", ev, ev)
	}
	return b.String()
}
