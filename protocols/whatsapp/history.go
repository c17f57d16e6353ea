package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"polyglot/protocols"
)

// historyJob is one history sync waiting for the history goroutine: a
// notification from the phone (downloaded here, ManualHistorySyncDownload)
// or an already parsed blob.
type historyJob struct {
	notif *waE2E.HistorySyncNotification
	msgID types.MessageID // the notification's message, answered once stored
	e     *events.HistorySync
}

// queueHistory hands a history sync to the history goroutine: the live
// message handler never waits on a download or a history write.
func (c *Connector) queueHistory(job *historyJob) {
	select {
	case c.history <- job:
	case <-c.closed:
	}
}

func (c *Connector) historyLoop() {
	var p historyProgress
	for {
		select {
		case <-c.closed:
			return
		case job := <-c.history:
			c.runHistory(job, &p)
		}
	}
}

// runHistory downloads a notification's blob, writes it, and only when
// every conversation of it is stored tells the phone it was received (the
// hist_sync receipt). A sync cut short (the account closed, the store
// failing) is not acknowledged, so the phone may send it again.
func (c *Connector) runHistory(job *historyJob, p *historyProgress) {
	hs := job.e
	if job.notif != nil {
		data, err := c.cli.DownloadHistorySync(c.ctx, job.notif, true)
		if err != nil {
			c.log.Warn().Err(err).Msg("downloading a history sync")
			return
		}
		hs = &events.HistorySync{Data: data, Notification: job.notif}
	}
	stored := c.writeHistory(hs, p)
	// The phone says how far the whole sync is; a blob of a kind that
	// comes alone, or one not stored, ends what the status bar shows.
	if !stored || hs.Data.GetProgress() >= 100 || !progressive(hs.Data.GetSyncType()) {
		c.emit(protocols.HistoryProgressEvent{Messages: p.messages, Chats: len(p.chats), Done: true})
		*p = historyProgress{}
	}
	if !stored || job.notif == nil {
		return
	}
	if err := c.histReceipt(c.ctx, job.msgID); err != nil {
		c.log.Warn().Err(err).Msg("acknowledging a history sync")
	}
}

// historyProgress counts what the history sync stored so far, across its
// blobs, for the status bar (protocols.HistoryProgressEvent). Only the
// history goroutine touches it.
type historyProgress struct {
	messages int
	chats    map[types.JID]bool
}

// stored counts one conversation's messages as written.
func (p *historyProgress) stored(chat types.JID, evs []protocols.Event) {
	if p.chats == nil {
		p.chats = map[types.JID]bool{}
	}
	p.chats[chat] = true
	for _, ev := range evs {
		if _, ok := ev.(protocols.MessageEvent); ok {
			p.messages++
		}
	}
}

// progressive says blobs of this kind are chunks of one sync that the
// phone numbers with a progress percentage (the first sync after linking,
// and the full history); the other kinds come alone.
func progressive(t waHistorySync.HistorySync_HistorySyncType) bool {
	switch t {
	case waHistorySync.HistorySync_INITIAL_BOOTSTRAP, waHistorySync.HistorySync_RECENT, waHistorySync.HistorySync_FULL:
		return true
	}
	return false
}

// writeHistory emits a blob's messages, one conversation at a time, each
// followed by a checkpoint it waits for and then by the sync's progress;
// it reports whether all were stored.
func (c *Connector) writeHistory(e *events.HistorySync, p *historyProgress) bool {
	ctx := c.ctx
	stored := true
	for _, conv := range e.Data.GetConversations() {
		chat, err := types.ParseJID(conv.GetID())
		if err != nil || chat.Server == types.BroadcastServer || chat.Server == types.NewsletterServer {
			continue
		}
		name := conv.GetName()
		if name == "" {
			name = conv.GetDisplayName()
		}
		if chat.Server == types.GroupServer && name != "" {
			c.setGroupName(chat, name)
			c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: protocols.ChatID(chat.String()), Group: true, Name: name}, Encryption: protocols.EncE2EE})
		}
		var evs []protocols.Event
		// History lists the newest first; the store wants them in order.
		msgs := conv.GetMessages()
		for i := len(msgs) - 1; i >= 0; i-- {
			me, err := c.cli.ParseWebMessage(chat, msgs[i].GetMessage())
			if err != nil {
				c.log.Debug().Err(err).Msg("history message skipped")
				continue
			}
			if me.Message == nil {
				continue
			}
			base := c.baseMessage(ctx, me.Info, name)
			if chat.Server == types.GroupServer && base.Chat.Name == "" {
				base.Chat.Name = name
			}
			evs = append(evs, c.convert(ctx, base, me.Message, true)...)
		}
		if len(evs) == 0 {
			continue
		}
		// Paced by the store: the next conversation waits for this one.
		if !c.emitCommitted(evs) {
			c.log.Warn().Int("events", len(evs)).Msg("history of a chat was not confirmed as stored")
			stored = false
			continue
		}
		p.stored(chat, evs)
		c.emit(protocols.HistoryProgressEvent{Messages: p.messages, Chats: len(p.chats)})
	}
	return stored
}

// sendHistReceipt is whatsmeow's hist_sync receipt.
func (c *Connector) sendHistReceipt(ctx context.Context, id types.MessageID) error {
	return c.cli.SendProtocolMessageReceipt(ctx, id, types.ReceiptTypeHistorySync)
}
