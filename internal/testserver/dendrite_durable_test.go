package testserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestDendriteKeepsConfirmedEventsAcrossKill: an event the server answered
// with an event ID is served by its client API (/context reads the sync
// API's store, as /sync and /messages do) after the server is killed right
// after answering. With an in-memory JetStream this failed: the event sat
// in the roomserver's output queue and died with the process.
func TestDendriteKeepsConfirmedEventsAcrossKill(t *testing.T) {
	d := StartDendrite(t)
	d.CreateUser("alice", "alice-pw-88")
	token, _ := d.Login(t, "@alice:localhost", "alice-pw-88")
	var room struct {
		RoomID string `json:"room_id"`
	}
	if err := d.call(http.MethodPost, "/_matrix/client/v3/createRoom", token, []byte(`{"preset":"private_chat"}`), &room); err != nil {
		t.Fatal(err)
	}
	const rounds = 12
	var confirmed []string
	for i := 0; i < rounds; i++ {
		// A burst, then a kill right after the last answer: the sync API
		// is at most a few events behind the roomserver.
		for j := 0; j < 5; j++ {
			body, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": fmt.Sprintf("r%d-%d", i, j)})
			var sent struct {
				EventID string `json:"event_id"`
			}
			path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/t%d-%d-%d", room.RoomID, i, j, time.Now().UnixNano())
			if err := d.call(http.MethodPut, path, token, body, &sent); err != nil {
				t.Fatalf("send: %v", err)
			}
			confirmed = append(confirmed, sent.EventID)
		}
		d.Kill()
		d.Start()
	}
	// The sync API consumes what was queued after it starts: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for _, eid := range confirmed {
		path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/context/%s?limit=0", room.RoomID, eid)
		for {
			err := d.call(http.MethodGet, path, token, nil, nil)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("confirmed event %s not served after a kill: %v", eid, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
