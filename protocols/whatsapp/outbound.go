package whatsapp

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"polyglot/protocols"
)

// sendMessage is whatsmeow's SendMessage; tests replace it to see the
// protobuf and ID that would go out.
func (c *Connector) sendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	if c.sendHook != nil {
		return c.sendHook(ctx, to, msg, id)
	}
	if !c.connected() {
		return whatsmeow.SendResponse{}, protocols.ErrNotConnected
	}
	return c.cli.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: id})
}

// target is the chat a message goes to: the known chat, else the peer.
func target(chat string, to protocols.Address) (types.JID, error) {
	if chat != "" {
		return ParseAddress(chat)
	}
	if to.ID == "" {
		return types.JID{}, protocols.ErrUnknownPeer
	}
	return ParseAddress(to.ID)
}

// messageID is the WhatsApp ID for clientID: chosen and stored before the
// first attempt, the same on every retry.
func (c *Connector) messageID(ctx context.Context, clientID string, chat types.JID) (types.MessageID, error) {
	if clientID == "" {
		return c.cli.GenerateMessageID(), nil
	}
	return c.st.sentID(ctx, clientID, chat.String(), func() string { return c.cli.GenerateMessageID() })
}

// prepareSend is what a text and a file send share: the chat, the class it
// travels with (refused if below msg's minimum) and the message ID, chosen
// and kept before anything goes out so a retry reuses it.
func (c *Connector) prepareSend(ctx context.Context, msg protocols.OutgoingMessage) (types.JID, protocols.Encryption, string, error) {
	to, err := target(string(msg.Chat), msg.To)
	if err != nil {
		return types.JID{}, 0, "", err
	}
	class := c.peerClass(to)
	if msg.MinEncryption > class {
		return types.JID{}, 0, "", protocols.ErrEncryptionUnavailable
	}
	id, err := c.messageID(ctx, string(msg.ClientID), to)
	if err != nil {
		return types.JID{}, 0, "", fmt.Errorf("whatsapp: keeping the message ID: %w", err)
	}
	return to, class, id, nil
}

// Send sends a text message, quoting ReplyTo when set.
func (c *Connector) Send(ctx context.Context, msg protocols.OutgoingMessage) (protocols.SendResult, error) {
	if msg.File != nil {
		return c.sendFile(ctx, msg)
	}
	to, class, id, err := c.prepareSend(ctx, msg)
	if err != nil {
		return protocols.SendResult{}, err
	}
	wm := c.buildText(ctx, to, msg.Body, string(msg.ReplyTo))
	resp, err := c.sendMessage(ctx, to, wm, id)
	if err != nil {
		return protocols.SendResult{}, err
	}
	_ = c.st.remember(ctx, to.String(), id, c.ownJID().String(), true, msg.Body)
	return protocols.SendResult{NetworkID: protocols.MessageID(id), Chat: protocols.ChatID(to.String()), Encryption: class, At: stamp(resp.Timestamp)}, nil
}

func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func (c *Connector) ownJID() types.JID {
	if c.cli.Store.ID == nil {
		return types.EmptyJID
	}
	return c.cli.Store.ID.ToNonAD()
}

// buildText is the protobuf for a text message. A reply quotes the
// original (sender and text, as WhatsApp shows it above the reply).
func (c *Connector) buildText(ctx context.Context, chat types.JID, body, replyTo string) *waE2E.Message {
	if replyTo == "" {
		return &waE2E.Message{Conversation: proto.String(body)}
	}
	ci := &waE2E.ContextInfo{StanzaID: proto.String(replyTo)}
	if k, ok := c.st.lookup(ctx, chat.String(), replyTo); ok {
		ci.Participant = proto.String(k.sender)
		ci.QuotedMessage = &waE2E.Message{Conversation: proto.String(k.body)}
	} else if chat.Server != types.GroupServer {
		ci.Participant = proto.String(chat.String())
	}
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(body), ContextInfo: ci}}
}

// Edit replaces the text of a message the user sent.
func (c *Connector) Edit(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, clientID protocols.ClientID, newBody string) (protocols.SendResult, error) {
	to, err := ParseAddress(string(chat))
	if err != nil {
		return protocols.SendResult{}, err
	}
	id, err := c.messageID(ctx, string(clientID), to)
	if err != nil {
		return protocols.SendResult{}, err
	}
	resp, err := c.sendMessage(ctx, to, c.buildEdit(to, string(targetID), newBody), id)
	if err != nil {
		return protocols.SendResult{}, err
	}
	_ = c.st.remember(ctx, to.String(), string(targetID), c.ownJID().String(), true, newBody)
	return protocols.SendResult{NetworkID: protocols.MessageID(id), Chat: protocols.ChatID(to.String()), Encryption: c.peerClass(to), At: stamp(resp.Timestamp)}, nil
}

