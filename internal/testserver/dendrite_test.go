package testserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDendriteStartsAndRegisters shows the harness gives a working server:
// a created user can log in with its password, and the server survives a
// restart with its data.
func TestDendriteStartsAndRegisters(t *testing.T) {
	d := StartDendrite(t)
	uid := d.CreateUser("alice", "password-alice")
	if uid != "@alice:localhost" {
		t.Fatalf("user ID = %q", uid)
	}
	login := func() int {
		body := `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"password-alice"}`
		resp, err := http.Post(d.URL()+"/_matrix/client/v3/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode
	}
	if code := login(); code != 200 {
		t.Fatalf("login status %d\n%s", code, d.Log())
	}
	d.Restart()
	if code := login(); code != 200 {
		t.Fatalf("login after restart: status %d", code)
	}
}
