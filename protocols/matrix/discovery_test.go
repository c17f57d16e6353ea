package matrix

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWellKnownDiscovery: without a homeserver URL the connector asks the
// user's server over HTTPS (/.well-known/matrix/client) where the client
// API lives; a server without the file means the server itself; garbage is
// a clear error that says to set the URL by hand.
func TestWellKnownDiscovery(t *testing.T) {
	answer := `{"m.homeserver": {"base_url": "https://matrix.example.org"}}`
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/matrix/client" {
			http.NotFound(w, r)
			return
		}
		if answer == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	server := strings.TrimPrefix(srv.URL, "https://") // 127.0.0.1:PORT, a valid server name
	c, err := New(Config{UserID: "@alice:" + server, Password: "x", PickleKey: make([]byte, 32), DBPath: "unused", CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	hc, err := c.httpClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := c.homeserverURL(ctx, hc); err != nil || got != "https://matrix.example.org" {
		t.Fatalf("discovered %q, %v", got, err)
	}

	answer = ""
	if got, err := c.homeserverURL(ctx, hc); err != nil || got != "https://"+server {
		t.Fatalf("without .well-known: %q, %v (want the server itself)", got, err)
	}

	answer = `{"m.homeserver": `
	if _, err := c.homeserverURL(ctx, hc); err == nil || !strings.Contains(err.Error(), "set the homeserver URL by hand") {
		t.Fatalf("malformed .well-known: %v", err)
	}

	c.cfg.Homeserver = "http://127.0.0.1:1"
	if got, _ := c.homeserverURL(ctx, hc); got != "http://127.0.0.1:1" {
		t.Fatalf("the override must win: %q", got)
	}
}
