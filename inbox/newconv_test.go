package inbox

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"polyglot/protocols"
)

func TestParseTarget(t *testing.T) {
	mx, xm, wa := protocols.Matrix, protocols.XMPP, protocols.WhatsApp
	for _, c := range []struct {
		in   string
		want Target
	}{
		{"@bob:example.org", Target{mx, "@bob:example.org", false}},
		{" matrix:@bob:example.org ", Target{mx, "@bob:example.org", false}},
		{"#hike:example.org", Target{mx, "#hike:example.org", true}},
		{"!abc123:example.org", Target{mx, "!abc123:example.org", true}},
		{"https://matrix.to/#/%23hike:example.org?via=example.org", Target{mx, "#hike:example.org", true}},
		{"https://matrix.to/#/@bob:example.org", Target{mx, "@bob:example.org", false}},
		{"bob@Example.ORG/laptop", Target{xm, "bob@example.org", false}},
		{"xmpp:bob@example.org", Target{xm, "bob@example.org", false}},
		{"room@conference.example.org", Target{xm, "room@conference.example.org", true}},
		{"xmpp:team@example.org?join", Target{xm, "team@example.org", true}},
		{"eve@chat.elsewhere.example", Target{xm, "eve@chat.elsewhere.example", false}},
		{"alice@localhost", Target{xm, "alice@localhost", false}},
		{"+4915123456789", Target{wa, "4915123456789@s.whatsapp.net", false}},
		{"4915123456789@s.whatsapp.net", Target{wa, "4915123456789@s.whatsapp.net", false}},
	} {
		got, err := ParseTarget(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for in, says := range map[string]string{
		"":                 "type an address",
		"bob":              "try @name:server",
		"@bob":             "@name:server",
		"#room":            "#room:server",
		"bob@":             "name@server",
		"@bob:ex ample":    "no spaces",
		"+12ab":            "digits",
		"bob@example.org@": "name@server",
		"matrix:bob":       "starts with @",
	} {
		_, err := ParseTarget(in)
		if !errors.Is(err, ErrBadTarget) || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseTarget(%q) error %v, want one saying %q", in, err, says)
		}
	}
}

// joinConn is a connector that joins group chats and names the user.
type joinConn struct {
	*obConn
	joined []string
	fail   error
}

func (c *joinConn) Join(_ context.Context, addr string) (protocols.Chat, error) {
	if c.fail != nil {
		return protocols.Chat{}, c.fail
	}
	c.joined = append(c.joined, addr)
	if addr == "#hike:example.org" {
		return protocols.Chat{ID: "!hike:example.org", Name: "Hike"}, nil // an alias resolves to the room ID
	}
	return protocols.Chat{ID: protocols.ChatID(addr)}, nil
}

func (c *joinConn) SelfNames() []string { return []string{"me", "Robin", "robin", " "} }

func TestOpenTargetStartsAndJoins(t *testing.T) {
	w := newIngestWorld(t, Options{})
	jc := &joinConn{obConn: newObConn(protocols.Matrix, protocols.EncE2EE)}
	w.in.Attach("mx", jc)
	ctx := context.Background()

	// A person: their direct conversation, the same one again next time.
	dm, err := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.Matrix, ID: "@new:example.org"})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.Matrix, ID: "@new:example.org"})
	if dm == 0 || again != dm {
		t.Fatalf("start twice gave %d and %d", dm, again)
	}
	// An existing contact opens the conversation already there.
	if c, _ := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.Matrix, ID: ann.ID}); c != w.conv {
		t.Fatalf("Ann's address opened %d, want her conversation %d", c, w.conv)
	}

	// A room alias: joined, opened under the room ID it resolved to.
	room, err := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.Matrix, ID: "#hike:example.org", Room: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.in.Conversation(room)
	if err != nil || c.Kind != Group || c.Title != "Hike" || c.Request {
		t.Fatalf("joined room conversation %+v (%v)", c, err)
	}
	if !reflect.DeepEqual(jc.joined, []string{"#hike:example.org"}) {
		t.Fatalf("joined %v", jc.joined)
	}
	// A message in the room lands in that conversation.
	m := protocols.Message{NetworkID: "$r1", Chat: protocols.Chat{ID: "!hike:example.org", Group: true}, Sender: ann, Body: "welcome", Sent: time.Now()}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
		t.Fatal(err)
	}
	if ms, _ := w.in.Messages(room, Cursor{}, 10); len(ms) != 1 || ms[0].Body != "welcome" {
		t.Fatalf("room messages %+v", ms)
	}

	// Refusals say why and change nothing.
	if _, err := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.XMPP, ID: "bob@example.org"}); err == nil || !strings.Contains(err.Error(), "XMPP address") {
		t.Fatalf("an XMPP address through a Matrix account: %v", err)
	}
	jc.fail = errors.New("M_FORBIDDEN: you are banned")
	if _, err := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.Matrix, ID: "#closed:example.org", Room: true}); err == nil || !strings.Contains(err.Error(), "banned") {
		t.Fatalf("a refused join: %v", err)
	}
	w.in.Attach("mx", w.conn) // cannot join
	if _, err := w.in.OpenTarget(ctx, "mx", Target{Network: protocols.Matrix, ID: "#x:example.org", Room: true}); !errors.Is(err, protocols.ErrUnsupported) {
		t.Fatalf("a connector without Join: %v", err)
	}
	if _, err := w.in.OpenTarget(ctx, "gone", Target{Network: protocols.Matrix, ID: "#x:example.org", Room: true}); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("no connector: %v", err)
	}
}

