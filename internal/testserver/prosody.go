package testserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ProsodyDomain is the virtual host every test Prosody serves; the MUC
// service is at conference.<domain>.
const ProsodyDomain = "localhost"

// Prosody is a real Prosody started for one test: loopback only, its own
// data directory, config, self-signed certificate and log.
type Prosody struct {
	t         testing.TB
	dir       string
	cfgPath   string
	logPath   string
	caPath    string
	port      int // STARTTLS c2s
	tlsPort   int // direct TLS c2s
	httpsPort int // HTTP File Upload (mod_http_file_share)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartProsody writes a self-contained config in t.TempDir(), generates a
// certificate for localhost, conference.localhost and upload.localhost, and
// starts `prosody -F` as a child of the test. It is stopped by t.Cleanup.
func StartProsody(t testing.TB) *Prosody {
	t.Helper()
	NeedBinary(t, "prosody")
	NeedBinary(t, "prosodyctl")
	NeedBinary(t, "openssl")
	p := &Prosody{t: t, dir: t.TempDir()}
	p.port = FreePort(t)
	p.tlsPort = FreePort(t)
	for p.tlsPort == p.port {
		p.tlsPort = FreePort(t)
	}
	p.httpsPort = FreePort(t)
	for p.httpsPort == p.port || p.httpsPort == p.tlsPort {
		p.httpsPort = FreePort(t)
	}
	p.cfgPath = filepath.Join(p.dir, "prosody.cfg.lua")
	p.logPath = filepath.Join(p.dir, "prosody.log")
	p.caPath = filepath.Join(p.dir, "cert.pem")
	keyPath := filepath.Join(p.dir, "key.pem")
	if err := os.Mkdir(filepath.Join(p.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
		"-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost,DNS:conference.localhost,DNS:upload.localhost",
		"-keyout", keyPath, "-out", p.caPath).CombinedOutput()
	if err != nil {
		t.Fatalf("testserver: openssl: %v\n%s", err, out)
	}
	if err := os.WriteFile(p.cfgPath, []byte(p.config(keyPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	p.start()
	return p
}

func (p *Prosody) config(keyPath string) string {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	return `-- written by internal/testserver for one test run
daemonize = false
run_as_root = true
pidfile = ` + q(filepath.Join(p.dir, "prosody.pid")) + `
data_path = ` + q(filepath.Join(p.dir, "data")) + `
admin_socket = ` + q(filepath.Join(p.dir, "admin.sock")) + `
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ` + fmt.Sprint(p.port) + ` }
c2s_direct_tls_ports = { ` + fmt.Sprint(p.tlsPort) + ` }
s2s_ports = { }
http_ports = { }
-- HTTP File Upload (upload.localhost) over HTTPS on loopback only
https_ports = { ` + fmt.Sprint(p.httpsPort) + ` }
https_interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
https_ssl = { certificate = ` + q(p.caPath) + `; key = ` + q(keyPath) + `; }
log = { info = ` + q(p.logPath) + ` }
modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "posix"; "ping"; "register";
	"carbons"; "mam"; "smacks"; "pep"; "private"; "blocklist"; "vcard4"; "bookmarks";
}
modules_disabled = { "s2s" }
c2s_require_encryption = true
allow_registration = false
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
archive_expires_after = "1d"
-- big enough that a 1 MiB hostile body reaches the client under test
c2s_stanza_size_limit = 4 * 1024 * 1024
ssl = { certificate = ` + q(p.caPath) + `; key = ` + q(keyPath) + `; }

VirtualHost "` + ProsodyDomain + `"

Component "conference.` + ProsodyDomain + `" "muc"
	modules_enabled = { "muc_mam" }
	restrict_room_creation = false
	-- rooms open at once (slixmpp does not submit the creation form)
	muc_room_locking = false
	muc_room_default_history_length = 20
	muc_log_all_rooms = true
	muc_log_by_default = true

Component "upload.` + ProsodyDomain + `" "http_file_share"
	http_host = "` + ProsodyDomain + `"
	http_file_share_size_limit = ` + fmt.Sprint(ProsodyUploadLimit) + `
`
}

// ProsodyUploadLimit is the test Prosody's HTTP File Upload size limit,
// which its upload service announces in disco.
const ProsodyUploadLimit = 1 << 20

func (p *Prosody) start() {
	p.t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command("prosody", "--config", p.cfgPath, "-F")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = p.dir
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("testserver: start prosody: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	if err := WaitTCP(hostPort(p.port), 10*time.Second); err != nil {
		p.t.Fatalf("testserver: prosody: %v\n%s", err, p.Log())
	}
	if err := WaitTCP(hostPort(p.tlsPort), 5*time.Second); err != nil {
		p.t.Fatalf("testserver: prosody direct TLS: %v\n%s", err, p.Log())
	}
	// The port opens even when Prosody refuses to run half-started: the log
	// tells the truth.
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := p.Log()
		if strings.Contains(log, "Refusing to run") || strings.Contains(log, "Failed to load") {
			p.t.Fatalf("testserver: prosody did not start cleanly:\n%s", log)
		}
		if strings.Contains(log, "Activated service 'c2s'") || strings.Contains(log, "Activated service 'c2s_direct_tls'") {
			return
		}
		if time.Now().After(deadline) {
			return // port is open; an older log format may not say it
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Register creates (or resets) an account user@localhost with prosodyctl.
func (p *Prosody) Register(user, pass string) string {
	p.t.Helper()
	cmd := exec.Command("prosodyctl", "--config", p.cfgPath, "register", user, ProsodyDomain, pass)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("testserver: prosodyctl register %s: %v\n%s", user, err, out.String())
	}
	return user + "@" + ProsodyDomain
}

// Stop sends SIGTERM and waits (SIGKILL after 10 s). Safe to call twice.
func (p *Prosody) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // in case Freeze left it stopped
	terminate(cmd, done)
}

// Kill ends Prosody with SIGKILL, as a crash or a pulled cable would: no
// stream close reaches the clients.
func (p *Prosody) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Freeze stops Prosody with SIGSTOP: sockets stay open but nothing is
// answered, as on a dead link with no RST. Thaw resumes it.
func (p *Prosody) Freeze() { p.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen Prosody.
func (p *Prosody) Thaw() { p.signal(syscall.SIGCONT) }

func (p *Prosody) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Restart stops Prosody (if running) and starts it again on the same ports
// with the same data.
func (p *Prosody) Restart() {
	p.t.Helper()
	p.Stop()
	p.start()
}

// Start starts a stopped Prosody again (after Stop or Kill).
func (p *Prosody) Start() {
	p.t.Helper()
	p.mu.Lock()
	running := p.cmd != nil
	p.mu.Unlock()
	if !running {
		p.start()
	}
}

// Addr is the STARTTLS client port, host:port.
func (p *Prosody) Addr() string { return hostPort(p.port) }

// DirectTLSAddr is the direct-TLS (XEP-0368) client port, host:port.
func (p *Prosody) DirectTLSAddr() string { return hostPort(p.tlsPort) }

// CAFile is the PEM of this run's self-signed certificate, for clients to trust.
func (p *Prosody) CAFile() string { return p.caPath }

// Domain is the XMPP domain served.
func (p *Prosody) Domain() string { return ProsodyDomain }

// MUCDomain is the multi-user chat service.
func (p *Prosody) MUCDomain() string { return "conference." + ProsodyDomain }

// Dir is the temporary directory holding config, data and logs.
func (p *Prosody) Dir() string { return p.dir }

// Log returns Prosody's log so far (for failure messages).
func (p *Prosody) Log() string {
	b, _ := os.ReadFile(p.logPath)
	s, _ := os.ReadFile(filepath.Join(p.dir, "stdout.log"))
	return string(b) + string(s)
}
