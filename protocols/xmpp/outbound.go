package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
	"polyglot/protocols/xmpp/omemo"
)

func (c *Connector) target(chat string) (jid.JID, bool, error) {
	j, err := jid.Parse(chat)
	if err != nil || chat == "" {
		return jid.JID{}, false, fmt.Errorf("%w: bad XMPP address %q", protocols.ErrUnknownPeer, chat)
	}
	c.mu.Lock()
	_, group := c.rooms[j.Bare().String()]
	c.mu.Unlock()
	return j.Bare(), group, nil
}

func msgType(group bool) string {
	if group {
		return "groupchat"
	}
	return "chat"
}

// wireID maps an ID the core holds (a NetworkID/stanza-id or our ClientID)
// to what XMPP references use: in 1:1 the sender's id attribute, in rooms
// the room's stanza-id.
func (c *Connector) wireID(chat string, group bool, id string) string {
	if group {
		return id
	}
	if v, ok := c.msgID.Get("n:" + chat + ":" + id); ok {
		return v
	}
	return id
}

// Send sends msg with id = origin-id = msg.ClientID, asks for a receipt and
// marks it markable, then waits for the server to answer a ping sent right
// behind it: the stream is ordered, so the answer proves the server took the
// message (what XEP-0198 acks would do). A message the server archived on an
// earlier attempt (seen during MAM catch-up, or, for a Resend, found in the
// archive of the chat) is not sent twice.
func (c *Connector) Send(ctx context.Context, msg protocols.OutgoingMessage) (protocols.SendResult, error) {
	chat := msg.Chat
	if chat == "" {
		chat = protocols.ChatID(msg.To.ID)
	}
	to, group, err := c.target(string(chat))
	if err != nil {
		return protocols.SendResult{}, err
	}
	group = group || msg.Group
	// Verified needs every device of the peer compared (checked before a
	// ratchet moves); rooms offer E2EE, never verified.
	if group && msg.MinEncryption > protocols.EncE2EE {
		return protocols.SendResult{}, fmt.Errorf("%w: verified encryption is not offered in group chats", protocols.ErrEncryptionUnavailable)
	}
	if !group && msg.MinEncryption > protocols.EncE2EE && c.PeerEncryption(protocols.Address{ID: to.String()}) < msg.MinEncryption {
		return protocols.SendResult{}, fmt.Errorf("%w: not every OMEMO device of %s is compared", protocols.ErrEncryptionUnavailable, to.Bare())
	}
	if msg.ClientID == "" {
		msg.ClientID = protocols.ClientID(randomID())
	}
	if len(msg.Body) == 0 && msg.File == nil {
		return protocols.SendResult{}, errors.New("xmpp: empty message")
	}
	sess, _, err := c.session()
	if err != nil {
		return protocols.SendResult{}, err
	}
	res := protocols.SendResult{NetworkID: protocols.MessageID(msg.ClientID), Chat: protocols.ChatID(to.String()), Encryption: c.PeerEncryption(msg.To), At: time.Now()}
	if _, done := c.outArch.Get(string(msg.ClientID)); done && !group {
		return res, nil
	}
	if group {
		if err := c.JoinRoom(ctx, to.String()); err != nil {
			return protocols.SendResult{}, err
		}
	}
	if msg.Resend {
		// The catch-up only sees the archive after the stored position,
		// and a live message may have moved that past this one before
		// the last process died: ask the archive itself (a room's own,
		// where the room keeps our origin-id).
		found, err := c.inArchive(ctx, sess, to, group, string(msg.ClientID), msg.At)
		if err != nil {
			return protocols.SendResult{}, err
		}
		if found {
			if !group {
				c.outArch.Put(string(msg.ClientID), true)
			}
			c.log.Info().Str("client_id", string(msg.ClientID)).Msg("resend skipped: the server already has this message")
			return res, nil
		}
	}
	caption := ""
	var oob *OOB
	if msg.File != nil {
		u, withOOB, err := c.fileURL(ctx, sess, to, msg)
		if err != nil {
			return protocols.SendResult{}, err
		}
		// The body is the URL alone, so clients show the file inline; a
		// caption follows as a message of its own.
		caption, msg.Body = msg.Body, u
		if withOOB {
			oob = &OOB{URL: u}
		}
	}
	out := outMessage{
		ID: string(msg.ClientID), To: to.String(), Type: msgType(group), Body: msg.Body, OOB: oob,
		OriginID:  &OriginID{ID: string(msg.ClientID)},
		Markers:   []*Marker{NewMarker("markable", "")},
		ChatState: NewChatState(StateActive),
	}
	res.Encryption = c.transportEnc()
	if group {
		enc, err := c.encryptRoom(ctx, c.roomOf(to.String()), msg.Body, msg.MinEncryption)
		if err != nil {
			return protocols.SendResult{}, err
		}
		if enc != nil {
			out.Body, out.Encrypted, out.EME, out.Store = omemo.Fallback, enc, omemo.NewEME(), &Store{}
			res.Encryption = protocols.EncE2EE
		}
	} else {
		enc, err := c.encryptFor(ctx, to, msg.Body, msg.MinEncryption)
		if err != nil {
			return protocols.SendResult{}, err
		}
		if enc != nil {
			out.Body, out.Encrypted, out.EME, out.Store = omemo.Fallback, enc, omemo.NewEME(), &Store{}
			// After Encrypt: a device it just learnt is not compared.
			res.Encryption = c.omemoClass(ctx, to.Bare().String())
		}
	}
	if msg.MinEncryption > res.Encryption {
		return protocols.SendResult{}, protocols.ErrEncryptionUnavailable
	}
	if !group {
		out.Request = &ReceiptRequest{}
	}
	if msg.ReplyTo != "" {
		out.Reply = &Reply{ID: c.wireID(to.String(), group, string(msg.ReplyTo))}
	}
	if err := c.sendAcked(ctx, sess, out); err != nil {
		return protocols.SendResult{}, err
	}
	if !group {
		c.outArch.Put(string(msg.ClientID), true) // a retry of an acked message is a no-op
	}
	if msg.File != nil {
		res.Attachments = []protocols.Attachment{attachmentFor(msg.Body, msg.File.Name, msg.File.MIME, msg.File.Size)}
		if strings.TrimSpace(caption) != "" {
			cm := msg
			cm.File, cm.Body, cm.ClientID = nil, caption, msg.ClientID+"-caption"
			if _, err := c.Send(ctx, cm); err != nil {
				c.log.Warn().Err(err).Msg("the caption of a file was not sent")
			}
		}
	}
	return res, nil
}

