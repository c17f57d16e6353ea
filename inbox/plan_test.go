package inbox

import (
	"context"
	"errors"
	"strings"
	"testing"

	"polyglot/protocols"
)

// editConn is an obConn that can also correct messages; an edit travels
// with the class the connector offers at that moment.
type editConn struct {
	*obConn
	edits []protocols.Encryption
}

func (c *editConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: true, Receipts: true, Edits: true}
}

func (c *editConn) Edit(_ context.Context, chat protocols.ChatID, target protocols.MessageID, clientID protocols.ClientID, body string) (protocols.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.edits = append(c.edits, c.enc)
	return protocols.SendResult{NetworkID: protocols.MessageID("edit-" + clientID), Chat: chat, Encryption: c.enc}, nil
}

// TestPlanReplyAndEdit: a reply travels on the account of the message it
// answers and an edit on the account the message went out on; both obey
// the downgrade rule, the plan says so before anything is sent, and Send
// does what the plan said.
func TestPlanReplyAndEdit(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	w.in.Detach("wa")
	mx, xm := &editConn{obConn: w.conns["mx"]}, &editConn{obConn: w.conns["xm"]}
	w.in.Attach("mx", mx)
	w.in.Attach("xm", xm)
	w.online(t, "mx", true)
	w.online(t, "xm", true)
	ctx := context.Background()

	// Bob writes over XMPP; his Matrix "hello" is older.
	fromXM := protocols.Message{NetworkID: "x1", Chat: protocols.Chat{ID: protocols.ChatID(obAccounts[1].addr.ID)},
		Sender: obAccounts[1].addr, Body: "over xmpp"}
	if err := w.in.Ingest("xm", protocols.MessageEvent{Message: fromXM}); err != nil {
		t.Fatal(err)
	}
	idOf := func(netID string) MessageID {
		var id MessageID
		if err := w.in.db.QueryRow(`SELECT id FROM messages WHERE network_id = ?`, netID).Scan(&id); err != nil {
			t.Fatalf("message %s: %v", netID, err)
		}
		return id
	}
	x1, hello := idOf("x1"), idOf("$hello")
	plan := func(o RouteOptions) RoutePlan {
		t.Helper()
		p, err := w.in.PlanRoute(ctx, w.conv, o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A new message: plain Matrix, nothing to explain.
	if p := plan(RouteOptions{}); p.Route.Network != protocols.Matrix || p.Line != "" || p.Kind != PlanNew || p.Fallback {
		t.Fatalf("new: %+v", p)
	}
	// A reply to the Matrix message stays on Matrix, linked.
	if p := plan(RouteOptions{ReplyTo: hello}); p.Route.Network != protocols.Matrix || p.Unlinked || p.Line != "" || p.replyTo != "$hello" {
		t.Fatalf("reply on matrix: %+v", p)
	}
	// A reply to the XMPP message goes via XMPP, which is weaker: the plan
	// says it needs the user's OK, and Send refuses until it has it.
	p := plan(RouteOptions{ReplyTo: x1})
	if p.Kind != PlanReply || p.Route.Network != protocols.XMPP || !p.NeedsOK || p.CanQueue || p.Best.Network != protocols.Matrix ||
		p.Line != "a reply goes the way the message came: XMPP (TLS only) needs your OK — Matrix offers E2EE" {
		t.Fatalf("reply on xmpp: %+v", p)
	}
	_, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "answer", ReplyTo: x1})
	var de *DowngradeError
	if !errors.As(err, &de) || de.Plan.Kind != PlanReply || de.Offered.Network != protocols.XMPP || len(xm.attempts()) != 0 {
		t.Fatalf("reply without OK: %v", err)
	}
	m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "answer", ReplyTo: x1, AllowDowngrade: true})
	if err != nil || m.Network != protocols.XMPP || m.Encryption != protocols.EncTransport || m.ReplyTo != "x1" ||
		m.Notice != "sent via XMPP, TLS only, although Matrix offers E2EE — you allowed it for this message" {
		t.Fatalf("allowed reply: %+v %v", m, err)
	}
	if s := xm.sends(); len(s) != 1 || s[0].ReplyTo != "x1" {
		t.Fatalf("the reply reached XMPP as %+v", s)
	}
	// With the person's rule on, the plan says the rule allows it.
	if err := w.in.SetAllowDowngrade(w.bob, true); err != nil {
		t.Fatal(err)
	}
	if p := plan(RouteOptions{ReplyTo: x1}); p.NeedsOK || !p.ByRule || p.Line != "a reply goes the way the message came: XMPP, TLS only (Matrix offers E2EE) — your rule allows it" {
		t.Fatalf("reply by rule: %+v", p)
	}
	// Picking Matrix for the reply makes it a plain message, and says so.
	mxRoute := w.routeOn(t, "mx")
	if p := plan(RouteOptions{ReplyTo: x1, Route: &mxRoute}); !p.Unlinked || p.Route.Network != protocols.Matrix ||
		!strings.HasPrefix(p.Line, "your pick is not on XMPP, where that message came from: the reply goes as a plain message") || !strings.Contains(p.Notice, "not as a reply") {
		t.Fatalf("reply picked elsewhere: %+v", p)
	}

	// Edits go where the message went. The reply above went via XMPP.
	if err := w.in.SetAllowDowngrade(w.bob, false); err != nil {
		t.Fatal(err)
	}
	p = plan(RouteOptions{EditOf: m.ID})
	if p.Kind != PlanEdit || p.Route.Network != protocols.XMPP || !p.NeedsOK || p.CanQueue ||
		p.Line != "an edit goes where the message went: XMPP (TLS only) needs your OK — Matrix offers E2EE" {
		t.Fatalf("edit on xmpp: %+v", p)
	}
	if err := w.in.Edit(ctx, m.ID, "answer, corrected"); !errors.As(err, &de) || de.Plan.Kind != PlanEdit || len(xm.edits) != 0 {
		t.Fatalf("edit without OK: %v", err)
	}
	e, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "answer, corrected", EditOf: m.ID, AllowDowngrade: true})
	if err != nil || e.ID != m.ID || e.Body != "answer, corrected" || !e.Edited || e.Encryption != protocols.EncTransport || len(xm.edits) != 1 {
		t.Fatalf("allowed edit: %+v %v", e, err)
	}
	// XMPP offline: the edit cannot go now, and the plan says so first.
	w.online(t, "xm", false)
	if p := plan(RouteOptions{EditOf: m.ID}); !p.Unavailable || p.Queued || !strings.HasPrefix(p.Line, "XMPP offline — an edit goes where the message went") {
		t.Fatalf("edit offline: %+v", p)
	}
	if _, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "again", EditOf: m.ID, AllowDowngrade: true}); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("edit over an offline account: %v", err)
	}
	// An edit records the class it actually travelled with.
	own, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "on matrix"})
	if err != nil || own.Network != protocols.Matrix {
		t.Fatalf("%+v %v", own, err)
	}
	mx.set(protocols.EncE2EEVerified)
	if p := plan(RouteOptions{EditOf: own.ID}); p.Route.Network != protocols.Matrix || p.Line != "" || p.Route.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("edit on matrix: %+v", p)
	}
	if e, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "on matrix, verified", EditOf: own.ID}); err != nil || e.Encryption != protocols.EncE2EEVerified {
		t.Fatalf("edit on matrix: %+v %v", e, err)
	}
	// Only own, sent messages can be edited.
	if _, err := w.in.PlanRoute(ctx, w.conv, RouteOptions{EditOf: x1}); !errors.Is(err, ErrNotOwn) {
		t.Fatalf("edit of Bob's message: %v", err)
	}
	// A reply to a message whose account is gone goes unlinked via the best route.
	w.online(t, "xm", true)
	w.in.Detach("xm")
	if p := plan(RouteOptions{ReplyTo: x1}); !p.Unlinked || p.Route.Network != protocols.Matrix || !strings.HasPrefix(p.Line, "no route on XMPP") {
		t.Fatalf("reply without its account: %+v", p)
	}
}

