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

// Devices logs in as user (a fresh "checker" device, logged out again) and
// lists the IDs of the user's other devices as the server knows them.
func (d *Dendrite) Devices(t testing.TB, user, pass string) []string {
	t.Helper()
	localpart := strings.SplitN(strings.TrimPrefix(user, "@"), ":", 2)[0]
	body, _ := json.Marshal(map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": localpart}, "password": pass})
	var login struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := d.call(http.MethodPost, "/_matrix/client/v3/login", "", body, &login); err != nil {
		t.Fatalf("checker login: %v", err)
	}
	defer d.call(http.MethodPost, "/_matrix/client/v3/logout", login.AccessToken, []byte("{}"), nil)
	var list struct {
		Devices []struct {
			DeviceID string `json:"device_id"`
		} `json:"devices"`
	}
	if err := d.call(http.MethodGet, "/_matrix/client/v3/devices", login.AccessToken, nil, &list); err != nil {
		t.Fatalf("listing devices: %v", err)
	}
	var out []string
	for _, dev := range list.Devices {
		if dev.DeviceID != login.DeviceID {
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
