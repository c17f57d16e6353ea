package whatsapp

import (
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"polyglot/protocols"
)

// historyJob is one history-sync blob (whatsmeow downloads and parses it
// in its own goroutine) waiting to be turned into events.
type historyJob struct{ e *events.HistorySync }

// queueHistory hands a blob to the history goroutine: the live message
// handler never waits on a history write.
func (c *Connector) queueHistory(e *events.HistorySync) {
	select {
	case c.history <- &historyJob{e: e}:
	case <-c.closed:
	}
}

func (c *Connector) historyLoop() {
	for {
		select {
		case <-c.closed:
			return
		case job := <-c.history:
			c.writeHistory(job.e)
		}
	}
}

// writeHistory emits a blob's messages, one conversation at a time, each
// followed by a checkpoint it waits for.
func (c *Connector) writeHistory(e *events.HistorySync) {
	ctx := c.ctx
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
			c.emit(protocols.ChatEvent{Chat: protocols.Chat{ID: chat.String(), Group: true, Name: name}, Encryption: protocols.EncE2EE})
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
		}
	}
}
