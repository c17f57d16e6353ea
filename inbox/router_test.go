package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"polyglot/protocols"
)

// setPersonRule writes the per-person columns the router reads (what
// SetPreferred / SetAllowDowngrade persist).
func (w *obWorld) setPersonRule(t testing.TB, preferred protocols.Network, last protocols.Network, allow bool) {
	t.Helper()
	if _, err := w.in.db.Exec(`UPDATE people SET preferred = ?, last_network = ?, allow_downgrade = ? WHERE id = ?`,
		string(preferred), string(last), boolInt(allow), w.bob); err != nil {
		t.Fatal(err)
	}
}

// TestRouterNeverDowngradesSilently drives Send through every pair of
// encryption classes on two networks (Matrix, XMPP), every online/offline
// combination and every way the user can answer (nothing, a yes for this
// message, the per-person rule, "queue"). An independent oracle states the
// iMessage rule; on top, every outcome is checked against the invariant:
// a message never travels weaker than the best route unless the user
// allowed it, and then it carries a notice saying so.
func TestRouterNeverDowngradesSilently(t *testing.T) {
	w := newObWorld(t, protocols.EncNone, protocols.EncNone, protocols.EncNone)
	w.in.Detach("wa")
	ctx := context.Background()
	modes := []string{"plain", "allow", "rule", "queue"}
	cases := 0
	for _, mxEnc := range protocols.Encryptions {
		for _, xmEnc := range protocols.Encryptions {
			for _, mxOn := range []bool{false, true} {
				for _, xmOn := range []bool{false, true} {
					for _, mode := range modes {
						name := fmt.Sprintf("mx=%s,%v/xm=%s,%v/%s", mxEnc, on(mxOn), xmEnc, on(xmOn), mode)
						cases++
						t.Run(name, func(t *testing.T) {
							routerCase(t, w, ctx, mxEnc, xmEnc, mxOn, xmOn, mode)
						})
					}
				}
			}
		}
	}
	if cases != 4*4*2*2*4 {
		t.Fatalf("ran %d cases", cases)
	}
}

func on(b bool) string {
	if b {
		return "online"
	}
	return "offline"
}

