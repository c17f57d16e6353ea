package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"polyglot/config"
	"regexp"
	"sync"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// planConn is a network double whose encryption class the test turns; it
// records the class each message went out with.
type planConn struct {
	net    protocols.Network
	events chan protocols.Event

	mu   sync.Mutex
	enc  protocols.Encryption
	sent map[string]protocols.Encryption // client ID → class
}

func (c *planConn) Network() protocols.Network { return c.net }
func (c *planConn) Capabilities() protocols.Capabilities {
	return protocols.Capabilities{E2EE: true, Receipts: true}
}
func (c *planConn) Connect(context.Context) error                                         { return nil }
func (c *planConn) Events() <-chan protocols.Event                                        { return c.events }
func (c *planConn) MarkRead(context.Context, protocols.ChatID, protocols.MessageID) error { return nil }
func (c *planConn) SetTyping(context.Context, protocols.ChatID, bool) error               { return nil }
func (c *planConn) Close() error                                                          { return nil }
func (c *planConn) FetchHistory(context.Context, protocols.ChatID, string, int) (protocols.HistoryPage, error) {
	return protocols.HistoryPage{}, nil
}

func (c *planConn) PeerEncryption(protocols.Address) protocols.Encryption {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc
}

func (c *planConn) Send(_ context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc < m.MinEncryption {
		return protocols.SendResult{}, protocols.ErrEncryptionUnavailable
	}
	c.sent[string(m.ClientID)] = c.enc
	return protocols.SendResult{NetworkID: protocols.MessageID("net-" + m.ClientID), Chat: m.Chat, Encryption: c.enc, At: time.Now()}, nil
}

func (c *planConn) carried(clientID string) (protocols.Encryption, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sent[clientID]
	return e, ok
}

var sendReportRE = regexp.MustCompile(`^(sent|queued) via (Matrix|XMPP) \(([^)]*)\)`)

