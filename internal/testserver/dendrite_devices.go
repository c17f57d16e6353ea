package testserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// Login logs user in with a password as a new device and returns its
// access token and device ID (as a token for another client would be made).
func (d *Dendrite) Login(t testing.TB, user, pass string) (token, device string) {
	t.Helper()
	localpart := strings.SplitN(strings.TrimPrefix(user, "@"), ":", 2)[0]
	body, _ := json.Marshal(map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": localpart}, "password": pass})
	var login struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := d.call(http.MethodPost, "/_matrix/client/v3/login", "", body, &login); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return login.AccessToken, login.DeviceID
}

// Devices logs in as user (a fresh "checker" device, logged out again) and
// lists the IDs of the user's other devices as the server knows them.
func (d *Dendrite) Devices(t testing.TB, user, pass string) []string {
	t.Helper()
	token, checker := d.Login(t, user, pass)
	defer d.call(http.MethodPost, "/_matrix/client/v3/logout", token, []byte("{}"), nil)
	var list struct {
		Devices []struct {
			DeviceID string `json:"device_id"`
		} `json:"devices"`
	}
	if err := d.call(http.MethodGet, "/_matrix/client/v3/devices", token, nil, &list); err != nil {
		t.Fatalf("listing devices: %v", err)
	}
	var out []string
	for _, dev := range list.Devices {
		if dev.DeviceID != checker {
			out = append(out, dev.DeviceID)
		}
	}
	sort.Strings(out)
	return out
}

func (d *Dendrite) call(method, path, token string, body []byte, out any) error {
	req, err := http.NewRequest(method, d.URL()+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Call is one client-API request as the holder of token (a test that
// plays a misbehaving client or server step by step).
func (d *Dendrite) Call(method, path, token string, body []byte, out any) error {
	return d.call(method, path, token, body, out)
}