func routerCase(t *testing.T, w *obWorld, ctx context.Context, mxEnc, xmEnc protocols.Encryption, mxOn, xmOn bool, mode string) {
	// Reset: no queued leftovers, no rule, no last-used network.
	if _, err := w.in.db.Exec(`UPDATE messages SET state = ? WHERE state = ?`, int(StateFailed), int(StateQueued)); err != nil {
		t.Fatal(err)
	}
	w.setPersonRule(t, "", "", mode == "rule")
	mx, xm := w.conns["mx"], w.conns["xm"]
	mx.set(mxEnc)
	xm.set(xmEnc)
	w.online(t, "mx", mxOn)
	w.online(t, "xm", xmOn)
	mx.reset()
	xm.reset()
	earlier := map[protocols.ClientID]bool{}
	for _, m := range w.outgoing(t) {
		earlier[protocols.ClientID(m.ClientID)] = true
	}
	before := len(earlier)

	// Oracle. Best = strongest class; on a tie Matrix (display order).
	type rt struct {
		net    protocols.Network
		enc    protocols.Encryption
		online bool
	}
	best, other := rt{protocols.Matrix, mxEnc, mxOn}, rt{protocols.XMPP, xmEnc, xmOn}
	if xmEnc > mxEnc {
		best, other = other, best
	}
	allowed := mode == "allow" || mode == "rule"
	var (
		wantErr   bool
		wantNet   protocols.Network
		wantState MessageState
	)
	switch {
	case best.online:
		wantNet, wantState = best.net, StateSent
	case other.online && other.enc == best.enc:
		wantNet, wantState = other.net, StateSent
	case other.online && allowed:
		wantNet, wantState = other.net, StateSent
	case other.online && mode == "queue":
		wantNet, wantState = best.net, StateQueued
	case other.online:
		wantErr = true
	default: // nothing online: wait for the best route
		wantNet, wantState = best.net, StateQueued
	}

	m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "case", AllowDowngrade: mode == "allow", Queue: mode == "queue"})
	// Only this case's message: an earlier case's queued one may still be
	// on its way out (its route came online; the reset above races the
	// outbox's drain that had already picked it up).
	var attempts []protocols.OutgoingMessage
	for _, a := range append(mx.attempts(), xm.attempts()...) {
		if !earlier[a.ClientID] {
			attempts = append(attempts, a)
		}
	}

	// Invariant, whatever the oracle says.
	for _, a := range attempts {
		if a.MinEncryption < best.enc && !allowed {
			t.Fatalf("connector offered %s below best %s without a yes", a.MinEncryption, best.enc)
		}
	}
	if err == nil && m.Encryption < best.enc {
		if !allowed {
			t.Fatalf("SILENT DOWNGRADE: sent %s, best was %s", m.Encryption, best.enc)
		}
		if m.Notice == "" {
			t.Fatalf("downgrade to %s without a notice", m.Encryption)
		}
	}

	if wantErr {
		var de *DowngradeError
		if !errors.As(err, &de) {
			t.Fatalf("want *DowngradeError, got m=%+v err=%v", m, err)
		}
		if de.Best.Network != best.net || de.Best.Encryption != best.enc || de.Offered.Network != other.net || de.Offered.Encryption != other.enc {
			t.Fatalf("DowngradeError names %v → %v", de.Best, de.Offered)
		}
		if len(attempts) != 0 {
			t.Fatal("a refused downgrade reached a connector")
		}
		if n := len(w.outgoing(t)); n != before {
			t.Fatal("a refused downgrade was stored")
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error %v", err)
	}
	if m.Network != wantNet || m.State != wantState {
		t.Fatalf("want %s %s, got %s %s (notice %q)", wantNet, wantState, m.Network, m.State, m.Notice)
	}
	wantEnc := best.enc
	if wantNet == other.net {
		wantEnc = other.enc
	}
	if m.Encryption != wantEnc {
		t.Fatalf("stored encryption %s, want %s", m.Encryption, wantEnc)
	}
	if wantState == StateSent {
		if len(attempts) != 1 || attempts[0].ClientID != protocols.ClientID(m.ClientID) || attempts[0].MinEncryption != wantEnc {
			t.Fatalf("want one send at %s, got %+v", wantEnc, attempts)
		}
	} else if len(attempts) != 0 {
		t.Fatalf("a queued message reached a connector: %+v", attempts)
	}
	switch {
	case wantNet == best.net && wantState == StateSent:
		if m.Notice != "" {
			t.Fatalf("best route needs no notice, got %q", m.Notice)
		}
	case wantState == StateQueued:
		if !strings.Contains(m.Notice, "offline") || !strings.Contains(m.Notice, "queued") {
			t.Fatalf("queued without saying why: %q", m.Notice)
		}
	default: // fallback
		if !strings.Contains(m.Notice, NetworkName(best.net)+" offline") || !strings.Contains(m.Notice, NetworkName(other.net)) {
			t.Fatalf("fallback notice %q", m.Notice)
		}
		if other.enc < best.enc && !strings.Contains(m.Notice, ", "+other.enc.Label()+" (was "+best.enc.Label()+")") {
			t.Fatalf("downgrade notice must say the weaker class and the one given up: %q", m.Notice)
		}
	}
}

func TestFallbackNoticeAndDowngradeErrorText(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	w.online(t, "wa", true)
	w.online(t, "xm", true)
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Network != protocols.WhatsApp || m.Notice != "Matrix offline — sent via WhatsApp, still E2EE" {
		t.Fatalf("got %s %q", m.Network, m.Notice)
	}
	w.online(t, "wa", false)
	w.setPersonRule(t, "", "", false) // forget that WhatsApp was just used
	_, err = w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "hi"})
	var de *DowngradeError
	if !errors.As(err, &de) || err.Error() != "Matrix (E2EE) is offline; XMPP would send TLS only" {
		t.Fatalf("got %v", err)
	}
}

