package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

// handleEvent is the one edge where mautrix events become protocols events.
// It runs on the sync goroutine, after the state store saw the event.
func (c *Connector) handleEvent(ctx context.Context, evt *event.Event) {
	defer func() {
		// A malformed event must never stop the sync loop.
		if r := recover(); r != nil {
			c.log.Error().Interface("panic", r).Str("event_id", evt.ID.String()).Msg("event handler panicked")
		}
	}()
	src := evt.Mautrix.EventSource
	if src&event.SourceAccountData != 0 && evt.Type == event.AccountDataDirectChats {
		c.handleDirect(ctx, evt)
		return
	}
	if evt.RoomID == "" {
		return // to-device: crypto and verification handle those
	}
	if src&event.SourceEphemeral != 0 {
		c.handleEphemeral(ctx, evt)
		return
	}
	if src&event.SourceInvite != 0 {
		c.handleInviteState(ctx, evt)
		return
	}
	if evt.StateKey != nil {
		c.handleState(ctx, evt)
		if src&event.SourceTimeline == 0 {
			return
		}
	}
	if src&event.SourceTimeline == 0 || evt.Unsigned.RedactedBecause != nil {
		return
	}
	if evt.Type == event.EventEncrypted {
		dec := c.decrypt(ctx, evt)
		if dec == nil {
			return
		}
		c.dispatchDecrypted(ctx, dec)
		return
	}
	c.dispatch(ctx, evt, c.firstSync.Load())
}

// dispatchDecrypted handles a live event that arrived encrypted. A step of
// an in-room verification goes to the verification helper, which listens
// on the syncer and saw only m.room.encrypted; one decrypted too late
// (verifications time out after 10 minutes) is dropped.
func (c *Connector) dispatchDecrypted(ctx context.Context, evt *event.Event) {
	if isVerificationEvent(evt) {
		if s, ok := c.cli.Syncer.(*syncer); ok && time.Since(time.UnixMilli(evt.Timestamp)) < 10*time.Minute {
			s.Dispatch(ctx, evt)
		}
		return
	}
	c.dispatch(ctx, evt, c.firstSync.Load())
}

// dispatch handles a (decrypted) timeline event.
func (c *Connector) dispatch(ctx context.Context, evt *event.Event, historical bool) {
	if ev := c.convert(ctx, evt, historical); ev != nil {
		c.emit(ev)
	}
}

// convert maps a timeline event to a protocols event (nil: not shown).
func (c *Connector) convert(ctx context.Context, evt *event.Event, historical bool) protocols.Event {
	_ = evt.Content.ParseRaw(evt.Type) // already parsed by the syncer; history needs it
	at := time.UnixMilli(evt.Timestamp)
	chat := evt.RoomID.String()
	switch evt.Type {
	case event.EventMessage, event.EventSticker:
		content := evt.Content.AsMessage()
		if content.MsgType == event.MsgVerificationRequest {
			return nil
		}
		if rel := content.RelatesTo; rel != nil && rel.Type == event.RelReplace && rel.EventID != "" {
			nc := content.NewContent
			if nc == nil {
				nc = content
			}
			body, formatted, notice := renderBody(nc)
			_ = notice
			return protocols.EditEvent{Chat: protocols.ChatID(chat), TargetID: protocols.MessageID(rel.EventID.String()), NetworkID: protocols.MessageID(evt.ID.String()),
				From: userAddress(evt.Sender), Body: body, Formatted: formatted, At: at}
		}
		msg := c.baseMessage(ctx, evt)
		fillMessage(&msg, content)
		return protocols.MessageEvent{Message: msg, Historical: historical}
	case event.EventReaction:
		rel := evt.Content.AsReaction().RelatesTo
		if rel.Type != event.RelAnnotation || rel.EventID == "" || rel.Key == "" {
			return nil
		}
		_ = c.st.putReaction(ctx, evt.ID, evt.RoomID, rel.EventID, rel.Key, evt.Sender)
		return protocols.ReactionEvent{Chat: protocols.ChatID(chat), TargetID: protocols.MessageID(rel.EventID.String()), Key: truncateUTF8(rel.Key, 64),
			From: userAddress(evt.Sender), At: at}
	case event.EventRedaction:
		target := evt.Redacts
		if target == "" {
			target = evt.Content.AsRedaction().Redacts
		}
		if target == "" {
			return nil
		}
		if r, ok := c.st.takeReaction(ctx, target); ok {
			return protocols.ReactionEvent{Chat: protocols.ChatID(chat), TargetID: protocols.MessageID(r.Target.String()), Key: r.Key,
				From: userAddress(r.Sender), Remove: true, At: at}
		}
		return protocols.DeleteEvent{Chat: protocols.ChatID(chat), TargetID: protocols.MessageID(target.String()), From: userAddress(evt.Sender), At: at}
	}
	return nil
}

