package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/reflect/protoreflect"

	"polyglot/protocols"
)

// commitWait bounds how long a live message's handler waits for the store
// to confirm it. Until then whatsmeow holds back the server ack, so a
// message the store could not write is delivered again after a reconnect.
var commitWait = 60 * time.Second

// handle is the one type switch where whatsmeow's events become Polyglot's.
// It returns false when a live message was not stored, so whatsmeow does
// not acknowledge it to the server.
func (c *Connector) handle(raw any) bool {
	ctx := c.ctx
	switch e := raw.(type) {
	case *events.Message:
		if n := e.Message.GetProtocolMessage().GetHistorySyncNotification(); n != nil && e.Info.IsFromMe {
			c.queueHistory(&historyJob{notif: n, msgID: e.Info.ID})
			return true
		}
		evs := c.messageEvents(ctx, e, false)
		if len(evs) == 0 {
			return true
		}
		if c.emitCommitted(evs) {
			return true
		}
		// Not stored: end this session unacknowledged, so the next one
		// (the supervisor reconnects) receives the message again.
		select {
		case <-c.closed:
		default:
			d := "a message could not be stored; reconnecting to receive it again"
			go c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: errors.New(d), Detail: d})
		}
		return false
	case *events.UndecryptableMessage:
		if e.DecryptFailMode == events.DecryptFailHide {
			return true
		}
		m := c.baseMessage(ctx, e.Info, "")
		m.Undecryptable = true
		m.Notice = "this WhatsApp message could not be decrypted; the phone may resend it"
		c.emit(protocols.MessageEvent{Message: m})
	case *events.Receipt:
		if ev, ok := c.receipt(ctx, e); ok {
			c.emit(ev)
		}
	case *events.ChatPresence:
		chat, _ := c.chatOf(ctx, e.MessageSource)
		c.emit(protocols.TypingEvent{Chat: protocols.ChatID(chat), From: c.address(c.phoneJID(ctx, e.Sender, e.SenderAlt)),
			Typing: e.State == types.ChatPresenceComposing})
	case *events.Presence:
		st := protocols.PresenceOnline
		if e.Unavailable {
			st = protocols.PresenceOffline
		}
		c.emit(protocols.PresenceEvent{From: c.address(c.phoneJID(ctx, e.From, types.EmptyJID)), State: st})
	case *events.MediaRetry:
		c.mediaRetry(e)
	case *events.HistorySync:
		c.queueHistory(&historyJob{e: e})
	case *events.GroupInfo:
		if e.Name != nil {
			c.setGroupName(e.JID, e.Name.Name)
			c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: protocols.ChatID(e.JID.String()), Group: true, Name: e.Name.Name}, Encryption: protocols.EncE2EE})
		}
	case *events.JoinedGroup:
		c.setGroupName(e.JID, e.Name)
		c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: protocols.ChatID(e.JID.String()), Group: true, Name: e.Name}, Encryption: protocols.EncE2EE})
	case *events.IdentityChange:
		c.identityChanged(ctx, identityChange{jid: e.JID, at: e.Timestamp})
	case *events.Contact:
		// The phone's address book: the user's own contacts.
		if name := e.Action.GetFullName(); name != "" {
			c.emit(protocols.ContactEvent{Contact: c.address(c.phoneJID(ctx, e.JID, types.EmptyJID)), Name: name})
		}
	case *events.Connected:
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOnline})
	case *events.KeepAliveRestored:
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOnline})
	case *events.KeepAliveTimeout:
		c.settle(protocols.ConnectionEvent{State: protocols.ConnConnecting,
			Detail: fmt.Sprintf("WhatsApp is not answering (%d keep-alives missed since %s); waiting for it", e.ErrorCount, e.LastSuccess.Local().Format("15:04:05"))})
	case *events.Disconnected:
		c.mu.Lock()
		updating := c.updating
		c.mu.Unlock()
		if !updating {
			c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: errors.New("connection to WhatsApp lost"), Detail: "connection to WhatsApp lost"})
		}
	case *events.LoggedOut:
		// whatsmeow has deleted the device store: only a new link helps.
		err := loginNeeded(logoutReason(e))
		c.settle(protocols.ConnectionEvent{State: protocols.ConnAuthFailed, Err: err, Detail: err.Error()})
	case *events.StreamReplaced:
		d := "stopped: this WhatsApp link was opened by another program (another Polyglot with the same data?); reconnect from the accounts screen when that one is closed"
		c.settle(protocols.ConnectionEvent{State: protocols.ConnAuthFailed, Err: &linkError{detail: d}, Detail: d})
	case *events.TemporaryBan:
		d := fmt.Sprintf("WhatsApp has temporarily banned this account (%s); it ends in %s", e.Code, e.Expire.Round(time.Minute))
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: errors.New(d), Detail: d})
	case *events.ClientOutdated:
		c.clientOutdated()
	case *events.ConnectFailure:
		d := fmt.Sprintf("WhatsApp refused the connection (%d %s)", int(e.Reason), e.Message)
		c.settle(protocols.ConnectionEvent{State: protocols.ConnOffline, Err: errors.New(d), Detail: d})
	}
	return true
}

