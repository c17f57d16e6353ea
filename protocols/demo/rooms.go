package demo

import (
	"context"
	"fmt"
	"strings"

	"polyglot/protocols"
)

// selfName is the simulated user's display name on every network; its
// local parts are "robin" too, so others' mentions of the user show.
const selfName = "Robin"

var (
	_ protocols.Joiner    = (*conn)(nil)
	_ protocols.SelfNamer = (*conn)(nil)
)

// SelfNames are the user's display name and the local part of the own
// address on this network.
func (c *conn) SelfNames() []string {
	local := c.self.ID
	if c.net == protocols.Matrix {
		local = strings.TrimPrefix(local, "@")
		local, _, _ = strings.Cut(local, ":")
	} else {
		local, _, _ = strings.Cut(local, "@")
	}
	return []string{selfName, local}
}

// Join enters a group chat: a Matrix room by alias (#name:server, the
// room ID is !name:server) or ID, an XMPP room by its address. The hike
// room is already joined; any other name is a new, empty room nobody else
// speaks in. WhatsApp groups cannot be joined by address.
func (c *conn) Join(ctx context.Context, addr string) (protocols.Chat, error) {
	if err := ctx.Err(); err != nil {
		return protocols.Chat{}, err
	}
	if err := c.linkErr(true); err != nil {
		return protocols.Chat{}, err
	}
	id, name := addr, addr
	switch c.net {
	case protocols.Matrix:
		local, server, ok := strings.Cut(addr[min(1, len(addr)):], ":")
		if !ok || local == "" || server == "" || (addr[0] != '#' && addr[0] != '!') {
			return protocols.Chat{}, fmt.Errorf("demo matrix: %w: %q is not a room alias", protocols.ErrUnknownPeer, addr)
		}
		id, name = "!"+local+":"+server, local
	case protocols.XMPP:
		local, _, ok := strings.Cut(addr, "@")
		if !ok || local == "" {
			return protocols.Chat{}, fmt.Errorf("demo xmpp: %w: %q is not a room address", protocols.ErrUnknownPeer, addr)
		}
		name = local
	default:
		return protocols.Chat{}, fmt.Errorf("demo %s: joining by address: %w", c.net, protocols.ErrUnsupported)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if lg, ok := c.chats[protocols.ChatID(id)]; ok && c.rooms[protocols.ChatID(id)] != nil {
		return lg.chat, nil
	}
	c.rooms[protocols.ChatID(id)] = &room{net: c.net, id: protocols.ChatID(id), name: name, enc: c.defaultEncryption()}
	lg := &chatLog{chat: protocols.Chat{ID: protocols.ChatID(id), Group: true, Name: name}}
	c.chats[protocols.ChatID(id)] = lg
	return lg.chat, nil
}