// baseMessage fills what every message has: IDs, chat, sender, class.
func (c *Connector) baseMessage(ctx context.Context, evt *event.Event) protocols.Message {
	room, _ := c.st.room(ctx, evt.RoomID)
	enc := protocols.EncNone
	if evt.Mautrix.WasEncrypted || evt.Type == event.EventEncrypted {
		enc = protocols.EncE2EE
		// A key forwarded by a device that is not the sender's, or one that
		// does not match the sender's device keys, proves secrecy but not
		// who wrote it: never shown as verified.
		doubtful := evt.Mautrix.TrustState == id.TrustStateForwarded || evt.Mautrix.TrustState == id.TrustStateDeviceKeyMismatch
		if c.isVerified(evt.Sender) && !doubtful {
			enc = protocols.EncE2EEVerified
		}
	} else if c.cli.HomeserverURL.Scheme == "https" {
		enc = protocols.EncTransport
	}
	return protocols.Message{
		ClientID:   protocols.ClientID(evt.Unsigned.TransactionID),
		NetworkID:  protocols.MessageID(evt.ID.String()),
		Chat:       protocols.Chat{ID: protocols.ChatID(evt.RoomID.String()), Group: room.DirectUser == "", Name: room.Name, Peer: directPeer(room.DirectUser)},
		Sender:     userAddress(evt.Sender),
		Outgoing:   evt.Sender == c.cli.UserID,
		Sent:       time.UnixMilli(evt.Timestamp),
		Received:   time.Now(),
		Encryption: enc,
	}
}

