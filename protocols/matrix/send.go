package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"

	"polyglot/internal/download"
	"polyglot/protocols"
)

// maxDownload caps attachment downloads (servers default to 10–100 MiB).
const maxDownload = 200 << 20

// resolveChat finds the room for an outgoing message: the given chat, a
// room ID, or the DM with a user (created, encrypted, when there is none).
func (c *Connector) resolveChat(ctx context.Context, msg protocols.OutgoingMessage) (id.RoomID, bool, error) {
	_, _, st, err := c.client()
	if err != nil {
		return "", false, err
	}
	if msg.Chat != "" {
		return id.RoomID(msg.Chat), false, nil
	}
	if strings.HasPrefix(msg.To.ID, "!") {
		return id.RoomID(msg.To.ID), false, nil
	}
	u := id.UserID(msg.To.ID)
	if _, _, err := u.Parse(); err != nil || !strings.HasPrefix(msg.To.ID, "@") {
		return "", false, fmt.Errorf("%w: %q is not a Matrix user or room ID", protocols.ErrUnknownPeer, msg.To.ID)
	}
	if room, ok := st.dmRoom(ctx, u); ok {
		return room, false, nil
	}
	return "", true, nil
}

// createDM makes an encrypted 1:1 room with u and records it in m.direct.
// The creation is keyed by the message's client ID so a retry after a crash
// does not create a second room.
func (c *Connector) createDM(ctx context.Context, u id.UserID) (id.RoomID, error) {
	cli, mach, st, err := c.client()
	if err != nil {
		return "", err
	}
	// The peer needs published device keys or nobody could read the message.
	devs, err := mach.FetchKeys(ctx, []id.UserID{u}, true)
	if err != nil {
		return "", fmt.Errorf("matrix: fetching %s's devices: %w", u, err)
	}
	if len(devs[u]) == 0 {
		return "", fmt.Errorf("%w: %s has no device with encryption keys", protocols.ErrEncryptionUnavailable, u)
	}
	resp, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{u},
		InitialState: []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("matrix: creating DM with %s: %w", u, err)
	}
	room := resp.RoomID
	// Until the sync echoes the state, tell the state store ourselves so the
	// first message is encrypted and its key shared with the invitee.
	cli.StateStore.SetEncryptionEvent(ctx, room, &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1})
	cli.StateStore.SetMembership(ctx, room, cli.UserID, event.MembershipJoin)
	cli.StateStore.SetMembership(ctx, room, u, event.MembershipInvite)
	if err := st.putRoom(ctx, roomInfo{ID: room, DirectUser: u, Membership: "join"}); err != nil {
		return "", err
	}
	if err := c.saveDirect(ctx); err != nil {
		c.log.Warn().Err(err).Msg("updating m.direct failed")
	}
	return room, nil
}

// saveDirect writes our DM rooms to m.direct account data, merging what the
// server holds so other clients' entries survive.
func (c *Connector) saveDirect(ctx context.Context) error {
	cli, _, st, err := c.client()
	if err != nil {
		return err
	}
	current := event.DirectChatsEventContent{}
	if err := cli.GetAccountData(ctx, event.AccountDataDirectChats.Type, &current); err != nil && !errors.Is(err, mautrix.MNotFound) {
		return err
	}
	ours, err := st.directRooms(ctx)
	if err != nil {
		return err
	}
	for u, rooms := range ours {
	next:
		for _, r := range rooms {
			for _, have := range current[u] {
				if have == r {
					continue next
				}
			}
			current[u] = append(current[u], r)
		}
	}
	return cli.SetAccountData(ctx, event.AccountDataDirectChats.Type, current)
}

// Send posts a text message (Markdown rendered to HTML) with the client ID as
// txnId, so the server drops a retried duplicate. It refuses when the room's
// class is below msg.MinEncryption.
func (c *Connector) Send(ctx context.Context, msg protocols.OutgoingMessage) (protocols.SendResult, error) {
	cli, _, _, err := c.client()
	if err != nil {
		return protocols.SendResult{}, err
	}
	if msg.ClientID == "" {
		return protocols.SendResult{}, errors.New("matrix: outgoing message without a client ID")
	}
	if len(msg.Body) > maxBodyBytes {
		return protocols.SendResult{}, fmt.Errorf("matrix: message is %d bytes; the limit is %d", len(msg.Body), maxBodyBytes)
	}
	if msg.File != nil {
		// Before a DM room is created for it: a changed file goes nowhere.
		if _, err := protocols.ReadOutgoing(*msg.File); err != nil {
			return protocols.SendResult{}, err
		}
	}
	room, create, err := c.resolveChat(ctx, msg)
	if err != nil {
		return protocols.SendResult{}, err
	}
	var enc protocols.Encryption
	if create {
		enc = c.PeerEncryption(msg.To)
	} else {
		enc = c.roomEncryption(ctx, room)
	}
	if enc < msg.MinEncryption {
		return protocols.SendResult{}, fmt.Errorf("%w: room is %s, message needs %s", protocols.ErrEncryptionUnavailable, enc.Label(), msg.MinEncryption.Label())
	}
	if create {
		if room, err = c.createDM(ctx, id.UserID(msg.To.ID)); err != nil {
			return protocols.SendResult{}, err
		}
	}
	if msg.File != nil {
		return c.sendFile(ctx, cli, room, enc, msg)
	}
	content := format.RenderMarkdown(msg.Body, true, false)
	if msg.ReplyTo != "" {
		content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(id.EventID(msg.ReplyTo))
	}
	if p := msg.Profile; p != nil {
		// MSC4144: clients that know it show the relayed sender; the body
		// keeps "Name: " in front for those that do not.
		content.BeeperPerMessageProfile = &event.BeeperPerMessageProfile{ID: string(p.Network) + ":" + p.ID, Displayname: p.Name,
			HasFallback: strings.HasPrefix(msg.Body, p.Name+": ")}
	}
	resp, err := cli.SendMessageEvent(ctx, room, event.EventMessage, &content, mautrix.ReqSendEvent{TransactionID: string(msg.ClientID)})
	if err != nil {
		return protocols.SendResult{}, c.sendError(err)
	}
	return protocols.SendResult{NetworkID: protocols.MessageID(resp.EventID.String()), Chat: protocols.ChatID(room.String()), Encryption: enc, At: time.Now()}, nil
}

