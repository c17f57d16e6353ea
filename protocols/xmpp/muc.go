package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
)

type mucJoin struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc x"`
	History struct {
		MaxStanzas int `xml:"maxstanzas,attr"`
	} `xml:"http://jabber.org/protocol/muc history"`
}

// JoinRoom enters a MUC (XEP-0045) with the configured nick and waits for
// the room to confirm. A first join asks for the last 20 messages; a rejoin
// after a reconnect asks for none and instead pages the room's archive
// (XEP-0313) from the newest message seen, so nothing said meanwhile is
// lost however much it was. Both arrive as Historical, deduplicated by the
// room's stanza-id. Joined rooms are re-joined after every reconnect.
func (c *Connector) JoinRoom(ctx context.Context, roomAddr string) error {
	rj, err := jid.Parse(roomAddr)
	if err != nil || rj.Localpart() == "" {
		return fmt.Errorf("%w: bad room address %q", protocols.ErrUnknownPeer, roomAddr)
	}
	rj = rj.Bare()
	sess, _, err := c.session()
	if err != nil {
		return err
	}
	c.mu.Lock()
	r := c.rooms[rj.String()]
	if r == nil {
		r = &room{jid: rj, nick: c.cfg.Nick}
		c.rooms[rj.String()] = r
	}
	if r.done {
		c.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	r.joined = ch
	nick, since := r.nick, c.roomPos[rj.String()]
	// Without a position the join history is where the room starts for
	// us, so its messages may move the position at once.
	r.caughtUp = since == ""
	r.occupants = map[string]string{} // this join's presences fill it
	c.mu.Unlock()

	full, err := rj.WithResource(nick)
	if err != nil {
		return fmt.Errorf("xmpp: bad nick %q: %w", nick, err)
	}
	x := mucJoin{}
	if since == "" {
		x.History.MaxStanzas = 20
	}
	if err := sess.Encode(ctx, outPresence{To: full.String(), Payload: x}); err != nil {
		return fmt.Errorf("%w: %v", protocols.ErrNotConnected, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	select {
	case err, ok := <-ch:
		if ok && err != nil {
			return err
		}
	case <-wctx.Done():
		return fmt.Errorf("xmpp: join %s: %w", rj, wctx.Err())
	}
	c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: protocols.ChatID(rj.String()), Group: true, Name: rj.Localpart()}, Encryption: c.roomEncryption(r)})
	go c.learnRoom(r)
	if since != "" {
		if err := c.roomCatchUp(ctx, sess, r, since); err != nil {
			// The conversation stays usable; the position stays put, so the
			// next rejoin fetches the range again.
			c.log.Warn().Err(err).Str("room", rj.String()).Msg("room MAM catch-up failed")
		}
	}
	return nil
}

type bookmarkItems struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Items   struct {
		Node string `xml:"node,attr"`
		Item []struct {
			ID   string `xml:"id,attr"`
			Conf struct {
				Autojoin bool   `xml:"autojoin,attr"`
				Name     string `xml:"name,attr"`
				Nick     string `xml:"urn:xmpp:bookmarks:1 nick"`
			} `xml:"urn:xmpp:bookmarks:1 conference"`
		} `xml:"http://jabber.org/protocol/pubsub item"`
	} `xml:"http://jabber.org/protocol/pubsub items"`
}

// autojoin joins configured rooms, rooms joined before a reconnect and the
// autojoin bookmarks stored on the server (XEP-0402).
func (c *Connector) autojoin(ctx context.Context, sess *mxmpp.Session) {
	var bm bookmarkItems
	bm.Items.Node = nsBookmarks2
	if err := c.iq(ctx, sess, "get", "", bm, &bm); err == nil {
		for _, it := range bm.Items.Item {
			if !it.Conf.Autojoin {
				continue
			}
			if rj, err := jid.Parse(it.ID); err == nil {
				c.mu.Lock()
				if c.rooms[rj.Bare().String()] == nil {
					nick := it.Conf.Nick
					if nick == "" {
						nick = c.cfg.Nick
					}
					c.rooms[rj.Bare().String()] = &room{jid: rj.Bare(), nick: nick}
				}
				c.mu.Unlock()
			}
		}
	}
	c.mu.Lock()
	var rooms []string
	for k := range c.rooms {
		rooms = append(rooms, k)
	}
	c.mu.Unlock()
	for _, r := range rooms {
		if err := c.JoinRoom(ctx, r); err != nil {
			c.log.Warn().Err(err).Str("room", r).Msg("join failed")
		}
	}
}
