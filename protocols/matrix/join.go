package matrix

import (
	"context"
	"fmt"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

var (
	_ protocols.Joiner    = (*Connector)(nil)
	_ protocols.SelfNamer = (*Connector)(nil)
)

// SelfNames are the local part of the user ID and the display name the
// user's own membership events carry (learned while syncing).
func (c *Connector) SelfNames() []string {
	local, _, _ := id.UserID(c.cfg.UserID).Parse()
	c.mu.RLock()
	name := c.selfName
	c.mu.RUnlock()
	if name == "" {
		return []string{local}
	}
	return []string{local, name}
}

// noteSelfName records the user's display name from their own membership.
func (c *Connector) noteSelfName(name string) {
	if name = strings.TrimSpace(truncateUTF8(name, 255)); name == "" {
		return
	}
	c.mu.Lock()
	c.selfName = name
	c.mu.Unlock()
}

// Join joins a room by alias (#room:server) or ID (!id:server, asking its
// server for the way in) and returns it under its room ID, with the name
// and encryption learned from its state, so a message right away is
// encrypted if the room is.
func (c *Connector) Join(ctx context.Context, addr string) (protocols.Chat, error) {
	cli, _, st, err := c.client()
	if err != nil {
		return protocols.Chat{}, err
	}
	if addr == "" || (addr[0] != '#' && addr[0] != '!') || !strings.Contains(addr, ":") {
		return protocols.Chat{}, fmt.Errorf("%w: %q is not a room alias or ID", protocols.ErrUnknownPeer, addr)
	}
	req := &mautrix.ReqJoinRoom{}
	if addr[0] == '!' {
		_, server, _ := strings.Cut(addr, ":")
		req.Via = []string{server}
	}
	resp, err := cli.JoinRoom(ctx, addr, req)
	if err != nil {
		return protocols.Chat{}, fmt.Errorf("matrix: joining %s: %w", addr, err)
	}
	room := resp.RoomID
	r, _ := st.room(ctx, room)
	r.Membership = "join"
	name := r.Name
	if sm, err := cli.State(ctx, room); err == nil {
		if e := sm[event.StateRoomName][""]; e != nil {
			if n, ok := e.Content.Parsed.(*event.RoomNameEventContent); ok && n.Name != "" {
				name = truncateUTF8(n.Name, 255)
			}
		}
	}
	if name == "" && addr[0] == '#' {
		name, _, _ = strings.Cut(addr[1:], ":")
	}
	r.Name = name
	if err := st.putRoom(ctx, r); err != nil {
		return protocols.Chat{}, err
	}
	c.markDirty(room)
	return protocols.Chat{ID: protocols.ChatID(room.String()), Group: true, Name: name}, nil
}