func logoutReason(e *events.LoggedOut) string {
	switch e.Reason {
	case events.ConnectFailureLoggedOut, 0:
		return "this device was unlinked (from the phone, or WhatsApp ended the link)"
	case events.ConnectFailureMainDeviceGone:
		return "the phone's WhatsApp account is gone or locked"
	case events.ConnectFailureUnknownLogout:
		return "WhatsApp ended the link (the account may be banned)"
	}
	return fmt.Sprintf("WhatsApp ended the link (%d %s)", int(e.Reason), e.Reason)
}

// emitCommitted emits a live message's events and a checkpoint, and waits
// until the consumer stored them.
func (c *Connector) emitCommitted(evs []protocols.Event) bool {
	done := make(chan struct{})
	for _, ev := range evs {
		c.emit(ev)
	}
	var once sync.Once
	c.emit(protocols.CheckpointEvent{Commit: func() { once.Do(func() { close(done) }) }})
	t := time.NewTimer(commitWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-c.closed:
	case <-t.C:
		c.log.Warn().Msg("a WhatsApp message was not stored in time; leaving it unacknowledged so the server sends it again")
	}
	return false
}

// chatOf is the chat ID events use: a group's JID, or the peer's (phone
// number) JID of a 1:1 chat.
func (c *Connector) chatOf(ctx context.Context, src types.MessageSource) (string, types.JID) {
	if src.IsGroup || src.Chat.Server == types.GroupServer {
		return src.Chat.String(), src.Chat
	}
	alt := src.SenderAlt
	if src.IsFromMe {
		alt = src.RecipientAlt
	}
	peer := c.phoneJID(ctx, src.Chat, alt)
	return peer.String(), peer
}

func (c *Connector) baseMessage(ctx context.Context, info types.MessageInfo, chatName string) protocols.Message {
	chatID, peer := c.chatOf(ctx, info.MessageSource)
	sender := c.phoneJID(ctx, info.Sender, info.SenderAlt)
	m := protocols.Message{
		NetworkID:  protocols.MessageID(info.ID),
		Chat:       protocols.Chat{ID: protocols.ChatID(chatID), Group: info.IsGroup},
		Sender:     c.address(sender),
		Outgoing:   info.IsFromMe,
		Sent:       info.Timestamp,
		Received:   time.Now(),
		Encryption: protocols.EncE2EE,
	}
	if !info.IsFromMe {
		// From a contact whose code the user compared: verified.
		m.Encryption = c.peerClass(sender)
	}
	switch {
	case info.IsGroup:
		m.Chat.Name = chatName
		if m.Chat.Name == "" {
			m.Chat.Name = c.groupName(info.Chat)
		}
	case info.IsFromMe:
		m.Chat.Peer = c.address(peer)
		m.Chat.Name = chatName
	default:
		// A 1:1 chat is named after the person: their push name.
		m.Chat.Name = info.PushName
		if m.Chat.Name == "" {
			m.Chat.Name = chatName
		}
	}
	if info.IsFromMe {
		m.ClientID = protocols.ClientID(c.st.clientIDOf(ctx, info.ID))
	}
	return m
}

