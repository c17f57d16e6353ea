package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow/proto/waE2E"
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
	for {
		select {
		case <-c.closed:
			return
		case job := <-c.history:
			c.runHistory(job)
		}
	}
}

// runHistory downloads a notification's blob, writes it, and only when
// every conversation of it is stored tells the phone it was received (the
// hist_sync receipt). A sync cut short (the account closed, the store
// failing) is not acknowledged, so the phone may send it again.
func (c *Connector) runHistory(job *historyJob) {
	hs := job.e
	if job.notif != nil {
		data, err := c.cli.DownloadHistorySync(c.ctx, job.notif, true)
		if err != nil {
			c.log.Warn().Err(err).Msg("downloading a history sync")
			return
		}
		hs = &events.HistorySync{Data: data, Notification: job.notif}
	}
	if !c.writeHistory(hs) || job.notif == nil {
		return
	}
	if err := c.histReceipt(c.ctx, job.msgID); err != nil {
		c.log.Warn().Err(err).Msg("acknowledging a history sync")
	}
}

// writeHistory emits a blob's messages, one conversation at a time, each
// followed by a checkpoint it waits for; it reports whether all were
// stored.
func (c *Connector) writeHistory(e *events.HistorySync) bool {
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
		}
	}
	return stored
}

// sendHistReceipt is whatsmeow's hist_sync receipt.
func (c *Connector) sendHistReceipt(ctx context.Context, id types.MessageID) error {
	return c.cli.SendProtocolMessageReceipt(ctx, id, types.ReceiptTypeHistorySync)
}
