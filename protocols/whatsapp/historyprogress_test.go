package whatsapp

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"polyglot/inbox"
	"polyglot/protocols"
)

// historyBlob is a history sync blob of kind typ at progress pct, with n
// text messages per chat (newest first, as WhatsApp sends them).
func historyBlob(typ waHistorySync.HistorySync_HistorySyncType, pct uint32, prefix string, chats map[types.JID]int) *events.HistorySync {
	base := clock.Add(-72 * time.Hour).Unix()
	data := &waHistorySync.HistorySync{SyncType: typ.Enum(), Progress: proto.Uint32(pct)}
	for chat, n := range chats {
		conv := &waHistorySync.Conversation{ID: proto.String(chat.String())}
		for i := n; i >= 1; i-- {
			id := fmt.Sprintf("%s-%s-%d", prefix, chat.User, i)
			w := &waWeb.WebMessageInfo{
				Key:              &waCommon.MessageKey{RemoteJID: proto.String(chat.String()), FromMe: proto.Bool(false), ID: proto.String(id)},
				Message:          text("old " + id),
				MessageTimestamp: proto.Uint64(uint64(base + int64(i))),
			}
			if chat.Server == types.GroupServer {
				w.Participant = proto.String(bob.String())
			}
			conv.Messages = append(conv.Messages, &waHistorySync.HistorySyncMsg{Message: w})
		}
		data.Conversations = append(data.Conversations, conv)
	}
	return &events.HistorySync{Data: data}
}

// progressSeen is every HistoryProgressEvent the connector emitted, in order.
func progressSeen(r *rig) []protocols.HistoryProgressEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []protocols.HistoryProgressEvent
	for _, ev := range r.seen {
		if p, ok := ev.(protocols.HistoryProgressEvent); ok {
			out = append(out, p)
		}
	}
	return out
}

// TestHistorySyncProgress: as the history sync's blobs are stored, the
// connector reports how many messages in how many chats are in, counting
// across blobs, each report after the chat it counts is stored; the blob
// at 100 % ends it with Done, which clears the inbox's progress (the
// status bar). A blob that comes alone (on demand) is done at once.
func TestHistorySyncProgress(t *testing.T) {
	r := newRig(t)
	r.dispatch(historyBlob(waHistorySync.HistorySync_INITIAL_BOOTSTRAP, 40, "b1", map[types.JID]int{alice: 3}))
	r.waitFor("the first blob's progress", func() bool { return len(progressSeen(r)) == 1 })
	if got := progressSeen(r); got[0] != (protocols.HistoryProgressEvent{Messages: 3, Chats: 1}) {
		t.Fatalf("after the first blob: %+v", got)
	}
	// Reported only once stored: the messages are in the store already.
	if _, ms := r.messages("b1-" + alice.User + "-3"); len(ms) != 3 {
		t.Fatalf("progress said 3 messages, the store holds %d", len(ms))
	}
	r.waitFor("the inbox keeps the progress", func() bool {
		return r.in.HistoryProgress()[testAccount] == inbox.HistoryProgress{Messages: 3, Chats: 1}
	})

	r.dispatch(historyBlob(waHistorySync.HistorySync_RECENT, 100, "b2", map[types.JID]int{bob: 2}))
	r.waitFor("the last blob's Done", func() bool { return len(progressSeen(r)) == 3 })
	want := []protocols.HistoryProgressEvent{
		{Messages: 3, Chats: 1},
		{Messages: 5, Chats: 2},
		{Messages: 5, Chats: 2, Done: true},
	}
	if got := progressSeen(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("progress events:\n got %+v\nwant %+v", got, want)
	}
	r.waitFor("the inbox to drop the finished sync", func() bool {
		_, running := r.in.HistoryProgress()[testAccount]
		return !running
	})

	// A new sync counts from zero; an on-demand blob is done by itself.
	r.dispatch(historyBlob(waHistorySync.HistorySync_ON_DEMAND, 0, "b3", map[types.JID]int{alice: 1, group: 2}))
	r.waitFor("the on-demand blob's Done", func() bool { return len(progressSeen(r)) == 6 })
	got := progressSeen(r)[3:]
	if last := got[2]; last != (protocols.HistoryProgressEvent{Messages: 3, Chats: 2, Done: true}) || got[0].Done || got[1] != (protocols.HistoryProgressEvent{Messages: 3, Chats: 2}) {
		t.Fatalf("on-demand progress: %+v", got)
	}
}
