package matrix

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/event"
)

// parsed builds an event the way the syncer hands it over: content parsed
// for its type.
func parsed(t *testing.T, typ event.Type, room string, content string) *event.Event {
	t.Helper()
	evt := &event.Event{Type: typ}
	if room != "" {
		evt.RoomID = "!r:localhost"
	}
	if err := json.Unmarshal([]byte(content), &evt.Content); err != nil {
		t.Fatal(err)
	}
	if err := evt.Content.ParseRaw(typ); err != nil {
		t.Fatal(err)
	}
	return evt
}

// TestVerificationTxn: a to-device step names its transaction; an in-room
// step belongs to the request it references (mautrix alone would take the
// step's own event ID and cancel with "unknown transaction").
func TestVerificationTxn(t *testing.T) {
	toDevice := parsed(t, event.ToDeviceVerificationMAC, "", `{"transaction_id":"txn1","keys":"AAAA","mac":{}}`)
	if got := verificationTxn(toDevice); got != "txn1" {
		t.Fatalf("to-device: %q", got)
	}
	inRoom := parsed(t, event.InRoomVerificationReady, "room",
		`{"from_device":"D","methods":["m.sas.v1"],"m.relates_to":{"rel_type":"m.reference","event_id":"$req"}}`)
	if got := verificationTxn(inRoom); got != "$req" {
		t.Fatalf("in-room: %q", got)
	}
	stray := parsed(t, event.InRoomVerificationStart, "room", `{"from_device":"D","method":"m.sas.v1"}`)
	if got := verificationTxn(stray); got != "" {
		t.Fatalf("in-room without relation: %q", got)
	}
}

// TestIsVerificationEvent: decrypted in-room verification steps (and the
// request message) go to the verification helper; ordinary messages don't.
func TestIsVerificationEvent(t *testing.T) {
	req := parsed(t, event.EventMessage, "room", `{"msgtype":"m.key.verification.request","body":"…","to":"@a:localhost","from_device":"D","methods":["m.sas.v1"]}`)
	key := parsed(t, event.InRoomVerificationKey, "room", `{"key":"AAAA","m.relates_to":{"rel_type":"m.reference","event_id":"$req"}}`)
	text := parsed(t, event.EventMessage, "room", `{"msgtype":"m.text","body":"m.key.verification.request"}`)
	if !isVerificationEvent(req) || !isVerificationEvent(key) {
		t.Fatal("verification step not recognised")
	}
	if isVerificationEvent(text) {
		t.Fatal("a text message taken for verification")
	}
}