func (c *Connector) buildEdit(chat types.JID, targetID, body string) *waE2E.Message {
	return c.cli.BuildEdit(chat, targetID, &waE2E.Message{Conversation: proto.String(body)})
}

// React sets (or with remove, clears) the user's reaction; WhatsApp keeps
// one reaction per person, so a new key replaces the old one.
func (c *Connector) React(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, key string, remove bool) error {
	to, err := ParseAddress(string(chat))
	if err != nil {
		return err
	}
	_, err = c.sendMessage(ctx, to, c.buildReaction(ctx, to, string(targetID), key, remove), c.cli.GenerateMessageID())
	return err
}

func (c *Connector) buildReaction(ctx context.Context, chat types.JID, targetID, key string, remove bool) *waE2E.Message {
	if remove {
		key = ""
	}
	return c.cli.BuildReaction(chat, c.senderOf(ctx, chat, targetID), targetID, key)
}

// senderOf is who sent targetID in chat, as a reaction's key must say.
func (c *Connector) senderOf(ctx context.Context, chat types.JID, targetID string) types.JID {
	if k, ok := c.st.lookup(ctx, chat.String(), targetID); ok {
		if k.fromMe {
			return c.ownJID()
		}
		if j, err := types.ParseJID(k.sender); err == nil {
			return j
		}
	}
	if chat.Server != types.GroupServer {
		return chat // 1:1: not ours (those are all remembered), so theirs
	}
	return types.EmptyJID
}

// Retract deletes a message the user sent, for everyone.
func (c *Connector) Retract(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID) error {
	to, err := ParseAddress(string(chat))
	if err != nil {
		return err
	}
	_, err = c.sendMessage(ctx, to, c.cli.BuildRevoke(to, types.EmptyJID, types.MessageID(targetID)), c.cli.GenerateMessageID())
	return err
}

// accepted says whether read receipts and typing may go to chat: a 1:1
// peer the user accepted. Group chats were decided by the core already
// (the inbox asks only for conversations that are not requests).
func (c *Connector) accepted(chat types.JID) bool {
	if chat.Server == types.GroupServer {
		return true
	}
	return c.cfg.Accepted != nil && c.cfg.Accepted(c.address(chat))
}

// MarkRead sends a read receipt for networkID — only to an accepted peer.
func (c *Connector) MarkRead(ctx context.Context, chat protocols.ChatID, networkID protocols.MessageID) error {
	to, err := ParseAddress(string(chat))
	if err != nil {
		return err
	}
	if !c.accepted(to) {
		return nil
	}
	k, ok := c.st.lookup(ctx, to.String(), string(networkID))
	if ok && k.fromMe {
		return nil
	}
	sender := to
	if to.Server == types.GroupServer {
		if !ok {
			return nil // no sender known: WhatsApp needs it in groups
		}
		if sender, err = types.ParseJID(k.sender); err != nil {
			return nil
		}
	}
	if !c.connected() {
		return protocols.ErrNotConnected
	}
	return c.cli.MarkRead(ctx, []types.MessageID{types.MessageID(networkID)}, time.Now(), to, sender)
}

// SetTyping sends a chat state — only to an accepted peer.
func (c *Connector) SetTyping(ctx context.Context, chat protocols.ChatID, typing bool) error {
	to, err := ParseAddress(string(chat))
	if err != nil {
		return err
	}
	if !c.accepted(to) {
		return nil
	}
	if !c.connected() {
		return protocols.ErrNotConnected
	}
	state := types.ChatPresencePaused
	if typing {
		state = types.ChatPresenceComposing
	}
	return c.cli.SendChatPresence(ctx, to, state, types.ChatPresenceMediaText)
}

// FetchHistory: WhatsApp pushes history once after linking (history sync);
// paging older messages on demand is not built.
func (c *Connector) FetchHistory(context.Context, protocols.ChatID, string, int) (protocols.HistoryPage, error) {
	return protocols.HistoryPage{}, protocols.ErrUnsupported
}
