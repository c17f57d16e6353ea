package matrix

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/verificationhelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

// syncer wraps mautrix's DefaultSyncer to (1) persist next_batch only after
// a response is fully processed and its events stored, so a crash replays nothing it had not
// handled and a restart never replays what it had, (2) retry quickly with
// backoff and report the link state, (3) diff device lists for key-change
// notices.
type syncer struct {
	*mautrix.DefaultSyncer
	c  *Connector
	st *store

	firstSync chan struct{}
	firstErr  chan error
	firstOnce sync.Once
	failures  int
	mach      *crypto.OlmMachine
}

// syncFilter fetches only what Polyglot shows.
var syncFilter = &mautrix.Filter{
	AccountData: &mautrix.FilterPart{Types: []event.Type{event.AccountDataDirectChats}},
	Presence:    &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}},
	Room: &mautrix.RoomFilter{
		IncludeLeave: false,
		State: &mautrix.FilterPart{
			LazyLoadMembers: false, // E2EE needs every member's devices
			Types: []event.Type{event.StateMember, event.StateRoomName, event.StateEncryption,
				event.StateCreate, event.StateHistoryVisibility, event.StateCanonicalAlias},
		},
		Timeline: &mautrix.FilterPart{
			Limit: 50,
			Types: []event.Type{event.EventMessage, event.EventEncrypted, event.EventReaction,
				event.EventRedaction, event.EventSticker, event.StateMember, event.StateRoomName,
				event.StateEncryption, event.StateCreate, event.StateHistoryVisibility,
				// In-room verification (Element's "Verify user" in a DM):
				// matrix-js-sdk sends these unencrypted even in encrypted rooms.
				event.InRoomVerificationReady, event.InRoomVerificationStart, event.InRoomVerificationAccept,
				event.InRoomVerificationKey, event.InRoomVerificationMAC, event.InRoomVerificationDone,
				event.InRoomVerificationCancel},
		},
		Ephemeral:   &mautrix.FilterPart{Types: []event.Type{event.EphemeralEventReceipt, event.EphemeralEventTyping}},
		AccountData: &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}},
	},
}

func newSyncer(c *Connector, st *store) *syncer {
	ds := mautrix.NewDefaultSyncer()
	ds.FilterJSON = syncFilter
	return &syncer{DefaultSyncer: ds, c: c, st: st, firstSync: make(chan struct{}), firstErr: make(chan error, 1)}
}

// register wires the crypto machine, the state store and our handler. Order
// matters: crypto's OnSync runs before any room event, so room keys that
// arrive in the same response decrypt at once.
func (s *syncer) register(mach *crypto.OlmMachine, _ *verificationhelper.VerificationHelper) {
	s.mach = mach
	s.OnSync(mach.ProcessSyncResponse)
	s.OnEventType(event.StateMember, mach.HandleMemberEvent)
	s.OnEvent(s.c.cli.StateStoreSyncHandler)
	s.OnEvent(s.c.handleEvent)
}

// OnEventType wraps the verification helper's handlers (mautrix v0.28.1)
// for its races and its in-room gap:
//   - it reads a transaction before taking its own lock, so an incoming
//     event and the user's answer must not interleave: both run under
//     verifyMu;
//   - a peer's MAC handled before the user confirmed makes the later
//     ConfirmSAS check the peer's master key against our own and fail
//     ("master keys do not match") — i.e. whoever confirms second always
//     failed. So a peer's MAC waits until the user confirmed (or is dropped
//     if they cancel), and then meets the order mautrix handles correctly;
//   - for an in-room event it takes the event's own ID as the transaction,
//     but the transaction is the request the event relates to: every answer
//     to an in-room request was "unknown transaction". The handler gets a
//     copy carrying the request's ID, and our own echoes are not fed back.
func (s *syncer) OnEventType(t event.Type, cb mautrix.EventHandler) {
	if !strings.HasPrefix(t.Type, "m.key.verification.") {
		s.DefaultSyncer.OnEventType(t, cb)
		return
	}
	isMAC := t.Type == event.ToDeviceVerificationMAC.Type
	s.DefaultSyncer.OnEventType(t, func(ctx context.Context, evt *event.Event) {
		c := s.c
		txn := verificationTxn(evt)
		if evt.RoomID != "" {
			if txn == "" || evt.Sender == c.cli.UserID {
				return
			}
			cp := *evt
			cp.ID = id.EventID(txn)
			evt = &cp
		}
		c.verifyMu.Lock()
		defer c.verifyMu.Unlock()
		if isMAC && txn != "" && !c.confirmed[txn] {
			c.heldMAC[txn] = append(c.heldMAC[txn], func() { cb(ctx, evt) })
			return
		}
		cb(ctx, evt)
	})
}

// verificationTxn is the transaction a verification event belongs to: the
// to-device transaction ID, or for an in-room event the request it
// references ("" when it has none).
func verificationTxn(evt *event.Event) string {
	if t, ok := evt.Content.Parsed.(event.VerificationTransactionable); ok && t.GetTransactionID() != "" {
		return t.GetTransactionID().String()
	}
	if r, ok := evt.Content.Parsed.(event.Relatable); ok {
		if rel := r.OptionalGetRelatesTo(); rel != nil && rel.Type == event.RelReference && rel.EventID != "" {
			return rel.EventID.String()
		}
	}
	return ""
}

