package xmpp

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestLatencyAgainstSlixmpp measures send→receive through the same Prosody:
// Polyglot→slixmpp versus slixmpp→slixmpp, median of 200 messages each, one
// at a time (the next goes once the last arrived), clocks on one machine.
// Both numbers are logged; the test fails only if Polyglot is far slower.
func TestLatencyAgainstSlixmpp(t *testing.T) {
	const n = 200
	p := testserver.StartProsody(t)
	p.Register("alice", "pw")
	p.Register("bob", "pw")
	p.Register("carol", "pw")
	alice := newClient(t, p, "alice", "pw", nil)
	go func() { // keep alice's event channel drained
		for ev := range alice.Events() {
			stored(ev)
		}
	}()
	bob := p.StartPeer("bob@localhost", "pw", "--no-auto-receipts")
	carol := p.StartPeer("carol@localhost", "pw", "--no-auto-receipts")

	var ours, theirs []time.Duration
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("lat-p-%d", i)
		start := time.Now()
		if _, err := alice.Send(ctx10(t), protocols.OutgoingMessage{ClientID: protocols.ClientID(body), To: bobAddr, Body: body}); err != nil {
			t.Fatal(err)
		}
		ev := bob.Message(10*time.Second, body)
		ours = append(ours, ev.Time().Sub(start))
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("lat-s-%d", i)
		sent := carol.Send(map[string]any{"op": "send", "to": "bob@localhost", "body": body})
		ev := bob.Message(10*time.Second, body)
		theirs = append(theirs, ev.Time().Sub(sent.Time()))
	}
	mo, mt := median(ours), median(theirs)
	t.Logf("send→receive median over %d messages via Prosody: Polyglot→slixmpp %s, slixmpp→slixmpp %s", n, mo, mt)
	if mo > 10*mt+20*time.Millisecond {
		t.Fatalf("Polyglot is far slower than slixmpp: %s vs %s", mo, mt)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