func (c *Connector) sendError(err error) error {
	if isAuthError(err) {
		return fmt.Errorf("%w: %v", protocols.ErrAuthFailed, err)
	}
	return fmt.Errorf("matrix: send: %w", err)
}

// Edit replaces the text of an earlier message (m.replace).
func (c *Connector) Edit(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, clientID protocols.ClientID, newBody string) (protocols.SendResult, error) {
	cli, _, _, err := c.client()
	if err != nil {
		return protocols.SendResult{}, err
	}
	if len(newBody) > maxBodyBytes {
		return protocols.SendResult{}, fmt.Errorf("matrix: edit is %d bytes; the limit is %d", len(newBody), maxBodyBytes)
	}
	nc := format.RenderMarkdown(newBody, true, false)
	content := format.RenderMarkdown("* "+newBody, true, false)
	content.NewContent = &nc
	content.RelatesTo = (&event.RelatesTo{}).SetReplace(id.EventID(targetID))
	room := id.RoomID(chat)
	resp, err := cli.SendMessageEvent(ctx, room, event.EventMessage, &content, mautrix.ReqSendEvent{TransactionID: string(clientID)})
	if err != nil {
		return protocols.SendResult{}, c.sendError(err)
	}
	return protocols.SendResult{NetworkID: protocols.MessageID(resp.EventID.String()), Chat: chat, Encryption: c.roomEncryption(ctx, room), At: time.Now()}, nil
}

// React adds a reaction, or removes our earlier one with the same key.
func (c *Connector) React(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID, key string, remove bool) error {
	cli, _, st, err := c.client()
	if err != nil {
		return err
	}
	room, target := id.RoomID(chat), id.EventID(targetID)
	if remove {
		evtID, ok := st.findReaction(ctx, room, target, key, cli.UserID)
		if !ok {
			return fmt.Errorf("matrix: no reaction %q of ours on %s", key, targetID)
		}
		_, err := cli.RedactEvent(ctx, room, evtID)
		if err != nil {
			return c.sendError(err)
		}
		_, _ = st.takeReaction(ctx, evtID)
		return nil
	}
	resp, err := cli.SendReaction(ctx, room, target, key)
	if err != nil {
		return c.sendError(err)
	}
	return st.putReaction(ctx, resp.EventID, room, target, key, cli.UserID)
}

// Retract redacts a message.
func (c *Connector) Retract(ctx context.Context, chat protocols.ChatID, targetID protocols.MessageID) error {
	cli, _, _, err := c.client()
	if err != nil {
		return err
	}
	_, err = cli.RedactEvent(ctx, id.RoomID(chat), id.EventID(targetID))
	if err != nil {
		return c.sendError(err)
	}
	return nil
}

// MarkRead sends a read receipt. The core calls it only with consent.
func (c *Connector) MarkRead(ctx context.Context, chat protocols.ChatID, networkID protocols.MessageID) error {
	cli, _, _, err := c.client()
	if err != nil {
		return err
	}
	return cli.SendReceipt(ctx, id.RoomID(chat), id.EventID(networkID), event.ReceiptTypeRead, nil)
}

// SetTyping sends a typing notice (30 s) or clears it. Only with consent.
func (c *Connector) SetTyping(ctx context.Context, chat protocols.ChatID, typing bool) error {
	cli, _, _, err := c.client()
	if err != nil {
		return err
	}
	_, err = cli.UserTyping(ctx, id.RoomID(chat), typing, 30*time.Second)
	return err
}

