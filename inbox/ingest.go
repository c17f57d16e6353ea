package inbox

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"polyglot/protocols"
)

// Ingest applies one event a connector reported for account.
func (in *Inbox) Ingest(account string, ev protocols.Event) error {
	return in.IngestBatch(account, []protocols.Event{ev})
}

// errUnstorable marks an event no retry could store (it lacks what a
// message needs): dropping it must not hold the account's position back.
var errUnstorable = errors.New("event cannot be stored")

// commit confirms checkpoints to the connector, unless an event of this
// account failed to be stored since it last connected.
func (in *Inbox) commit(account string, checkpoints []protocols.CheckpointEvent) {
	if len(checkpoints) == 0 {
		return
	}
	in.mu.Lock()
	lost := in.lost[account]
	in.mu.Unlock()
	if lost {
		in.log.Warn().Str("account", account).Msg("an event was not stored: its catch-up position stays put until the next connect")
		return
	}
	for _, cp := range checkpoints {
		if cp.Commit != nil {
			cp.Commit()
		}
	}
}

// IngestBatch applies many events of one account in a single transaction:
// the path for history sync and catch-up. Either all events are stored or,
// on error, none (the caller may retry the batch; duplicates are dropped).
func (in *Inbox) IngestBatch(account string, evs []protocols.Event) error {
	if len(evs) == 0 {
		return nil
	}
	g := &ingester{in: in, account: account, now: in.now(),
		idents: map[identKey]*identRow{}, chats: map[string]ConversationID{},
		deltas: map[ConversationID]*convDelta{}, changes: map[Change]bool{},
		stmts: map[string]*sql.Stmt{}}
	// Connection events touch only memory; handle them outside the
	// transaction so an empty batch costs nothing on disk.
	var rest []protocols.Event
	var checkpoints []protocols.CheckpointEvent
	for _, ev := range evs {
		switch e := ev.(type) {
		case protocols.ConnectionEvent:
			g.connection(e)
		case *protocols.ConnectionEvent:
			g.connection(*e)
		case protocols.CheckpointEvent:
			checkpoints = append(checkpoints, e)
		case protocols.VerificationEvent:
			in.onVerification(account, e)
		case protocols.HistoryProgressEvent:
			in.onHistoryProgress(account, e)
			g.changed(ChangeAccounts, 0)
		case nil:
		default:
			rest = append(rest, ev)
		}
	}
	if len(rest) > 0 {
		err := in.write(func(tx *sql.Tx) error {
			g.tx = tx
			defer g.closeStmts()
			if err := g.prefetch(rest); err != nil {
				return err
			}
			for _, ev := range rest {
				if err := g.event(ev); err != nil {
					return err
				}
			}
			return g.flush()
		})
		g.in.stmts.prepareWanted(in.db)
		if err != nil {
			// A lone event that can never be stored is dropped for good;
			// anything else may store on a second try, so the account's
			// position must not pass it.
			if !errors.Is(err, errUnstorable) || len(rest) > 1 {
				in.mu.Lock()
				in.lost[account] = true
				in.mu.Unlock()
			}
			return fmt.Errorf("inbox: ingest: %w", err)
		}
	}
	in.commit(account, checkpoints)
	for conv, typing := range g.typing {
		in.setTyping(conv, typing)
	}
	if len(g.changes) > 0 {
		cs := make([]Change, 0, len(g.changes))
		for c := range g.changes {
			cs = append(cs, c)
		}
		in.publish(cs...)
	}
	for _, acc := range g.kick {
		in.kickOutbox(acc)
	}
	if g.bridged || len(g.kick) > 0 {
		in.kickBridge()
	}
	return nil
}

