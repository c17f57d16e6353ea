package testserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// JSPeer drives peers/jssdk/peer.mjs: a Matrix client on matrix-js-sdk with
// its Rust crypto (matrix-sdk-crypto-wasm), with cross-signing set up, for
// E2EE and SAS-verification interop tests. Commands and events are the same
// line-JSON style as NioPeer's.
type JSPeer struct {
	t        testing.TB
	UserID   string
	DeviceID string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu     sync.Mutex
	events []map[string]any
	wake   chan struct{}
	nextID int
	stderr *dendriteSyncWriter
}

var jssdkInstall struct {
	once    sync.Once
	modules string
	err     error
}

// JSSDKModules returns the node_modules dir holding the peer's exact package
// versions, installing them with scripts/install-jssdk.sh the first time
// (seconds, once per lockfile).
func JSSDKModules(t testing.TB) string {
	t.Helper()
	jssdkInstall.once.Do(func() {
		script := filepath.Join(dendriteRepoRoot(), "scripts", "install-jssdk.sh")
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			jssdkInstall.err = fmt.Errorf("%s failed: %v\n%s", script, err, dendriteLastLines(stderr.String(), 30))
			return
		}
		jssdkInstall.modules = strings.TrimSpace(string(out))
	})
	if jssdkInstall.err != nil {
		t.Fatalf("testserver: installing the matrix-js-sdk peer (run scripts/test-deps.sh): %v", jssdkInstall.err)
	}
	return jssdkInstall.modules
}

// StartJSPeer logs user in on d with a fresh in-memory crypto store,
// bootstraps cross-signing and waits until the device is ready. It is
// stopped when the test ends. A missing Node or package fails the test.
func StartJSPeer(t testing.TB, d *Dendrite, userID, pass string) *JSPeer {
	t.Helper()
	node := NeedBinary(t, "node")
	modules := JSSDKModules(t)
	script := filepath.Join(dendriteRepoRoot(), "internal", "testserver", "peers", "jssdk", "peer.mjs")
	p := &JSPeer{t: t, UserID: userID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(node, script, d.URL(), userID, pass)
	p.cmd.Env = append(os.Environ(), "POLYGLOT_JSSDK_MODULES="+modules)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.stderr = &dendriteSyncWriter{buf: &bytes.Buffer{}}
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testserver: starting js-sdk peer: %v", err)
	}
	go p.read(stdout)
	t.Cleanup(p.Stop)
	ready, err := p.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "ready" || (ev["ev"] == "error" && ev["id"] == nil)
	})
	if err != nil || ready["ev"] != "ready" {
		t.Fatalf("testserver: js-sdk peer %s did not start: %v %v\n%s", userID, err, ready, dendriteLastLines(p.stderr.String(), 30))
	}
	if ready["cross_signing"] != true {
		t.Fatalf("testserver: js-sdk peer %s has no cross-signing: %v\n%s", userID, ready, dendriteLastLines(p.stderr.String(), 30))
	}
	p.DeviceID, _ = ready["device_id"].(string)
	return p
}

func (p *JSPeer) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 8<<20)
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		p.mu.Lock()
		p.events = append(p.events, ev)
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Do sends one command and waits for its answer; an "error" answer fails.
func (p *JSPeer) Do(cmd map[string]any) (map[string]any, error) {
	p.mu.Lock()
	p.nextID++
	id := strconv.Itoa(p.nextID)
	p.mu.Unlock()
	cmd["id"] = id
	line, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("js-sdk peer: %w", err)
	}
	ev, err := p.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["id"] == id && (ev["ev"] == "ok" || ev["ev"] == "error")
	})
	if err != nil {
		return nil, err
	}
	if ev["ev"] == "error" {
		return ev, fmt.Errorf("js-sdk peer %s: %v", cmd["op"], ev["error"])
	}
	return ev, nil
}

// MustDo is Do that fails the test on error.
func (p *JSPeer) MustDo(cmd map[string]any) map[string]any {
	p.t.Helper()
	ev, err := p.Do(cmd)
	if err != nil {
		p.t.Fatalf("%v\n%s", err, dendriteLastLines(p.stderr.String(), 20))
	}
	return ev
}

// WaitEvent returns the first event (seen so far or arriving within timeout)
// that match accepts.
func (p *JSPeer) WaitEvent(timeout time.Duration, match func(map[string]any) bool) (map[string]any, error) {
	deadline := time.After(timeout)
	for {
		if ev := p.find(match); ev != nil {
			return ev, nil
		}
		select {
		case <-p.wake:
		case <-p.done:
			if ev := p.find(match); ev != nil { // arrived just before exit
				return ev, nil
			}
			return nil, fmt.Errorf("js-sdk peer exited:\n%s", dendriteLastLines(p.stderr.String(), 20))
		case <-deadline:
			return nil, fmt.Errorf("js-sdk peer: no matching event within %s; its log ends:\n%s", timeout, dendriteLastLines(p.stderr.String(), 20))
		}
	}
}

func (p *JSPeer) find(match func(map[string]any) bool) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.events {
		if match(ev) {
			return ev
		}
	}
	return nil
}

// Events returns a copy of every event seen so far.
func (p *JSPeer) Events() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.events...)
}

// Stderr is what the peer (the SDK's own logging) printed so far.
func (p *JSPeer) Stderr() string { return p.stderr.String() }

// Stop asks the peer to quit, then SIGTERMs it if it lingers.
func (p *JSPeer) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_, _ = p.stdin.Write([]byte(`{"op":"quit"}` + "\n"))
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	}
	_ = p.cmd.Wait()
	p.cmd = nil
}