func TestOwnNames(t *testing.T) {
	w := newIngestWorld(t, Options{})
	if got := w.in.OwnNames(); len(got) != 0 {
		t.Fatalf("names from a connector that knows none: %v", got)
	}
	w.in.Attach("mx", &joinConn{obConn: newObConn(protocols.Matrix, protocols.EncE2EE)})
	if got := w.in.OwnNames()["mx"]; !reflect.DeepEqual(got, []string{"Robin", "me"}) {
		t.Fatalf("OwnNames = %v, want the distinct names", got)
	}
}

func TestNextUnreadFollowsTheListAndWraps(t *testing.T) {
	w := newIngestWorld(t, Options{})
	// Five people, each with one message; newest first in the list:
	// p5 p4 p3 p2 p1 (Ann's conversation, read, is the oldest).
	if err := w.in.MarkRead(context.Background(), w.conv); err != nil {
		t.Fatal(err)
	}
	convs := map[int]ConversationID{}
	for i := 1; i <= 5; i++ {
		a := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@p" + digit(i) + ":example.org"}
		if err := w.in.Ingest("mx", protocols.ContactEvent{Contact: a}); err != nil {
			t.Fatal(err)
		}
		m := protocols.Message{NetworkID: protocols.MessageID("$p" + digit(i)), Chat: protocols.Chat{ID: protocols.ChatID("!p" + digit(i)), Peer: a}, Sender: a, Body: "hi",
			Sent: w.t0.Add(time.Duration(i) * time.Hour)}
		if err := w.in.Ingest("mx", protocols.MessageEvent{Message: m}); err != nil {
			t.Fatal(err)
		}
		c, err := w.in.FindConversation(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		convs[i] = c
	}
	// p4 and p2 read: unread are p5, p3, p1.
	for _, i := range []int{4, 2} {
		if err := w.in.MarkRead(context.Background(), convs[i]); err != nil {
			t.Fatal(err)
		}
	}
	next := func(from ConversationID, back bool) ConversationID {
		t.Helper()
		c, err := w.in.NextUnread(from, back)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		from ConversationID
		back bool
		want ConversationID
	}{
		{0, false, convs[5]}, {0, true, convs[1]},
		{convs[5], false, convs[3]}, {convs[4], false, convs[3]}, {convs[3], false, convs[1]},
		{convs[1], false, convs[5]},                            // wraps to the top
		{convs[3], true, convs[5]}, {convs[5], true, convs[1]}, // wraps to the bottom
		{w.conv, false, convs[5]},
	} {
		if got := next(c.from, c.back); got != c.want {
			t.Errorf("NextUnread(%d, back=%v) = %d, want %d", c.from, c.back, got, c.want)
		}
	}
	for _, i := range []int{5, 3} {
		w.in.MarkRead(context.Background(), convs[i])
	}
	if got := next(convs[1], false); got != 0 {
		t.Fatalf("the only unread conversation leads to %d, want none", got)
	}
}

func digit(i int) string { return string(rune('0' + i)) }