// TestPlanTexts pins the words of the plan for a new message: the route
// line before sending and the notice the message keeps.
func TestPlanTexts(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	ctx := context.Background()
	cases := []struct {
		online       []string
		rule         bool
		line, notice string
	}{
		{[]string{"mx", "xm", "wa"}, false, "", ""},
		{[]string{"xm", "wa"}, false, "Matrix offline — the message goes via WhatsApp, still E2EE", "Matrix offline — sent via WhatsApp, still E2EE"},
		{[]string{"xm"}, false, "Matrix offline — sending via XMPP (TLS only) needs your OK", ""},
		{[]string{"xm"}, true, "Matrix offline — the message goes via XMPP, TLS only (was E2EE): your rule allows it",
			"Matrix offline — sent via XMPP, TLS only (was E2EE) — your rule for this contact allows it"},
		{nil, false, "Matrix offline — the message waits for it", "Matrix offline — queued"},
	}
	for _, c := range cases {
		for _, a := range []string{"mx", "xm", "wa"} {
			w.online(t, a, false)
		}
		for _, a := range c.online {
			w.online(t, a, true)
		}
		w.setPersonRule(t, "", "", c.rule)
		p, err := w.in.PlanRoute(ctx, w.conv, RouteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Line != c.line || p.Notice != c.notice {
			t.Errorf("online %v rule %v:\n line   %q\n want   %q\n notice %q\n want   %q", c.online, c.rule, p.Line, c.line, p.Notice, c.notice)
		}
		if strings.Contains(p.Line+p.Notice, "only only") {
			t.Errorf("doubled word: %q / %q", p.Line, p.Notice)
		}
	}
}