// resendPages and resendSkew bound the archive search of inArchive: pages
// of 100 messages with the peer (or in the room), newer than the message's queue time less a
// minute of clock skew.
const (
	resendPages = 20
	resendSkew  = time.Minute
)

// inArchive reports whether a message we sent to chat with origin-id (or,
// 1:1, id) clientID is archived: in our archive filtered by the peer, or
// in the room's. It searches back to since (all of the bounded pages if
// since is zero). A server or room without an archive cannot tell: false.
func (c *Connector) inArchive(ctx context.Context, sess *mxmpp.Session, chat jid.JID, group bool, clientID string, since time.Time) (bool, error) {
	ctx, cancel := c.linked(ctx)
	defer cancel()
	archive, with := jid.JID{}, chat.String()
	if group {
		archive, with = chat, ""
	}
	before := ""
	for range resendPages {
		items, fin, err := c.mamPage(ctx, sess, archive, with, rsmSet{Max: 100, Before: strp(before)})
		if noArchive(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%w: checking the archive before a resend: %v", protocols.ErrNotConnected, err)
		}
		for _, it := range items {
			m := it.fwd.Message
			if m == nil {
				continue
			}
			origin := m.OriginID != nil && m.OriginID.ID == clientID
			if group {
				// The room names senders by nick; the origin-id, random
				// and ours, is what marks our message.
				if origin {
					return true, nil
				}
				continue
			}
			if from, err := jid.Parse(m.From); m.From != "" && (err != nil || !from.Bare().Equal(c.me.Bare())) {
				continue
			}
			if origin || m.ID == clientID {
				return true, nil
			}
		}
		if fin.Complete || len(items) == 0 || fin.First == "" {
			return false, nil
		}
		if oldest := items[0].fwd.Delay.time(); !since.IsZero() && !oldest.IsZero() && oldest.Before(since.Add(-resendSkew)) {
			return false, nil
		}
		before = fin.First
	}
	return false, nil
}

