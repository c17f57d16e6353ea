package testserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DendriteVersion is the Dendrite release the harness builds and runs.
const DendriteVersion = "v0.15.2"

// DendriteDomain is the server name of every test Dendrite.
const DendriteDomain = "localhost"

// Dendrite is one running Dendrite homeserver on loopback, with federation
// off, its own SQLite files and a JetStream on disk. On disk as in
// Dendrite's default: an in-memory JetStream loses, when the server is
// killed or stopped, every room event and to-device message the
// roomserver had accepted (and answered with an event ID) but the sync API
// had not consumed yet — no /sync, /messages or /context ever shows them,
// which fault tests would blame on the client.
type Dendrite struct {
	t      testing.TB
	bin    string
	dir    string
	port   int
	secret string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *dendriteSyncWriter
}

var dendriteBuild struct {
	once sync.Once
	dir  string
	err  error
}

// DendriteBinDir returns the directory holding the Dendrite binaries, building
// them with scripts/build-dendrite.sh the first time (minutes, once per cache).
func DendriteBinDir(t testing.TB) string {
	t.Helper()
	dendriteBuild.once.Do(func() {
		script := filepath.Join(dendriteRepoRoot(), "scripts", "build-dendrite.sh")
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			dendriteBuild.err = fmt.Errorf("%s failed: %v\n%s", script, err, dendriteLastLines(stderr.String(), 30))
			return
		}
		dendriteBuild.dir = strings.TrimSpace(string(out))
	})
	if dendriteBuild.err != nil {
		t.Fatalf("testserver: building Dendrite: %v", dendriteBuild.err)
	}
	return dendriteBuild.dir
}