// AnswerRequest joins (accept) or leaves (decline) an invited room. A DM
// invite, once joined, is recorded in m.direct.
func (c *Connector) AnswerRequest(ctx context.Context, from protocols.Address, chat protocols.ChatID, accept bool) error {
	cli, _, st, err := c.client()
	if err != nil {
		return err
	}
	room := id.RoomID(chat)
	if !accept {
		_, err := cli.LeaveRoom(ctx, room)
		if err == nil {
			r, _ := st.room(ctx, room)
			r.Membership = "leave"
			_ = st.putRoom(ctx, r)
		}
		return err
	}
	if _, err := cli.JoinRoomByID(ctx, room); err != nil {
		return fmt.Errorf("matrix: joining %s: %w", chat, err)
	}
	r, _ := st.room(ctx, room)
	r.Membership = "join"
	if err := st.putRoom(ctx, r); err != nil {
		return err
	}
	// Learn members and encryption now so a reply right away is encrypted.
	_, _ = cli.State(ctx, room)
	if r.DirectUser != "" {
		if err := c.saveDirect(ctx); err != nil {
			c.log.Warn().Err(err).Msg("updating m.direct failed")
		}
	}
	return nil
}

// FetchHistory pages back through a room with /messages. before is the
// cursor from the previous page ("" = from the newest event).
func (c *Connector) FetchHistory(ctx context.Context, chat protocols.ChatID, before string, limit int) (protocols.HistoryPage, error) {
	cli, mach, _, err := c.client()
	if err != nil {
		return protocols.HistoryPage{}, err
	}
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	room := id.RoomID(chat)
	if strings.HasPrefix(before, "$") {
		// An event ID (the oldest message the caller holds): the
		// pagination token just before it.
		ctxResp, err := cli.Context(ctx, room, id.EventID(before), nil, 0)
		if err != nil {
			return protocols.HistoryPage{}, fmt.Errorf("matrix: history of %s: %w", chat, err)
		}
		before = ctxResp.Start
	}
	filter := &mautrix.FilterPart{Types: []event.Type{event.EventMessage, event.EventEncrypted, event.EventReaction, event.EventSticker}}
	resp, err := cli.Messages(ctx, room, before, "", mautrix.DirectionBackward, filter, limit)
	if err != nil {
		return protocols.HistoryPage{}, fmt.Errorf("matrix: history of %s: %w", chat, err)
	}
	var page protocols.HistoryPage
	byID := map[string]int{}
	var reactions []protocols.ReactionEvent
	// The chunk is newest first; the page is newest last.
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		evt := resp.Chunk[i]
		evt.RoomID = room
		if evt.Unsigned.RedactedBecause != nil {
			continue
		}
		_ = evt.Content.ParseRaw(evt.Type)
		if evt.Type == event.EventEncrypted {
			dec, err := mach.DecryptMegolmEvent(ctx, evt)
			if err != nil {
				if waitsForKey(err) {
					_ = c.st.putUndecrypted(ctx, evt) // a key forwarded later still opens it
				}
				if !standsAlone(evt) {
					continue // a locked edit or reaction: nothing to show
				}
				msg := c.baseMessage(ctx, evt)
				msg.Undecryptable = true
				msg.Notice = "🔒 Unable to decrypt this message (no key for this older message)"
				page.Messages = append(page.Messages, msg)
				continue
			}
			evt = dec
		}
		switch ev := c.convert(ctx, evt, true).(type) {
		case protocols.MessageEvent:
			byID[string(ev.Message.NetworkID)] = len(page.Messages)
			page.Messages = append(page.Messages, ev.Message)
		case protocols.EditEvent:
			msg := c.baseMessage(ctx, evt)
			msg.EditOf, msg.Body, msg.FormattedBody = ev.TargetID, ev.Body, ev.Formatted
			page.Messages = append(page.Messages, msg)
		case protocols.ReactionEvent:
			reactions = append(reactions, ev)
		}
	}
	for _, r := range reactions {
		if i, ok := byID[string(r.TargetID)]; ok {
			page.Messages[i].Reactions = append(page.Messages[i].Reactions, protocols.Reaction{Key: r.Key, Sender: r.From})
		}
	}
	if len(resp.Chunk) > 0 && resp.End != "" {
		page.Before = resp.End
	}
	return page, nil
}

// Download fetches an attachment (decrypting it if it was end-to-end
// encrypted) into dir and returns the file path. Names from the peer are
// reduced to a safe base name.
func (c *Connector) Download(ctx context.Context, att protocols.Attachment, dir string) (string, error) {
	cli, _, _, err := c.client()
	if err != nil {
		return "", err
	}
	uri, err := id.ParseContentURI(att.URL)
	if err != nil {
		return "", fmt.Errorf("matrix: attachment URL %q: %w", att.URL, err)
	}
	resp, err := cli.Download(ctx, uri)
	if err != nil {
		return "", fmt.Errorf("matrix: downloading: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return "", fmt.Errorf("matrix: downloading: %w", err)
	}
	if len(data) > maxDownload {
		return "", fmt.Errorf("matrix: attachment larger than %d MiB", maxDownload>>20)
	}
	if att.Key != "" {
		var file event.EncryptedFileInfo
		if err := json.Unmarshal([]byte(att.Key), &file); err != nil {
			return "", fmt.Errorf("matrix: attachment key: %w", err)
		}
		if err := file.DecryptInPlace(data); err != nil {
			return "", fmt.Errorf("matrix: decrypting attachment: %w", err)
		}
	}
	return download.Save(dir, att.Name, data)
}