func TestRoutesRanking(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncE2EE, protocols.EncE2EEVerified)
	w.online(t, "mx", true)
	order := func() string {
		rs, err := w.in.Routes(w.conv)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, r := range rs {
			s = append(s, string(r.Network))
		}
		return strings.Join(s, ",")
	}
	// Class first: verified WhatsApp beats online Matrix; ties in display order.
	if got := order(); got != "whatsapp,matrix,xmpp" {
		t.Fatalf("rank %s", got)
	}
	rs, _ := w.in.Routes(w.conv)
	if rs[0].Why != "strongest encryption, offline" || !rs[1].Online || rs[0].Online {
		t.Fatalf("route details %+v", rs)
	}
	// Last used breaks a tie; the user's preference beats last used.
	w.setPersonRule(t, "", protocols.XMPP, false)
	if got := order(); got != "whatsapp,xmpp,matrix" {
		t.Fatalf("with last used xmpp: %s", got)
	}
	w.setPersonRule(t, protocols.Matrix, protocols.XMPP, false)
	if got := order(); got != "whatsapp,matrix,xmpp" {
		t.Fatalf("with preferred matrix: %s", got)
	}
	// A preference never beats a stronger class.
	w.setPersonRule(t, protocols.XMPP, "", false)
	w.conns["xm"].set(protocols.EncTransport)
	if got := order(); got != "whatsapp,matrix,xmpp" {
		t.Fatalf("preferred but weaker: %s", got)
	}
	// Sending records the network used as "last used".
	w.conns["wa"].set(protocols.EncE2EE)
	w.conns["xm"].set(protocols.EncE2EE)
	w.setPersonRule(t, "", "", false)
	w.online(t, "xm", true)
	xmRoute := w.routeOn(t, "xm")
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "via xmpp", Route: &xmRoute}); err != nil {
		t.Fatal(err)
	}
	if got := order(); got != "xmpp,matrix,whatsapp" {
		t.Fatalf("after sending via xmpp: %s", got)
	}
	if p, err := w.in.Person(w.bob); err != nil || len(p.Identities) != 3 {
		t.Fatalf("person %+v %v", p, err)
	}
}

func (w *obWorld) routeOn(t testing.TB, account string) Route {
	t.Helper()
	rs, err := w.in.Routes(w.conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Account == account {
			return r
		}
	}
	t.Fatalf("no route via %s in %+v", account, rs)
	return Route{}
}

func TestRoutesPerAccount(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	second := newObConn(protocols.Matrix, protocols.EncE2EE)
	w.in.Attach("mx2", second)
	count := func(account string) int {
		rs, err := w.in.Routes(w.conv)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rs {
			if r.Account == account {
				n++
				if r.To.Account != protocols.AccountID(account) {
					t.Fatalf("route via %s addressed through %s", account, r.To.Account)
				}
			}
		}
		return n
	}
	// Bob's Matrix identity was seen through "mx": only that account reaches it.
	if count("mx") != 1 || count("mx2") != 0 {
		t.Fatalf("bound identity: mx=%d mx2=%d", count("mx"), count("mx2"))
	}
	// An identity that stands on its own is reachable through any account of its network.
	if _, err := w.in.db.Exec(`UPDATE identities SET account = '' WHERE network = 'matrix'`); err != nil {
		t.Fatal(err)
	}
	if count("mx") != 1 || count("mx2") != 1 {
		t.Fatalf("free identity: mx=%d mx2=%d", count("mx"), count("mx2"))
	}
	// A blocked identity is no route.
	if _, err := w.in.db.Exec(`UPDATE identities SET consent = ? WHERE network = 'xmpp'`, int(ConsentBlocked)); err != nil {
		t.Fatal(err)
	}
	if count("xm") != 0 {
		t.Fatal("route to a blocked identity")
	}
	// The DM room is used only for the account that holds it.
	w.online(t, "mx2", true)
	r := w.routeOn(t, "mx2")
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "from my second account", Route: &r}); err != nil {
		t.Fatal(err)
	}
	if s := second.sends(); len(s) != 1 || s[0].Chat != "" || s[0].To.ID != "@bob:matrix.example" {
		t.Fatalf("second account send %+v", s)
	}
}