// sendAcked writes one message and confirms the server has it.
func (c *Connector) sendAcked(ctx context.Context, sess *mxmpp.Session, out outMessage) error {
	ctx, cancel := c.linked(ctx)
	defer cancel()
	if err := sess.Encode(ctx, out); err != nil {
		return fmt.Errorf("%w: %v", protocols.ErrNotConnected, err)
	}
	pctx, cancel := context.WithTimeout(ctx, c.cfg.PingTimeout)
	defer cancel()
	if err := c.ping0(pctx, sess); err != nil {
		return fmt.Errorf("%w: server did not confirm: %v", protocols.ErrNotConnected, err)
	}
	return nil
}

func (c *Connector) ping0(ctx context.Context, sess *mxmpp.Session) error {
	return c.iq(ctx, sess, "get", c.me.Domainpart(), struct {
		XMLName xml.Name `xml:"urn:xmpp:ping ping"`
	}{}, nil)
}

// sendSimple sends a bodiless or small control message.
func (c *Connector) sendSimple(ctx context.Context, out outMessage) error {
	sess, _, err := c.session()
	if err != nil {
		return err
	}
	if out.ID == "" {
		out.ID = randomID()
	}
	if err := sess.Encode(ctx, out); err != nil {
		return fmt.Errorf("%w: %v", protocols.ErrNotConnected, err)
	}
	return nil
}

// Edit sends a XEP-0308 correction of targetID (our ClientID of the message).
func (c *Connector) Edit(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, clientID protocols.ClientID, newBody string) (protocols.SendResult, error) {
	to, group, err := c.target(string(chat))
	if err != nil {
		return protocols.SendResult{}, err
	}
	if clientID == "" {
		clientID = protocols.ClientID(randomID())
	}
	sess, _, err := c.session()
	if err != nil {
		return protocols.SendResult{}, err
	}
	out := outMessage{
		ID: string(clientID), To: to.String(), Type: msgType(group), Body: newBody,
		OriginID: &OriginID{ID: string(clientID)},
		Replace:  &Replace{ID: c.wireID(to.String(), group, string(targetID))},
	}
	encClass := c.transportEnc()
	if r := c.roomOf(to.String()); group && r != nil {
		// A correction in an OMEMO room goes encrypted as the room's
		// messages do.
		min := protocols.EncNone
		if c.roomEncryption(r) >= protocols.EncE2EE {
			min = protocols.EncE2EE
		}
		enc, err := c.encryptRoom(ctx, r, newBody, min)
		if err != nil {
			return protocols.SendResult{}, err
		}
		if enc != nil {
			out.Body, out.Encrypted, out.EME, out.Store = omemo.Fallback, enc, omemo.NewEME(), &Store{}
			encClass = protocols.EncE2EE
		}
	} else if !group {
		// A correction of an OMEMO conversation goes encrypted too: the
		// <replace/> stays outside, the new text inside.
		min := protocols.EncNone
		if c.peerOMEMO(to.String()) {
			min = protocols.EncE2EE
		}
		enc, err := c.encryptFor(ctx, to, newBody, min)
		if err != nil {
			return protocols.SendResult{}, err
		}
		if enc != nil {
			out.Body, out.Encrypted, out.EME, out.Store = omemo.Fallback, enc, omemo.NewEME(), &Store{}
			encClass = c.omemoClass(ctx, to.Bare().String())
		}
	}
	if err := c.sendAcked(ctx, sess, out); err != nil {
		return protocols.SendResult{}, err
	}
	return protocols.SendResult{NetworkID: protocols.MessageID(clientID), Chat: protocols.ChatID(to.String()), Encryption: encClass, At: time.Now()}, nil
}