// isVerificationEvent says whether a decrypted room event is a step of an
// in-room verification, which belongs to the verification helper.
func isVerificationEvent(evt *event.Event) bool {
	if strings.HasPrefix(evt.Type.Type, "m.key.verification.") {
		return true
	}
	if evt.Type == event.EventMessage {
		if m, ok := evt.Content.Parsed.(*event.MessageEventContent); ok {
			return m.MsgType == event.MsgVerificationRequest
		}
	}
	return false
}

// ensureFilter drops a stored filter ID made from a different filter.
func (s *syncer) ensureFilter(ctx context.Context) error {
	raw, _ := json.Marshal(syncFilter)
	sum := sha256.Sum256(raw)
	want := hex.EncodeToString(sum[:8])
	if s.st.filterSum(ctx) != want {
		if err := s.st.setFilterSum(ctx, want); err != nil {
			return fmt.Errorf("matrix: saving filter: %w", err)
		}
	}
	return nil
}

func (s *syncer) ProcessResponse(ctx context.Context, res *mautrix.RespSync, since string) error {
	// A batch is handled whole or not at all: Close waits for one in
	// progress (so its token is saved and a restart does not replay it),
	// and a batch that arrives while closing is left for the next run.
	s.c.batch <- struct{}{}
	defer func() { <-s.c.batch }()
	if err := ctx.Err(); err != nil {
		return err
	}
	before := s.snapshotDevices(ctx, res.DeviceLists.Changed)
	s.c.firstSync.Store(since == "")
	defer s.c.firstSync.Store(false)
	err := s.DefaultSyncer.ProcessResponse(ctx, res, since)
	if err != nil {
		return err
	}
	s.c.afterSync(ctx, res, since, before)
	if err := s.fillGaps(ctx, res, since); err != nil {
		return err // the token is not saved: the next sync starts from since again
	}
	// The token is saved only once the consumer has stored this batch's
	// events (it commits the checkpoint that follows them): a crash before
	// then replays the batch, and the store drops what it already has.
	nb := res.NextBatch
	s.c.emit(protocols.CheckpointEvent{Commit: func() {
		if err := s.st.commitNextBatch(context.Background(), nb); err != nil {
			s.c.log.Warn().Err(err).Msg("sync token not saved; the next start replays from the last one")
		}
	}})
	s.failures = 0
	s.c.setOnline(true, nil)
	s.firstOnce.Do(func() { close(s.firstSync) })
	return nil
}

// OnFailedSync backs off 0.25 s … 8 s and reports that we are reconnecting.
func (s *syncer) OnFailedSync(_ *mautrix.RespSync, err error) (time.Duration, error) {
	if errors.Is(err, mautrix.MUnknownToken) {
		select {
		case s.firstErr <- err:
		default:
		}
		return 0, err
	}
	s.failures++
	s.c.setOnline(false, err)
	d := 250 * time.Millisecond << min(s.failures-1, 5)
	return d, nil
}

// snapshotDevices records the current devices of users whose device lists
// changed, before mautrix fetches the new lists.
func (s *syncer) snapshotDevices(ctx context.Context, users []id.UserID) map[id.UserID]map[id.DeviceID]id.Ed25519 {
	if len(users) == 0 || s.mach == nil {
		return nil
	}
	out := map[id.UserID]map[id.DeviceID]id.Ed25519{}
	for _, u := range users {
		if u == s.c.cli.UserID {
			continue
		}
		devs, err := s.mach.CryptoStore.GetDevices(ctx, u)
		if err != nil {
			continue
		}
		m := map[id.DeviceID]id.Ed25519{}
		for did, d := range devs {
			m[did] = d.SigningKey
		}
		out[u] = m
	}
	return out
}

// fillGaps fetches what a limited timeline left out. After an outage a
// room's sync timeline holds only its newest events (the filter's limit)
// and says limited; the rest, back to the previous sync, is paged from
// /messages and handled like live events, before this batch's checkpoint,
// so the sync token never passes a message that is not stored.
func (s *syncer) fillGaps(ctx context.Context, res *mautrix.RespSync, since string) error {
	if since == "" {
		return nil // the first sync: history, not a gap (FetchHistory pages it)
	}
	cli, _, _, err := s.c.client()
	if err != nil {
		return err
	}
	for roomID, room := range res.Rooms.Join {
		if !room.Timeline.Limited || room.Timeline.PrevBatch == "" {
			continue
		}
		var gap []*event.Event // newest first
		from := room.Timeline.PrevBatch
		for pages := 0; pages < 20; pages++ { // at most 2 000 events per room
			resp, err := cli.Messages(ctx, roomID, from, since, mautrix.DirectionBackward, nil, 100)
			if err != nil {
				return fmt.Errorf("matrix: filling the gap in %s: %w", roomID, err)
			}
			gap = append(gap, resp.Chunk...)
			if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
				break
			}
			from = resp.End
		}
		s.c.log.Info().Str("room", roomID.String()).Int("events", len(gap)).Msg("filled a limited sync timeline")
		for i := len(gap) - 1; i >= 0; i-- {
			evt := gap[i]
			evt.RoomID = roomID
			evt.Mautrix.EventSource = event.SourceJoin | event.SourceTimeline
			_ = evt.Content.ParseRaw(evt.Type)
			s.c.handleEvent(ctx, evt)
		}
	}
	return nil
}