func TestExplicitRoute(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	for _, a := range []string{"mx", "xm", "wa"} {
		w.online(t, a, true)
	}
	ctx := context.Background()
	xmRoute := w.routeOn(t, "xm")
	_, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "x", Route: &xmRoute})
	var de *DowngradeError
	if !errors.As(err, &de) || de.Offered.Network != protocols.XMPP || de.Best.Encryption != protocols.EncE2EE {
		t.Fatalf("weaker explicit pick: %v", err)
	}
	m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "x", Route: &xmRoute, AllowDowngrade: true})
	if err != nil || m.Network != protocols.XMPP || m.Encryption != protocols.EncTransport || !strings.Contains(m.Notice, "you allowed it") {
		t.Fatalf("allowed explicit pick: %+v %v", m, err)
	}
	waRoute := w.routeOn(t, "wa")
	m, err = w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "x", Route: &waRoute})
	if err != nil || m.Network != protocols.WhatsApp || m.Notice != "" {
		t.Fatalf("equal-class explicit pick: %+v %v", m, err)
	}
	bogus := Route{Account: "nope", Network: protocols.Matrix, To: protocols.Address{ID: "@x:y"}}
	if _, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "x", Route: &bogus}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("unknown route: %v", err)
	}
	// A weaker pick needs a yes even when the best route is offline.
	w.online(t, "mx", false)
	w.online(t, "wa", false)
	_, err = w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "x", Route: &xmRoute})
	if !errors.As(err, &de) || de.Best.Online || de.Offered.Network != protocols.XMPP {
		t.Fatalf("weaker pick while best offline: %v", err)
	}
	if err.Error() != "Matrix (E2EE) is offline; XMPP would send TLS only" && err.Error() != "WhatsApp (E2EE) is offline; XMPP would send TLS only" {
		t.Fatalf("text %q", err)
	}
	w.online(t, "mx", true)
	w.online(t, "wa", true)
	// An offline explicit pick of the best class waits for it.
	w.online(t, "wa", false)
	m, err = w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "x", Route: &waRoute})
	if err != nil || m.State != StateQueued || m.Network != protocols.WhatsApp {
		t.Fatalf("offline explicit pick: %+v %v", m, err)
	}
}

func TestGroupRoute(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncTransport, protocols.EncE2EE)
	w.online(t, "mx", true)
	msg := protocols.Message{NetworkID: "$g1", Chat: protocols.Chat{ID: "!team:matrix.example", Group: true, Name: "Team"},
		Sender: obAccounts[0].addr, Body: "standup?"}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: msg}); err != nil {
		t.Fatal(err)
	}
	var conv ConversationID
	if err := w.in.db.QueryRow(`SELECT conversation_id FROM messages WHERE network_id = '$g1'`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	rs, err := w.in.Routes(conv)
	if err != nil || len(rs) != 1 || rs[0].To.ID != "!team:matrix.example" || rs[0].Account != "mx" {
		t.Fatalf("group routes %+v %v", rs, err)
	}
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: conv, Body: "yes"})
	if err != nil || m.State != StateSent {
		t.Fatalf("%+v %v", m, err)
	}
	s := w.conns["mx"].sends()
	if len(s) != 1 || !s[0].Group || s[0].Chat != "!team:matrix.example" {
		t.Fatalf("group send %+v", s)
	}
}

// TestExplicitPickNeverDowngradesSilently picks the XMPP route by hand for
// every pair of classes and online states: a pick weaker than the best
// route is refused with *DowngradeError unless the user said yes.
func TestExplicitPickNeverDowngradesSilently(t *testing.T) {
	w := newObWorld(t, protocols.EncNone, protocols.EncNone, protocols.EncNone)
	w.in.Detach("wa")
	ctx := context.Background()
	for _, mxEnc := range protocols.Encryptions {
		for _, xmEnc := range protocols.Encryptions {
			for _, mxOn := range []bool{false, true} {
				for _, xmOn := range []bool{false, true} {
					for _, allow := range []bool{false, true} {
						name := fmt.Sprintf("mx=%s,%v/pick xm=%s,%v/allow=%v", mxEnc, on(mxOn), xmEnc, on(xmOn), allow)
						t.Run(name, func(t *testing.T) {
							if _, err := w.in.db.Exec(`UPDATE messages SET state = ? WHERE state = ?`, int(StateFailed), int(StateQueued)); err != nil {
								t.Fatal(err)
							}
							w.setPersonRule(t, "", "", false)
							mx, xm := w.conns["mx"], w.conns["xm"]
							mx.set(mxEnc)
							xm.set(xmEnc)
							w.online(t, "mx", mxOn)
							w.online(t, "xm", xmOn)
							mx.reset()
							xm.reset()
							pick := w.routeOn(t, "xm")
							m, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "pick", Route: &pick, AllowDowngrade: allow})
							attempts := append(mx.attempts(), xm.attempts()...)
							if xmEnc < mxEnc && !allow {
								var de *DowngradeError
								if !errors.As(err, &de) || len(attempts) != 0 {
									t.Fatalf("weaker pick without a yes: m=%+v err=%v attempts=%d", m, err, len(attempts))
								}
								return
							}
							if err != nil {
								t.Fatal(err)
							}
							want := StateQueued
							if xmOn {
								want = StateSent
							}
							if m.Network != protocols.XMPP || m.Encryption != xmEnc || m.State != want {
								t.Fatalf("got %s %s %s", m.Network, m.Encryption, m.State)
							}
							if xmEnc < mxEnc && !strings.Contains(m.Notice, "you allowed it") {
								t.Fatalf("allowed downgrade without notice: %q", m.Notice)
							}
							for _, a := range attempts {
								if a.MinEncryption != xmEnc || a.To.Network != protocols.XMPP {
									t.Fatalf("attempt %+v", a)
								}
							}
						})
					}
				}
			}
		}
	}
}