// React sets or removes one reaction. XEP-0444 sends the full set of our
// reactions to a message, so the connector keeps the set it last sent.
func (c *Connector) React(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, key string, remove bool) error {
	to, group, err := c.target(string(chat))
	if err != nil {
		return err
	}
	ref := c.wireID(to.String(), group, string(targetID))
	k := "mine\x00" + to.String() + "\x00" + ref
	prev, _ := c.react.Get(k)
	var set []string
	for _, p := range prev {
		if p != key {
			set = append(set, p)
		}
	}
	if !remove {
		set = append(set, key)
	}
	err = c.sendSimple(ctx, outMessage{
		To: to.String(), Type: msgType(group),
		Reactions: &Reactions{ID: ref, Reactions: set},
		Store:     &Store{},
	})
	if err == nil {
		c.react.Put(k, set)
	}
	return err
}

// Retract retracts one of our messages (XEP-0424, both the current form and
// the 0.x fastening form, plus the fallback body for clients without it).
func (c *Connector) Retract(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID) error {
	to, group, err := c.target(string(chat))
	if err != nil {
		return err
	}
	ref := c.wireID(to.String(), group, string(targetID))
	sess, _, err := c.session()
	if err != nil {
		return err
	}
	return c.sendAcked(ctx, sess, outMessage{
		ID: randomID(), To: to.String(), Type: msgType(group),
		Body:      "This person attempted to retract a previous message, but it's unsupported by your client.",
		Retract:   &Retract{ID: ref},
		ApplyTo:   &ApplyTo{ID: ref, Retract: &struct{}{}},
		Fallbacks: []Fallback{{For: nsRetract1}, {For: nsRetract0}},
		Store:     &Store{},
	})
}

// MarkRead sends a XEP-0333 displayed marker for networkID (and the XEP-0184
// receipt it asked for, if not sent yet). The core calls it only for peers
// the user accepted; nothing here sends read state on its own.
func (c *Connector) MarkRead(ctx context.Context, chat protocols.ChatID, networkID protocols.MessageID) error {
	to, group, err := c.target(string(chat))
	if err != nil {
		return err
	}
	id := c.wireID(to.String(), group, string(networkID))
	out := outMessage{To: to.String(), Type: msgType(group), Markers: []*Marker{NewMarker("displayed", id)}}
	if kinds, ok := c.ackable.Get(to.String() + "\x00" + id); ok && !group {
		for _, k := range kinds {
			if k == 'r' {
				out.Received = &ReceiptReceived{ID: id}
			}
		}
		c.ackable.Delete(to.String() + "\x00" + id)
	}
	return c.sendSimple(ctx, out)
}

// SetTyping sends a XEP-0085 composing/active state.
func (c *Connector) SetTyping(ctx context.Context, chat protocols.ChatID, typing bool) error {
	to, group, err := c.target(string(chat))
	if err != nil {
		return err
	}
	st := StateActive
	if typing {
		st = StateComposing
	}
	return c.sendSimple(ctx, outMessage{To: to.String(), Type: msgType(group), ChatState: NewChatState(st)})
}

// AnswerRequest answers a presence subscription (accept: approve and ask
// back, so presence flows both ways; deny: refuse) or a room invitation
// (accept: join).
func (c *Connector) AnswerRequest(ctx context.Context, from protocols.Address, chat protocols.ChatID, accept bool) error {
	sess, _, err := c.session()
	if err != nil {
		return err
	}
	if cj, err := jid.Parse(string(chat)); err == nil && chat != "" && !cj.Bare().Equal(mustBare(from.ID)) {
		if accept {
			return c.JoinRoom(ctx, cj.Bare().String())
		}
		return nil // a declined invite needs no answer
	}
	fj, err := jid.Parse(from.ID)
	if err != nil {
		return fmt.Errorf("%w: %q", protocols.ErrUnknownPeer, from.ID)
	}
	to := fj.Bare().String()
	if !accept {
		return sess.Encode(ctx, outPresence{To: to, Type: "unsubscribed"})
	}
	if err := sess.Encode(ctx, outPresence{To: to, Type: "subscribed"}); err != nil {
		return err
	}
	return sess.Encode(ctx, outPresence{To: to, Type: "subscribe"})
}

func mustBare(s string) jid.JID {
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}
	}
	return j.Bare()
}

func (c *Connector) fetchRoster(ctx context.Context, sess *mxmpp.Session) error {
	var q rosterQ
	if err := c.iq(ctx, sess, "get", "", rosterQ{}, &q); err != nil {
		return err
	}
	for _, it := range q.Items {
		c.emitContact(it)
	}
	return nil
}
