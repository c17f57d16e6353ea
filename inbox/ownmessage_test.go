package inbox

import (
	"testing"

	"polyglot/protocols"
)

// TestOwnMessageInAMappedChatWithoutPeer: the user's own message in a 1:1
// chat the network has not named a peer for (a Matrix DM whose m.direct
// entry is not seen yet) joins the conversation the chat belongs to; no
// conversation made of the room ID appears.
func TestOwnMessageInAMappedChatWithoutPeer(t *testing.T) {
	w := newIngestWorld(t, Options{}) // "!ann" is mapped to Ann's conversation
	me := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@me:example.org"}
	if err := w.in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{NetworkID: "$own", Outgoing: true,
		Chat: protocols.Chat{ID: "!ann"}, Sender: me, Body: "my own, echoed", Sent: w.t0, Encryption: protocols.EncE2EE}}); err != nil {
		t.Fatal(err)
	}
	cs, err := w.in.Conversations(Cursor{}, 10)
	if err != nil || len(cs) != 1 || cs[0].ID != w.conv {
		t.Fatalf("conversations = %+v (%v); want only Ann's", cs, err)
	}
	found := false
	for _, m := range w.messages(t) {
		found = found || (m.Body == "my own, echoed" && m.Outgoing)
	}
	if !found {
		t.Fatal("the own message is not in Ann's conversation")
	}
}
