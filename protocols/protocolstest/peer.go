package protocolstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"polyglot/protocols"
)

// ConnectorPeer plays the peer with a second connector of ours, logged in
// as another account on the same server.
type ConnectorPeer struct {
	R *Recorder
	// Self is the peer's address as the user writes to it; User the
	// user's as the peer writes to them.
	Self, User protocols.Address
	Timeout    time.Duration
	chat       protocols.ChatID
}

// NewConnectorPeer connects c and records its events.
func NewConnectorPeer(t testing.TB, c protocols.Connector, self, user protocols.Address) *ConnectorPeer {
	t.Helper()
	p := &ConnectorPeer{R: Record(c), Self: self, User: user, Timeout: 45 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		_ = c.Close()
		t.Fatalf("peer %s: Connect: %v", self.ID, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return p
}

func (p *ConnectorPeer) Address() protocols.Address { return p.Self }

func (p *ConnectorPeer) Say(t testing.TB, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	if p.chat == "" {
		// The chat the user's first message came in, once it came.
		for _, ev := range p.R.Events() {
			if m, ok := ev.(protocols.MessageEvent); ok && !m.Message.Outgoing && m.Message.Sender.ID == p.User.ID {
				p.chat = m.Message.Chat.ID
				break
			}
		}
	}
	res, err := p.R.C.Send(ctx, protocols.OutgoingMessage{ClientID: protocols.ClientID("peer-" + Token()), To: p.User, Chat: p.chat, Body: body})
	if err != nil {
		t.Fatalf("peer says %q: %v", body, err)
	}
	if p.chat == "" {
		p.chat = res.Chat
	}
}

func (p *ConnectorPeer) Heard(t testing.TB, body, sentinel string) int {
	t.Helper()
	incoming := func(b string) func(protocols.Event) bool {
		return func(ev protocols.Event) bool {
			m, ok := ev.(protocols.MessageEvent)
			return ok && !m.Message.Outgoing && m.Message.Body == b
		}
	}
	p.R.Wait(t, p.Timeout, fmt.Sprintf("the user's message %q at the peer", sentinel), incoming(sentinel))
	return p.R.Count(incoming(body))
}