// TestSendFollowsTheRoutePlan runs `polyglot send`'s delivery through the
// routing matrix (each network online/offline; E2EE verified, unverified or
// transport only on each; the person's allow-downgrade rule on/off; no
// flag, --allow-downgrade, --queue) and checks that what send reports and
// does is the core's route plan — the plan the TUI's route line shows and
// its prompt answers ([y] is --allow-downgrade, [w] is --queue) — and that
// end-to-end encryption is never given up without the flag or the rule.
func TestSendFollowsTheRoutePlan(t *testing.T) {
	ids := 0
	in, err := inbox.Open(filepath.Join(t.TempDir(), "send.db"), inbox.Options{
		NewID: func() string { ids++; return fmt.Sprintf("cid%04d", ids) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx := context.Background()
	conns := map[protocols.Network]*planConn{}
	acct := map[protocols.Network]string{protocols.Matrix: "mx", protocols.XMPP: "xm"}
	ada := map[protocols.Network]protocols.Address{
		protocols.Matrix: {Network: protocols.Matrix, Account: "mx", ID: "@ada:example.org", Server: "example.org"},
		protocols.XMPP:   {Network: protocols.XMPP, Account: "xm", ID: "ada@jabber.example", Server: "jabber.example"},
	}
	cfg := &config.Config{}
	for n, a := range acct {
		conns[n] = &planConn{net: n, events: make(chan protocols.Event), sent: map[string]protocols.Encryption{}}
		in.Attach(a, conns[n])
		if err := in.Ingest(a, protocols.ContactEvent{Contact: ada[n], Name: "Ada Lovelace", Subscription: "both"}); err != nil {
			t.Fatal(err)
		}
		cfg.Accounts = append(cfg.Accounts, config.Account{ID: a, Network: n, Address: "me@" + string(n), Enabled: true})
	}
	hello := protocols.Message{NetworkID: "$hello", Chat: protocols.Chat{ID: "!ada:example.org", Peer: ada[protocols.Matrix]},
		Sender: ada[protocols.Matrix], Body: "hello"}
	if err := in.Ingest("mx", protocols.MessageEvent{Message: hello}); err != nil {
		t.Fatal(err)
	}
	sugg, err := in.MergeSuggestions()
	if err != nil || len(sugg) != 1 {
		t.Fatalf("merge suggestions: %v %v", sugg, err)
	}
	if err := in.Merge(sugg[0].A, sugg[0].B); err != nil {
		t.Fatal(err)
	}
	to := "matrix:" + ada[protocols.Matrix].ID
	conv, err := in.FindConversation(to)
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Conversation(conv)
	if err != nil {
		t.Fatal(err)
	}

	classes := []protocols.Encryption{protocols.EncE2EEVerified, protocols.EncE2EE, protocols.EncTransport}
	cells := 0
	for _, mxEnc := range classes {
		for _, xmEnc := range classes {
			for _, mxOn := range []bool{true, false} {
				for _, xmOn := range []bool{true, false} {
					for _, rule := range []bool{false, true} {
						for _, flag := range []string{"", "--allow-downgrade", "--queue"} {
							cells++
							name := fmt.Sprintf("mx=%s,%v/xm=%s,%v/rule=%v/%s", mxEnc, mxOn, xmEnc, xmOn, rule, flag)
							enc := map[protocols.Network]protocols.Encryption{protocols.Matrix: mxEnc, protocols.XMPP: xmEnc}
							online := map[protocols.Network]bool{protocols.Matrix: mxOn, protocols.XMPP: xmOn}
							for n, pc := range conns {
								pc.mu.Lock()
								pc.enc = enc[n]
								pc.mu.Unlock()
								st := protocols.ConnOffline
								if online[n] {
									st = protocols.ConnOnline
								}
								if err := in.Ingest(acct[n], protocols.ConnectionEvent{State: st}); err != nil {
									t.Fatal(err)
								}
							}
							if err := in.SetAllowDowngrade(c.Person, rule); err != nil {
								t.Fatal(err)
							}
							waitUntil(t, "the outbox to drain", func() bool { return queuedOnline(t, in, conv) == 0 })

							// What the TUI's route line shows, and what its prompt's answers would do.
							shown, err := in.PlanRoute(ctx, conv, inbox.RouteOptions{})
							if err != nil {
								t.Fatal(err)
							}
							want := shown
							if flag != "" {
								opts := inbox.RouteOptions{AllowDowngrade: flag == "--allow-downgrade", Queue: flag == "--queue"}
								if want, err = in.PlanRoute(ctx, conv, opts); err != nil {
									t.Fatal(err)
								}
							}
							var out bytes.Buffer
							a := &app{io: streams{out: &out, err: &out}}
							text := "send " + name
							err = a.deliver(ctx, in, cfg, &sendOptions{to: to, text: text,
								allowDowngrade: flag == "--allow-downgrade", queue: flag == "--queue"}, "")
							sendCell(t, name, err, out.String(), shown, want, conns, in, conv, text, rule, flag, enc)
						}
					}
				}
			}
		}
	}
	if cells != 3*3*2*2*2*3 {
		t.Fatalf("%d cells", cells)
	}
}

func sendCell(t *testing.T, name string, err error, out string, shown, want inbox.RoutePlan, conns map[protocols.Network]*planConn,
	in *inbox.Inbox, conv inbox.ConversationID, text string, rule bool, flag string, enc map[protocols.Network]protocols.Encryption) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s (err %v, output %q)", name, fmt.Sprintf(format, args...), err, out)
	}
	var ce *codedError
	errors.As(err, &ce)
	if shown.NeedsOK && rule {
		fail("the person's rule is on, yet the plan asks for an OK")
	}
	if want.NeedsOK {
		if ce == nil || ce.code != exitCannot || !regexp.MustCompile(`downgrade not allowed`).MatchString(err.Error()) {
			fail("the plan needs the user's OK: want exit %d", exitCannot)
		}
		if flag != "" {
			fail("%s did not settle the plan", flag)
		}
		return
	}
	report := out
	if err != nil {
		report = err.Error()
	}
	mm := sendReportRE.FindStringSubmatch(report)
	if mm == nil {
		fail("no route in the report")
	}
	net := map[string]protocols.Network{"Matrix": protocols.Matrix, "XMPP": protocols.XMPP}[mm[2]]
	if net != want.Route.Network || mm[3] != want.Route.Encryption.Label() {
		fail("send reports %s %s, the plan says %s %s", net, mm[3], want.Route.Network, want.Route.Encryption.Label())
	}
	if want.Queued != (mm[1] == "queued") || (want.Queued && (ce == nil || ce.code != exitQueued)) {
		fail("queued %v, report %q", want.Queued, mm[1])
	}
	// What happened, read from the store and the network.
	var m inbox.Message
	ms, lerr := in.Messages(conv, inbox.Cursor{}, 5)
	if lerr != nil {
		t.Fatal(lerr)
	}
	for _, x := range ms {
		if x.Body == text {
			m = x
		}
	}
	if m.Network != want.Route.Network || m.Encryption != want.Route.Encryption {
		fail("stored %s %s", m.Network, m.Encryption)
	}
	if !want.Queued {
		if e, ok := conns[m.Network].carried(m.ClientID); !ok || e != m.Encryption {
			fail("the network carried %v %s", ok, e)
		}
	}
	// Without a flag, send does what the route line shows.
	if flag == "" && (shown.Route.Network != m.Network || shown.Route.Encryption != m.Encryption) {
		fail("the line would show %s %s; send took %s %s", shown.Route.Network, shown.Route.Encryption, m.Network, m.Encryption)
	}
	// The rule, apart from the plan: never weaker than the best class
	// without --allow-downgrade or the person's rule.
	best := max(enc[protocols.Matrix], enc[protocols.XMPP])
	if m.Encryption < best && !rule && flag != "--allow-downgrade" {
		fail("SILENT DOWNGRADE: %s %s, best %s", m.Network, m.Encryption, best)
	}
}

// queuedOnline counts messages of conv still queued for an online account.
func queuedOnline(t *testing.T, in *inbox.Inbox, conv inbox.ConversationID) int {
	online := map[string]bool{}
	for _, s := range in.AccountStates() {
		online[s.Account] = s.State == protocols.ConnOnline
	}
	ms, err := in.Messages(conv, inbox.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.State == inbox.StateQueued && online[m.Account] {
			n++
		}
	}
	return n
}
