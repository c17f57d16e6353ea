package testserver

import (
	"strings"
	"testing"
	"time"
)

// TestJSPeerProtocol shows the js-sdk peer is a working client that reports
// bad commands instead of dying: it logs in with cross-signing, knows its own
// device, answers unknown ops, bad JSON and bad arguments with errors, and
// keeps serving afterwards.
func TestJSPeerProtocol(t *testing.T) {
	d := StartDendrite(t)
	bob := d.CreateUser("bob", "password-bob")
	p := StartJSPeer(t, d, bob, "password-bob")
	if p.DeviceID == "" {
		t.Fatal("no device ID")
	}
	devs := p.MustDo(map[string]any{"op": "devices", "user": bob})["devices"].([]any)
	if len(devs) != 1 || devs[0] != p.DeviceID {
		t.Fatalf("own devices %v, want [%s]", devs, p.DeviceID)
	}
	if _, err := p.Do(map[string]any{"op": "no-such-op"}); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Fatalf("unknown op: %v", err)
	}
	if _, err := p.Do(map[string]any{"op": "confirm", "txn": "nope"}); err == nil || !strings.Contains(err.Error(), "no emoji shown yet") {
		t.Fatalf("confirm of an unknown verification: %v", err)
	}
	if _, err := p.stdin.Write([]byte("{not json\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitEvent(10*time.Second, func(ev map[string]any) bool {
		e, _ := ev["error"].(string)
		return ev["ev"] == "error" && strings.HasPrefix(e, "bad json")
	}); err != nil {
		t.Fatal(err)
	}
	room := p.MustDo(map[string]any{"op": "create_dm", "invite": d.CreateUser("carol", "password-carol"), "encrypted": false})
	if r, _ := room["room"].(string); !strings.HasPrefix(r, "!") {
		t.Fatalf("create_dm after errors: %v", room)
	}
}