// messageEvents converts one whatsmeow message (live or from a history
// sync) into the events it means. Status updates and channels are not
// conversations and are dropped.
func (c *Connector) messageEvents(ctx context.Context, e *events.Message, historical bool) []protocols.Event {
	info := e.Info
	if info.Chat.Server == types.BroadcastServer || info.Chat.Server == types.NewsletterServer {
		return nil
	}
	msg := e.Message
	if msg == nil {
		return nil
	}
	base := c.baseMessage(ctx, info, "")
	return c.convert(ctx, base, msg, historical)
}

func (c *Connector) convert(ctx context.Context, base protocols.Message, msg *waE2E.Message, historical bool) []protocols.Event {
	at := base.Sent
	if pm := msg.GetProtocolMessage(); pm != nil {
		switch pm.GetType() {
		case waE2E.ProtocolMessage_REVOKE:
			return []protocols.Event{protocols.DeleteEvent{Chat: base.Chat.ID, TargetID: protocols.MessageID(pm.GetKey().GetID()), From: base.Sender, At: at}}
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			body, _, _ := content(pm.GetEditedMessage())
			_ = c.st.remember(ctx, string(base.Chat.ID), pm.GetKey().GetID(), base.Sender.ID, base.Outgoing, body)
			return []protocols.Event{protocols.EditEvent{Chat: base.Chat.ID, TargetID: protocols.MessageID(pm.GetKey().GetID()), NetworkID: base.NetworkID,
				From: base.Sender, Body: body, At: at}}
		}
		return nil
	}
	if r := msg.GetReactionMessage(); r != nil {
		// One reaction per person: a new one replaces theirs, "" clears it.
		target, key := r.GetKey().GetID(), r.GetText()
		prev := c.st.swapReaction(ctx, string(base.Chat.ID), target, base.Sender.ID, key)
		var evs []protocols.Event
		if prev != "" && prev != key {
			evs = append(evs, protocols.ReactionEvent{Chat: base.Chat.ID, TargetID: protocols.MessageID(target), Key: prev, From: base.Sender, Remove: true, At: at})
		}
		if key != "" && key != prev {
			evs = append(evs, protocols.ReactionEvent{Chat: base.Chat.ID, TargetID: protocols.MessageID(target), Key: key, From: base.Sender, At: at})
		}
		return evs
	}
	body, reply, atts := content(msg)
	m := base
	m.Body, m.ReplyTo, m.Attachments = body, protocols.MessageID(reply), atts
	withOrigin(m.Attachments, m)
	if body == "" && len(atts) == 0 {
		kind := kindOf(msg)
		if kind == "" {
			return nil // key distribution and other plumbing
		}
		m.Notice = "a WhatsApp " + kind + " message, which Polyglot cannot show yet"
	}
	_ = c.st.remember(ctx, string(m.Chat.ID), string(m.NetworkID), m.Sender.ID, m.Outgoing, body)
	return []protocols.Event{protocols.MessageEvent{Message: m, Historical: historical}}
}

