package inbox

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"polyglot/protocols"
)

// A history batch from more senders than one prefetch lookup covers, with
// strangers, a blocked sender, a contact added mid-batch, our own messages
// and duplicates, leaves the store exactly as the same events ingested one
// at a time do: the batch's caches change speed, not outcome.
func TestBatchFromManySendersMatchesOneByOne(t *testing.T) {
	addr := func(i int) protocols.Address {
		return protocols.Address{Network: protocols.Matrix, Account: "mx", ID: fmt.Sprintf("@p%02d:example.org", i), Server: "example.org"}
	}
	t0 := time.Unix(1_700_000_000, 0)
	msg := func(n, from int, out bool) protocols.Event {
		a := addr(from)
		m := protocols.Message{NetworkID: protocols.MessageID(fmt.Sprintf("$m%d", n)), Chat: protocols.Chat{ID: protocols.ChatID("!dm-" + a.ID), Peer: a},
			Body: fmt.Sprintf("message %d from %d", n, from), Sent: t0.Add(time.Duration(n) * time.Second), Outgoing: out}
		m.Sender = a
		if out {
			m.Sender = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@me:example.org"}
		}
		return protocols.MessageEvent{Message: m}
	}
	// Senders 0..39 are contacts, 40..44 strangers, 45 blocked; 44 becomes
	// a contact halfway through the batch.
	var evs []protocols.Event
	n := 0
	for round := range 3 {
		for from := range 46 {
			evs = append(evs, msg(n, from, from%7 == 3 && round == 1))
			n++
			if round == 1 && from == 20 {
				evs = append(evs, protocols.ContactEvent{Contact: addr(44), Name: "Forty-Four"})
				evs = append(evs, msg(3, 3, false)) // a duplicate
			}
		}
	}

	state := func(batch bool) (convs []Conversation, reqs []string, msgs map[string][]string) {
		t.Helper()
		in, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{Now: func() time.Time { return t0.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		for i := range 40 {
			if err := in.Ingest("mx", protocols.ContactEvent{Contact: addr(i), Name: fmt.Sprintf("Person %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		// 45 writes once, is blocked, and must not come back.
		if err := in.Ingest("mx", msg(-1, 45, false)); err != nil {
			t.Fatal(err)
		}
		rs, err := in.Requests()
		if err != nil || len(rs) != 1 {
			t.Fatalf("requests before: %v %v", rs, err)
		}
		if err := in.Decide(context.Background(), rs[0].Conversation, Block); err != nil {
			t.Fatal(err)
		}
		if batch {
			err = in.IngestBatch("mx", evs)
		} else {
			for _, ev := range evs {
				if err = in.Ingest("mx", ev); err != nil {
					break
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		convs, err = in.Conversations(Cursor{}, 200)
		if err != nil {
			t.Fatal(err)
		}
		rs, err = in.Requests()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			reqs = append(reqs, fmt.Sprintf("%s %d %s", r.From.ID, r.Count, r.Preview))
		}
		msgs = map[string][]string{}
		for i := range convs {
			ms, err := in.Messages(convs[i].ID, Cursor{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				msgs[convs[i].Title] = append(msgs[convs[i].Title], fmt.Sprintf("%s|%s|%v|%s", m.Body, m.SenderName, m.Outgoing, m.State))
			}
			convs[i].ID, convs[i].Person = 0, 0 // numbering may differ
		}
		return convs, reqs, msgs
	}
	bc, br, bm := state(true)
	oc, or, om := state(false)
	if !reflect.DeepEqual(bc, oc) {
		t.Errorf("conversations differ:\nbatch     %+v\none by one %+v", bc, oc)
	}
	if !reflect.DeepEqual(br, or) {
		t.Errorf("requests differ:\nbatch     %q\none by one %q", br, or)
	}
	if !reflect.DeepEqual(bm, om) {
		t.Errorf("messages differ:\nbatch     %q\none by one %q", bm, om)
	}
	// And the outcome is the one a user expects.
	if len(bc) != 41 { // 40 contacts + 44, accepted mid-batch
		t.Errorf("%d conversations in the inbox, want 41", len(bc))
	}
	if len(br) != 4 { // strangers 40..43
		t.Errorf("requests %q, want 4", br)
	}
	for title, ms := range bm {
		if len(ms) != 3 {
			t.Errorf("%s holds %d messages, want 3 (no duplicate, nothing lost): %q", title, len(ms), ms)
		}
	}
}
