package inbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"polyglot/protocols"
)

// peopleWorld: Bob on Matrix and (separately) on WhatsApp, both contacts
// with the same display name, and Bob on XMPP as +49 151 … tel-style JID,
// so both kinds of suggestion exist.
type peopleWorld struct {
	in             *Inbox
	path           string
	mxBob, waBob   protocols.Address
	xmBob, ann     protocols.Address
	mxConv, waConv ConversationID
}

func newPeopleWorld(t *testing.T) *peopleWorld {
	t.Helper()
	w := &peopleWorld{
		path:  filepath.Join(t.TempDir(), "p.db"),
		mxBob: protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@bob:matrix.example", Server: "matrix.example"},
		waBob: protocols.Address{Network: protocols.WhatsApp, Account: "wa", ID: "4915112345678@s.whatsapp.net", Server: "s.whatsapp.net"},
		xmBob: protocols.Address{Network: protocols.XMPP, Account: "xm", ID: "+49 151 12345678@sms.example", Server: "sms.example"},
		ann:   protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ann:matrix.example", Server: "matrix.example"},
	}
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w.in = in
	for _, c := range []struct {
		acc  string
		a    protocols.Address
		name string
	}{{"mx", w.mxBob, "Bob  Smith"}, {"wa", w.waBob, "bob smith"}, {"xm", w.xmBob, "B."}, {"mx", w.ann, "Ann"}} {
		if err := in.Ingest(c.acc, protocols.ContactEvent{Contact: c.a, Name: c.name}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1_700_000_000, 0)
	msg := func(acc string, from protocols.Address, id, body string, at time.Duration) {
		m := protocols.Message{NetworkID: protocols.MessageID(id), Chat: protocols.Chat{ID: protocols.ChatID("chat-" + from.ID), Peer: from}, Sender: from, Body: body, Sent: t0.Add(at)}
		if err := in.Ingest(acc, protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	msg("mx", w.mxBob, "$1", "matrix one", 1*time.Minute)
	msg("wa", w.waBob, "w1", "whatsapp one", 2*time.Minute)
	msg("mx", w.mxBob, "$2", "matrix two", 3*time.Minute)
	msg("wa", w.waBob, "w2", "whatsapp two", 4*time.Minute)
	w.mxConv = w.conv(t, w.mxBob)
	w.waConv = w.conv(t, w.waBob)
	return w
}

func (w *peopleWorld) person(t *testing.T, a protocols.Address) PersonID {
	t.Helper()
	p, err := w.in.PersonOf(a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *peopleWorld) conv(t *testing.T, a protocols.Address) ConversationID {
	t.Helper()
	c, err := w.in.FindConversation(string(a.Network) + ":" + a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMergeSuggestions(t *testing.T) {
	w := newPeopleWorld(t)
	mx, wa, xm, ann := w.person(t, w.mxBob), w.person(t, w.waBob), w.person(t, w.xmBob), w.person(t, w.ann)
	if len(map[PersonID]bool{mx: true, wa: true, xm: true, ann: true}) != 4 {
		t.Fatal("ingest merged people on its own")
	}
	ss, err := w.in.MergeSuggestions()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range ss {
		got[pairKey(s.A, s.B)] = s.Reason
	}
	want := map[string]string{pairKey(mx, wa): "same name", pairKey(wa, xm): "same phone number"}
	if len(got) != len(want) {
		t.Fatalf("suggestions = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("suggestions = %v, want %v", got, want)
		}
	}
	// Suggestions never merge anything.
	if w.person(t, w.mxBob) == w.person(t, w.waBob) {
		t.Fatal("a suggestion was applied")
	}
}

func pairKey(a, b PersonID) string {
	if a > b {
		a, b = b, a
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// Merge moves the identities and folds the two direct conversations into
// one, in time order, with the unread counts added.
func TestMerge(t *testing.T) {
	w := newPeopleWorld(t)
	keep, other := w.person(t, w.mxBob), w.person(t, w.waBob)
	changes, stop := w.in.Subscribe()
	defer stop()
	if err := w.in.Merge(keep, other); err != nil {
		t.Fatal(err)
	}
	if w.person(t, w.waBob) != keep {
		t.Fatal("WhatsApp identity not moved")
	}
	if _, err := w.in.Person(other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("merged-away person still there: %v", err)
	}
	p, err := w.in.Person(keep)
	if err != nil {
		t.Fatal(err)
	}
	var nets []protocols.Network
	for _, id := range p.Identities {
		nets = append(nets, id.Address.Network)
	}
	if !slices.Equal(nets, []protocols.Network{protocols.Matrix, protocols.WhatsApp}) {
		t.Fatalf("identities = %v", nets)
	}
	cs, err := w.in.Conversations(Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var bob *Conversation
	for i := range cs {
		if cs[i].Person == keep {
			if bob != nil {
				t.Fatal("two conversations for one person after merge")
			}
			bob = &cs[i]
		}
		if cs[i].ID == w.waConv && w.waConv != w.mxConv {
			t.Fatal("the merged-away conversation is still listed")
		}
	}
	if bob == nil {
		t.Fatal("no conversation for the merged person")
	}
	if bob.Unread != 4 || bob.Preview != "whatsapp two" || !slices.Equal(bob.Networks, []protocols.Network{protocols.Matrix, protocols.WhatsApp}) {
		t.Fatalf("merged conversation = %+v", *bob)
	}
	ms, err := w.in.Messages(bob.ID, Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range ms {
		bodies = append(bodies, m.Body)
	}
	if !slices.Equal(bodies, []string{"matrix one", "whatsapp one", "matrix two", "whatsapp two"}) {
		t.Fatalf("merged messages = %q", bodies)
	}
	// A new WhatsApp message lands in the merged conversation.
	m := protocols.Message{NetworkID: "w3", Chat: protocols.Chat{ID: protocols.ChatID("chat-" + w.waBob.ID), Peer: w.waBob}, Sender: w.waBob, Body: "after merge", Sent: time.Unix(1_800_000_000, 0)}
	if err := w.in.Ingest("wa", protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
	if ms, _ := w.in.Messages(bob.ID, Cursor{}, 1); len(ms) != 1 || ms[0].Body != "after merge" {
		t.Fatalf("new message after merge went elsewhere: %+v", ms)
	}
	w.in.Attach("mx", newObConn(protocols.Matrix, protocols.EncE2EE))
	w.in.Attach("wa", newObConn(protocols.WhatsApp, protocols.EncE2EE))
	if rs, err := w.in.Routes(bob.ID); err != nil || len(rs) != 2 {
		t.Fatalf("routes after merge = %+v (%v)", rs, err)
	}
	seen := map[ChangeKind]bool{}
	timeout := time.After(2 * time.Second)
	for !seen[ChangePeople] || !seen[ChangeConversations] {
		select {
		case c := <-changes:
			seen[c.Kind] = true
		case <-timeout:
			t.Fatalf("merge published %v", seen)
		}
	}

	if err := w.in.Merge(keep, keep); err == nil {
		t.Fatal("merging a person with itself succeeded")
	}
	if err := w.in.Merge(keep, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("merging a person that no longer exists: %v", err)
	}
	if s, _ := w.in.MergeSuggestions(); len(s) != 1 || pairKey(s[0].A, s[0].B) != pairKey(keep, w.person(t, w.xmBob)) {
		t.Fatalf("suggestions after merge = %+v", s)
	}
}

// The per-person preference and downgrade rule persist across a restart;
// bad input changes nothing.
func TestPersonSettingsPersist(t *testing.T) {
	w := newPeopleWorld(t)
	p := w.person(t, w.mxBob)
	if err := w.in.SetPreferred(p, protocols.WhatsApp); err != nil {
		t.Fatal(err)
	}
	if err := w.in.SetAllowDowngrade(p, true); err != nil {
		t.Fatal(err)
	}
	if err := w.in.SetPreferred(p, "carrier-pigeon"); err == nil {
		t.Fatal("an unknown network was accepted")
	}
	if err := w.in.SetPreferred(9999, protocols.XMPP); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPreferred on a missing person: %v", err)
	}
	if err := w.in.SetAllowDowngrade(9999, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetAllowDowngrade on a missing person: %v", err)
	}
	w.in.Close()
	in, err := Open(w.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got, err := in.Person(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Preferred != protocols.WhatsApp || !got.AllowDowngrade {
		t.Fatalf("after restart preferred=%q allow=%v", got.Preferred, got.AllowDowngrade)
	}
	if err := in.SetPreferred(p, ""); err != nil {
		t.Fatal(err)
	}
	if err := in.SetAllowDowngrade(p, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := in.Person(p); got.Preferred != "" || got.AllowDowngrade {
		t.Fatalf("cleared settings = %+v", got)
	}
}