func (c *Connector) isVerified(u id.UserID) bool {
	if u == c.cli.UserID {
		return true
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.trusted[u]
}

// fillMessage copies body, formatting, reply and media from content.
func fillMessage(msg *protocols.Message, content *event.MessageEventContent) {
	if content.RelatesTo != nil {
		if r := content.RelatesTo.GetReplyTo(); r != "" {
			msg.ReplyTo = protocols.MessageID(r.String())
		}
	}
	body, formatted, notice := renderBody(content)
	msg.Body, msg.FormattedBody, msg.Notice = body, formatted, notice
	switch content.MsgType {
	case event.MsgImage, event.MsgFile, event.MsgAudio, event.MsgVideo:
		msg.Attachments = []protocols.Attachment{attachmentOf(content)}
	case event.MsgEmote:
		msg.Body = "* " + msg.Body
	}
	if content.MsgType == "" && msg.Body == "" {
		msg.Notice = "unsupported message"
	}
	// A bridge posted it for someone else (MSC4144): never relayed again.
	msg.Relayed = content.BeeperPerMessageProfile != nil
}

// renderBody returns display text, the HTML to keep (empty when dropped) and
// a notice about anything cut or dropped.
func renderBody(content *event.MessageEventContent) (body, formatted, notice string) {
	if content.RelatesTo != nil && content.RelatesTo.GetReplyTo() != "" {
		content.RemoveReplyFallback()
	}
	body = content.Body
	if content.Format == event.FormatHTML && content.FormattedBody != "" {
		if text, ok := htmlToText(content.FormattedBody); ok {
			body, formatted = text, content.FormattedBody
		} else {
			notice = "formatting dropped: HTML too large or nested too deep"
		}
	}
	if len(body) > maxBodyBytes {
		notice = fmt.Sprintf("message cut from %d KiB to %d KiB", len(body)>>10, maxBodyBytes>>10)
		body = truncateUTF8(body, maxBodyBytes)
	}
	return body, formatted, notice
}

func attachmentOf(content *event.MessageEventContent) protocols.Attachment {
	a := protocols.Attachment{Name: content.GetFileName(), URL: string(content.URL)}
	if a.Name == "" {
		a.Name = content.Body
	}
	a.Name = truncateUTF8(a.Name, 255)
	if info := content.Info; info != nil {
		a.MIME, a.Size, a.Width, a.Height = info.MimeType, int64(info.Size), info.Width, info.Height
		a.Duration = time.Duration(info.Duration) * time.Millisecond
	}
	if content.File != nil {
		a.URL = string(content.File.URL)
		key, _ := json.Marshal(content.File)
		a.Key = string(key)
	}
	return a
}

func (c *Connector) handleEphemeral(ctx context.Context, evt *event.Event) {
	room := evt.RoomID
	switch evt.Type {
	case event.EphemeralEventTyping:
		now := map[id.UserID]bool{}
		for _, u := range evt.Content.AsTyping().UserIDs {
			if u != c.cli.UserID {
				now[u] = true
			}
		}
		c.mu.Lock()
		prev := c.typing[room]
		c.typing[room] = now
		c.mu.Unlock()
		for u := range now {
			if !prev[u] {
				c.emit(protocols.TypingEvent{Chat: protocols.ChatID(room.String()), From: userAddress(u), Typing: true})
			}
		}
		for u := range prev {
			if !now[u] {
				c.emit(protocols.TypingEvent{Chat: protocols.ChatID(room.String()), From: userAddress(u), Typing: false})
			}
		}
	case event.EphemeralEventReceipt:
		for evtID, receipts := range *evt.Content.AsReceipt() {
			for rtype, users := range receipts {
				if rtype != event.ReceiptTypeRead && rtype != event.ReceiptTypeReadPrivate {
					continue
				}
				for u, r := range users {
					if u == c.cli.UserID {
						continue
					}
					c.emit(protocols.ReceiptEvent{Chat: protocols.ChatID(room.String()), IDs: []protocols.MessageID{protocols.MessageID(evtID)},
						Kind: protocols.ReceiptRead, From: userAddress(u), At: r.Timestamp})
				}
			}
		}
	}
}

// handleState keeps our room table current and queues a ChatEvent.
func (c *Connector) handleState(ctx context.Context, evt *event.Event) {
	r, _ := c.st.room(ctx, evt.RoomID)
	changed := false
	switch evt.Type {
	case event.StateRoomName:
		r.Name = truncateUTF8(evt.Content.AsRoomName().Name, 255)
		changed = true
	case event.StateEncryption:
		changed = true
	case event.StateMember:
		m := evt.Content.AsMember()
		if evt.GetStateKey() == c.cli.UserID.String() {
			r.Membership = string(m.Membership)
			if m.Membership == event.MembershipJoin {
				c.noteSelfName(m.Displayname)
			}
			if m.Membership == event.MembershipInvite && r.InvitedBy == "" {
				r.InvitedBy = evt.Sender
			}
		} else if m.Displayname != "" && m.Membership == event.MembershipJoin {
			c.emit(protocols.ContactEvent{Contact: userAddress(id.UserID(evt.GetStateKey())), Name: truncateUTF8(m.Displayname, 255)})
		}
		changed = true
	default:
		return
	}
	if changed {
		_ = c.st.putRoom(ctx, r)
		c.markDirty(evt.RoomID)
	}
}

// handleInviteState collects the stripped state of an invite; the request is
// emitted once per sync response in flushRooms.
func (c *Connector) handleInviteState(ctx context.Context, evt *event.Event) {
	r, _ := c.st.room(ctx, evt.RoomID)
	switch evt.Type {
	case event.StateRoomName:
		r.Name = truncateUTF8(evt.Content.AsRoomName().Name, 255)
	case event.StateMember:
		if evt.GetStateKey() != c.cli.UserID.String() {
			return
		}
		m := evt.Content.AsMember()
		if m.Membership != event.MembershipInvite {
			return
		}
		r.Membership = "invite"
		r.InvitedBy = evt.Sender
		if m.IsDirect {
			r.DirectUser = evt.Sender
		}
		c.mu.Lock()
		if c.invites == nil {
			c.invites = map[id.RoomID]bool{}
		}
		c.invites[evt.RoomID] = true
		c.mu.Unlock()
	default:
		return
	}
	_ = c.st.putRoom(ctx, r)
}

// handleDirect applies m.direct: those rooms are 1:1 chats with that user.
func (c *Connector) handleDirect(ctx context.Context, evt *event.Event) {
	var direct event.DirectChatsEventContent
	if err := json.Unmarshal(evt.Content.VeryRaw, &direct); err != nil {
		return
	}
	for u, rooms := range direct {
		for _, room := range rooms {
			r, _ := c.st.room(ctx, room)
			if r.DirectUser != u {
				r.DirectUser = u
				_ = c.st.putRoom(ctx, r)
				c.markDirty(room)
			}
		}
	}
}

func (c *Connector) markDirty(room id.RoomID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty == nil {
		c.dirty = map[id.RoomID]bool{}
	}
	c.dirty[room] = true
}

// flushRooms emits one ChatEvent per changed room and one RequestEvent per
// new invite after each sync response, instead of one per state event.
func (c *Connector) flushRooms(ctx context.Context) {
	c.mu.Lock()
	dirty, invites := c.dirty, c.invites
	c.dirty, c.invites = nil, nil
	c.mu.Unlock()
	for room := range invites {
		r, _ := c.st.room(ctx, room)
		if r.Membership != "invite" {
			continue
		}
		c.emit(protocols.RequestEvent{From: userAddress(r.InvitedBy), Name: r.Name,
			Chat: protocols.Chat{ID: protocols.ChatID(room.String()), Group: r.DirectUser == "", Name: r.Name},
			Kind: protocols.RequestInvite, At: time.Now()})
	}
	for room := range dirty {
		r, _ := c.st.room(ctx, room)
		if r.Membership != "join" {
			continue
		}
		members, _ := c.cli.StateStore.GetRoomJoinedOrInvitedMembers(ctx, room)
		addrs := make([]protocols.Address, 0, len(members))
		for _, m := range members {
			addrs = append(addrs, userAddress(m))
		}
		c.emit(protocols.ChatEvent{
			Chat:       protocols.Chat{ID: protocols.ChatID(room.String()), Group: r.DirectUser == "", Name: r.Name, Peer: directPeer(r.DirectUser)},
			Encryption: c.roomEncryption(ctx, room),
			Members:    addrs,
		})
	}
}