// content is a message's text, the ID it replies to, and its media.
func content(msg *waE2E.Message) (body, replyTo string, atts []protocols.Attachment) {
	if msg == nil {
		return "", "", nil
	}
	if s := msg.GetConversation(); s != "" {
		return s, "", nil
	}
	if x := msg.GetExtendedTextMessage(); x != nil {
		return x.GetText(), x.GetContextInfo().GetStanzaID(), nil
	}
	if m := msg.GetImageMessage(); m != nil {
		return m.GetCaption(), m.GetContextInfo().GetStanzaID(), []protocols.Attachment{media(mediaImage, m, "image"+ext(m.GetMimetype()), m.GetMimetype(), int(m.GetWidth()), int(m.GetHeight()), 0)}
	}
	if m := msg.GetVideoMessage(); m != nil {
		return m.GetCaption(), m.GetContextInfo().GetStanzaID(), []protocols.Attachment{media(mediaVideo, m, "video"+ext(m.GetMimetype()), m.GetMimetype(), int(m.GetWidth()), int(m.GetHeight()), time.Duration(m.GetSeconds())*time.Second)}
	}
	if m := msg.GetAudioMessage(); m != nil {
		return "", m.GetContextInfo().GetStanzaID(), []protocols.Attachment{media(mediaAudio, m, "audio"+ext(m.GetMimetype()), m.GetMimetype(), 0, 0, time.Duration(m.GetSeconds())*time.Second)}
	}
	if m := msg.GetDocumentMessage(); m != nil {
		name := m.GetFileName()
		if name == "" {
			name = m.GetTitle()
		}
		return m.GetCaption(), m.GetContextInfo().GetStanzaID(), []protocols.Attachment{media(mediaDocument, m, name, m.GetMimetype(), 0, 0, 0)}
	}
	if m := msg.GetStickerMessage(); m != nil {
		return "", m.GetContextInfo().GetStanzaID(), []protocols.Attachment{media(mediaImage, m, "sticker.webp", m.GetMimetype(), int(m.GetWidth()), int(m.GetHeight()), 0)}
	}
	return "", "", nil
}

// kindOf names the first content field of a message Polyglot does not
// show ("location", "poll creation"), or "" for protocol plumbing.
func kindOf(msg *waE2E.Message) string {
	kind := ""
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		name := string(fd.Name())
		switch name {
		case "messageContextInfo", "senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage":
			return true
		}
		kind = strings.TrimSuffix(strings.ReplaceAll(splitCamel(name), "_", " "), " message")
		return false
	})
	return kind
}

func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte(' ')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (c *Connector) receipt(ctx context.Context, e *events.Receipt) (protocols.ReceiptEvent, bool) {
	var kind protocols.ReceiptKind
	switch e.Type {
	case types.ReceiptTypeDelivered:
		kind = protocols.ReceiptDelivered
	case types.ReceiptTypeRead, types.ReceiptTypePlayed:
		kind = protocols.ReceiptRead
	default:
		return protocols.ReceiptEvent{}, false // our own devices, retries, server acks
	}
	if e.IsFromMe {
		return protocols.ReceiptEvent{}, false
	}
	chat, _ := c.chatOf(ctx, e.MessageSource)
	ids := make([]protocols.MessageID, len(e.MessageIDs))
	for i, id := range e.MessageIDs {
		ids[i] = protocols.MessageID(id)
	}
	return protocols.ReceiptEvent{Chat: protocols.ChatID(chat), IDs: ids, Kind: kind, From: c.address(c.phoneJID(ctx, e.Sender, e.SenderAlt)), At: e.Timestamp}, true
}

func (c *Connector) setGroupName(j types.JID, name string) {
	c.mu.Lock()
	c.groups[j] = name
	c.mu.Unlock()
}

// groupName is the cached subject of a group; an unknown group's subject
// is fetched in the background and arrives as a ChatEvent.
func (c *Connector) groupName(j types.JID) string {
	c.mu.Lock()
	name, ok := c.groups[j]
	if !ok {
		c.groups[j] = ""
	}
	c.mu.Unlock()
	if !ok && c.cli.IsLoggedIn() {
		go func() {
			ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
			defer cancel()
			gi, err := c.cli.GetGroupInfo(ctx, j)
			if err != nil {
				c.log.Debug().Err(err).Msg("group subject")
				return
			}
			c.setGroupName(j, gi.Name)
			c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: protocols.ChatID(j.String()), Group: true, Name: gi.Name}, Encryption: protocols.EncE2EE})
		}()
	}
	return name
}