// dendriteRepoRoot finds the repository root from this source file's location,
// so tests in any package can find scripts/.
func dendriteRepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// StartDendrite starts a fresh Dendrite for this test and stops it when the
// test ends. Missing tools fail the test; it never skips.
func StartDendrite(t testing.TB) *Dendrite {
	t.Helper()
	bin := DendriteBinDir(t)
	d := &Dendrite{
		t:      t,
		bin:    bin,
		dir:    t.TempDir(),
		port:   FreePort(t),
		secret: dendriteRandomHex(16),
	}
	keygen := exec.Command(filepath.Join(bin, "generate-keys"), "--private-key", filepath.Join(d.dir, "matrix_key.pem"))
	if out, err := keygen.CombinedOutput(); err != nil {
		t.Fatalf("testserver: dendrite generate-keys: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "dendrite.yaml"), []byte(d.config()), 0o600); err != nil {
		t.Fatalf("testserver: writing dendrite config: %v", err)
	}
	d.start()
	t.Cleanup(d.Stop)
	return d
}

func (d *Dendrite) config() string {
	db := func(name string) string {
		return "  database:\n    connection_string: file:" + filepath.Join(d.dir, name+".db") + "\n"
	}
	return `version: 2
global:
  server_name: ` + DendriteDomain + `
  private_key: ` + filepath.Join(d.dir, "matrix_key.pem") + `
  key_validity_period: 168h0m0s
  cache:
    max_size_estimated: 64mb
    max_age: 1h
  disable_federation: true
  presence:
    enable_inbound: false
    enable_outbound: false
  report_stats:
    enabled: false
  jetstream:
    in_memory: false
    storage_path: ` + filepath.Join(d.dir, "jetstream") + `
    topic_prefix: Dendrite
  metrics:
    enabled: false
  dns_cache:
    enabled: false
app_service_api:
` + db("appservice") + `client_api:
  registration_disabled: true
  guests_disabled: true
  registration_shared_secret: "` + d.secret + `"
  rate_limiting:
    enabled: false
    threshold: 20
    cooloff_ms: 500
federation_api:
` + db("federationapi") + `  disable_tls_validation: true
key_server:
` + db("keyserver") + `media_api:
` + db("mediaapi") + `  base_path: ` + filepath.Join(d.dir, "media_store") + `
  max_file_size_bytes: 10485760
  dynamic_thumbnails: false
mscs:
` + db("mscs") + `  mscs: []
relay_api:
` + db("relayapi") + `room_server:
` + db("roomserver") + `sync_api:
` + db("syncapi") + `  search:
    enabled: false
user_api:
  bcrypt_cost: 4
  account_database:
    connection_string: file:` + filepath.Join(d.dir, "userapi.db") + `
tracing:
  enabled: false
logging:
  - type: std
    level: warn
`
}

func (d *Dendrite) start() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd := exec.Command(filepath.Join(d.bin, "dendrite"),
		"--config", filepath.Join(d.dir, "dendrite.yaml"),
		"--http-bind-address", hostPort(d.port))
	cmd.Dir = d.dir
	w := &dendriteSyncWriter{buf: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("testserver: starting dendrite: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.cmd, d.done, d.log = cmd, done, w

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.URL() + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			d.t.Fatalf("testserver: dendrite exited during start:\n%s", dendriteLastLines(w.String(), 40))
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("testserver: dendrite not answering /_matrix/client/versions after 30s:\n%s", dendriteLastLines(w.String(), 40))
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the process to exit (SIGKILL after 10 s).
// Safe to call more than once.
func (d *Dendrite) Stop() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	terminate(cmd, done)
}

// Kill ends the server with SIGKILL, as a crash would.
func (d *Dendrite) Kill() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart stops the server and starts it again on the same port with the same
// databases, as a server reboot would.
func (d *Dendrite) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// Start starts a stopped server again (same port, same data).
func (d *Dendrite) Start() {
	d.t.Helper()
	d.start()
}

// URL is the client-server API base URL, e.g. http://127.0.0.1:PORT.
func (d *Dendrite) URL() string { return "http://" + hostPort(d.port) }

// Dir is the server's data directory (config, SQLite files).
func (d *Dendrite) Dir() string { return d.dir }

// DBPath returns the SQLite file of one component (e.g. "roomserver", "syncapi").
func (d *Dendrite) DBPath(component string) string {
	return filepath.Join(d.dir, component+".db")
}

// Log returns what the server printed so far.
func (d *Dendrite) Log() string {
	d.mu.Lock()
	w := d.log
	d.mu.Unlock()
	if w == nil {
		return ""
	}
	return w.String()
}

// CreateUser registers name with password via shared-secret registration and
// logs out the device that registration creates, so the user's device list
// starts clean (a key-less device would confuse E2EE tests). Returns the full
// user ID.
func (d *Dendrite) CreateUser(name, pass string) string {
	d.t.Helper()
	token, err := d.registerShared(name, pass)
	if err != nil {
		d.t.Fatalf("testserver: creating Matrix user %s: %v", name, err)
	}
	req, _ := http.NewRequest(http.MethodPost, d.URL()+"/_matrix/client/v3/logout", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		d.t.Fatalf("testserver: logging out registration device of %s: %v", name, err)
	} else {
		resp.Body.Close()
	}
	return "@" + name + ":" + DendriteDomain
}

func (d *Dendrite) registerShared(name, pass string) (string, error) {
	u := d.URL() + "/_synapse/admin/v1/register"
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	err = json.NewDecoder(resp.Body).Decode(&nonce)
	resp.Body.Close()
	if err != nil || nonce.Nonce == "" {
		return "", fmt.Errorf("no registration nonce (%v)", err)
	}
	mac := hmac.New(sha1.New, []byte(d.secret))
	mac.Write([]byte(strings.Join([]string{nonce.Nonce, name, pass, "notadmin"}, "\x00")))
	body, _ := json.Marshal(map[string]any{
		"username": name, "password": pass, "nonce": nonce.Nonce,
		"mac": hex.EncodeToString(mac.Sum(nil)), "admin": false,
	})
	resp, err = http.Post(u, "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("bad registration response: %s", raw)
	}
	return out.AccessToken, nil
}

func dendriteRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func dendriteLastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dendriteSyncWriter collects the server's output from two pipes safely.
type dendriteSyncWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (w *dendriteSyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 4<<20 { // keep memory bounded on a chatty server
		w.buf.Reset()
	}
	return w.buf.Write(p)
}

func (w *dendriteSyncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