// ingester carries one batch: the transaction, small caches so a history
// sync of thousands of messages resolves each sender and chat once, and the
// conversation updates applied once at the end.
type ingester struct {
	in      *Inbox
	tx      *sql.Tx
	account string
	now     time.Time

	reachLoaded bool
	reach       Reachability
	ownServer   string

	idents  map[identKey]*identRow
	chats   map[string]ConversationID
	deltas  map[ConversationID]*convDelta
	changes map[Change]bool
	typing  map[ConversationID]bool
	kick    []string
	// bridged: this batch queued work for a client-side bridge link.
	bridged bool
	stmts   map[string]*sql.Stmt
	// Messages of this batch not yet in the full-text index: ids
	// ftsFrom..ftsTo (inserted with fts_later = 1).
	ftsFrom, ftsTo int64
	// grams are this batch's messages waiting for the character index
	// (grams.go), added with the full-text rows.
	grams []gramRow
	// direct caches each person's direct conversation and request flag
	// for the batch; every write to that flag below updates it.
	direct map[PersonID]directRow
}

func (g *ingester) closeStmts() {
	for _, s := range g.stmts {
		s.Close()
	}
}

func (g *ingester) stmt(q string) (*sql.Stmt, error) {
	if s, ok := g.stmts[q]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if shared, ok := g.in.stmts.get(q); ok {
		s = g.tx.Stmt(shared)
	} else {
		var err error
		if s, err = g.tx.Prepare(q); err != nil {
			return nil, err
		}
	}
	g.stmts[q] = s
	return s, nil
}

func (g *ingester) exec(q string, args ...any) (sql.Result, error) {
	s, err := g.stmt(q)
	if err != nil {
		return nil, err
	}
	return s.Exec(args...)
}

func (g *ingester) row(q string, args ...any) *sql.Row {
	s, err := g.stmt(q)
	if err != nil {
		// Surface the prepare error through Scan.
		return g.tx.QueryRow(q, args...)
	}
	return s.QueryRow(args...)
}

func (g *ingester) changed(kind ChangeKind, conv ConversationID) {
	g.changes[Change{Kind: kind, Conversation: conv}] = true
}

func (g *ingester) event(ev protocols.Event) error {
	switch e := ev.(type) {
	case protocols.MessageEvent:
		return g.message(e.Message, e.Historical)
	case *protocols.MessageEvent:
		return g.message(e.Message, e.Historical)
	case protocols.ReceiptEvent:
		return g.receipt(e)
	case protocols.TypingEvent:
		return g.typingEv(e)
	case protocols.PresenceEvent:
		return g.presence(e)
	case protocols.EditEvent:
		return g.edit(e.From, string(e.TargetID), e.Body, e.Formatted, string(e.Chat))
	case protocols.DeleteEvent:
		return g.delete(e)
	case protocols.ReactionEvent:
		return g.reaction(e)
	case protocols.KeyChangeEvent:
		return g.keyChange(e)
	case protocols.ContactEvent:
		return g.contact(e)
	case protocols.RequestEvent:
		return g.request(e)
	case protocols.ChatEvent:
		return g.chat(e)
	default:
		g.in.log.Debug().Str("account", g.account).Str("type", fmt.Sprintf("%T", ev)).Msg("ignored unknown event")
		return nil
	}
}

func (g *ingester) connection(e protocols.ConnectionEvent) {
	if e.State == protocols.ConnConnecting {
		// A new session catches up from the last committed position,
		// which is before anything that failed to be stored.
		g.in.mu.Lock()
		delete(g.in.lost, g.account)
		g.in.mu.Unlock()
	}
	if e.State != protocols.ConnOnline {
		// A history fill ends with its session (it is not resumed), even
		// if its last report was lost with the link.
		g.in.endHistory(g.account)
	}
	online, changed := g.in.setState(g.account, e, "")
	if online {
		g.kick = append(g.kick, g.account)
	}
	// The supervisor and its connector both report a transition; the log
	// says it once.
	if changed {
		g.in.log.Info().Str("account", g.account).Str("state", e.State.String()).Msg("account state")
	}
	g.changed(ChangeAccounts, 0)
}
