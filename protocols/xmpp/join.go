package xmpp

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"

	"polyglot/protocols"
)

var (
	_ protocols.Joiner    = (*Connector)(nil)
	_ protocols.SelfNamer = (*Connector)(nil)
)

// SelfNames are the account's local part and its group-chat nick.
func (c *Connector) SelfNames() []string {
	return []string{c.me.Localpart(), c.cfg.Nick}
}

// Join enters the group chat at addr (JoinRoom) for the user; it is
// re-joined after every reconnect from then on. A join the room refuses
// or never confirms is forgotten, so reconnects do not retry it.
func (c *Connector) Join(ctx context.Context, addr string) (protocols.Chat, error) {
	rj, err := jid.Parse(addr)
	if err != nil || rj.Localpart() == "" {
		return protocols.Chat{}, fmt.Errorf("%w: bad room address %q", protocols.ErrUnknownPeer, addr)
	}
	bare := rj.Bare().String()
	c.mu.Lock()
	_, had := c.rooms[bare]
	c.mu.Unlock()
	if err := c.JoinRoom(ctx, bare); err != nil {
		if !had {
			c.mu.Lock()
			if r := c.rooms[bare]; r != nil && !r.done {
				delete(c.rooms, bare)
			}
			c.mu.Unlock()
		}
		return protocols.Chat{}, err
	}
	return protocols.Chat{ID: protocols.ChatID(bare), Group: true, Name: rj.Localpart()}, nil
}