// With two Matrix identities on one account, each DM room carries its own
// peer's messages: a send goes to the room of the identity routed to, and
// an identity without a room gets none (the connector finds or makes it).
func TestDirectChatFollowsIdentity(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncNone, protocols.EncNone)
	w.online(t, "mx", true)
	for _, id := range []string{"@bob2:other.example", "@bob3:third.example"} {
		a := protocols.Address{Network: protocols.Matrix, ID: id, Server: serverOf(id)}
		if err := w.in.Ingest("mx", protocols.ContactEvent{Contact: a, Name: "Bob"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.in.db.Exec(`UPDATE identities SET person_id = ?`, w.bob); err != nil {
		t.Fatal(err)
	}
	msg := protocols.Message{NetworkID: "$b2", Chat: protocols.Chat{ID: "!dm2:other.example"},
		Sender: protocols.Address{Network: protocols.Matrix, ID: "@bob2:other.example"}, Body: "my other account"}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: msg}); err != nil {
		t.Fatal(err)
	}
	var conv ConversationID
	if err := w.in.db.QueryRow(`SELECT conversation_id FROM messages WHERE network_id = '$b2'`).Scan(&conv); err != nil || conv != w.conv {
		t.Fatalf("second identity's message landed in %d (%v), want %d", conv, err, w.conv)
	}
	rs, err := w.in.Routes(w.conv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"@bob:matrix.example": "!dm:matrix.example",
		"@bob2:other.example": "!dm2:other.example",
		"@bob3:third.example": "",
	}
	for _, r := range rs {
		if r.Account != "mx" {
			continue
		}
		r := r
		w.conns["mx"].reset()
		if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "to " + r.To.ID, Route: &r}); err != nil {
			t.Fatal(err)
		}
		s := w.conns["mx"].sends()
		if len(s) != 1 || s[0].To.ID != r.To.ID || s[0].Chat != protocols.ChatID(want[r.To.ID]) {
			t.Fatalf("send to %s went to chat %q, want %q", r.To.ID, s[0].Chat, want[r.To.ID])
		}
		delete(want, r.To.ID)
	}
	if len(want) != 0 {
		t.Fatalf("no route to %v", want)
	}
}

// The router obeys what the user sets through the public people API.
func TestRouterUsesPersonSettings(t *testing.T) {
	w := newObWorld(t, protocols.EncE2EE, protocols.EncE2EE, protocols.EncTransport)
	w.online(t, "mx", true)
	w.online(t, "xm", true)
	w.online(t, "wa", true)
	if err := w.in.SetPreferred(w.bob, protocols.XMPP); err != nil {
		t.Fatal(err)
	}
	m, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "prefer xmpp"})
	if err != nil || m.Network != protocols.XMPP {
		t.Fatalf("preferred network not used: %s %v", m.Network, err)
	}
	// Both E2EE routes offline: the WhatsApp TLS route needs a yes…
	w.online(t, "mx", false)
	w.online(t, "xm", false)
	var de *DowngradeError
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "x"}); !errors.As(err, &de) {
		t.Fatalf("want DowngradeError, got %v", err)
	}
	// …which the visible per-person rule gives.
	if err := w.in.SetAllowDowngrade(w.bob, true); err != nil {
		t.Fatal(err)
	}
	m, err = w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "x"})
	if err != nil || m.Network != protocols.WhatsApp || m.Encryption != protocols.EncTransport || !strings.Contains(m.Notice, "your rule") {
		t.Fatalf("rule not applied: %+v %v", m, err)
	}
	if err := w.in.SetAllowDowngrade(w.bob, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.Send(context.Background(), SendRequest{Conversation: w.conv, Body: "x"}); !errors.As(err, &de) {
		t.Fatalf("rule cleared but downgrade went through: %v", err)
	}
}
