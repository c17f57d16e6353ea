package testserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NioPeer drives peers/nio_peer.py: a Matrix client with E2EE written by
// nobody here (matrix-nio + libolm), for interop tests.
type NioPeer struct {
	t        testing.TB
	UserID   string
	DeviceID string
	// Ed25519 is the device's signing key (unpadded base64), the one other
	// clients show as its fingerprint.
	Ed25519 string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu     sync.Mutex
	events []map[string]any
	wake   chan struct{}
	nextID int
	stderr *dendriteSyncWriter
}

// StartNioPeer logs user in on d with a fresh nio store and waits until its
// device keys are uploaded. It is stopped when the test ends.
func StartNioPeer(t testing.TB, d *Dendrite, userID, pass string) *NioPeer {
	t.Helper()
	return StartNioPeerDevice(t, d, userID, pass, "")
}

// StartNioPeerDevice is StartNioPeer logging in as deviceID (a new device if
// empty). The store is always fresh, so an existing device ID gets new
// identity keys: a contact's device whose key changed.
func StartNioPeerDevice(t testing.TB, d *Dendrite, userID, pass, deviceID string) *NioPeer {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import nio, olm").CombinedOutput(); err != nil {
		t.Fatalf("testserver: matrix-nio with olm not importable by %s (run scripts/test-deps.sh): %v\n%s", py, err, out)
	}
	script := filepath.Join(dendriteRepoRoot(), "internal", "testserver", "peers", "nio_peer.py")
	p := &NioPeer{t: t, UserID: userID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	args := []string{script, d.URL(), userID, pass, t.TempDir()}
	if deviceID != "" {
		args = append(args, deviceID)
	}
	p.cmd = exec.Command(py, args...)
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
		t.Fatalf("testserver: starting nio peer: %v", err)
	}
	go p.read(stdout)
	t.Cleanup(p.Stop)
	ready, err := p.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "ready" || (ev["ev"] == "error" && ev["id"] == nil)
	})
	if err != nil || ready["ev"] != "ready" {
		t.Fatalf("testserver: nio peer %s did not start: %v %v\n%s", userID, err, ready, p.stderr.String())
	}
	p.DeviceID, _ = ready["device_id"].(string)
	p.Ed25519, _ = ready["ed25519"].(string)
	return p
}

func (p *NioPeer) read(r io.Reader) {
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
func (p *NioPeer) Do(cmd map[string]any) (map[string]any, error) {
	p.mu.Lock()
	p.nextID++
	id := strconv.Itoa(p.nextID)
	p.mu.Unlock()
	cmd["id"] = id
	line, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("nio peer: %w", err)
	}
	ev, err := p.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["id"] == id && (ev["ev"] == "ok" || ev["ev"] == "error")
	})
	if err != nil {
		return nil, err
	}
	if ev["ev"] == "error" {
		return ev, fmt.Errorf("nio peer %s: %v", cmd["op"], ev["error"])
	}
	return ev, nil
}

// MustDo is Do that fails the test on error.
func (p *NioPeer) MustDo(cmd map[string]any) map[string]any {
	p.t.Helper()
	ev, err := p.Do(cmd)
	if err != nil {
		p.t.Fatalf("%v\n%s", err, dendriteLastLines(p.stderr.String(), 20))
	}
	return ev
}

// WaitEvent returns the first event (seen so far or arriving within timeout)
// that match accepts.
func (p *NioPeer) WaitEvent(timeout time.Duration, match func(map[string]any) bool) (map[string]any, error) {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		for _, ev := range p.events {
			if match(ev) {
				p.mu.Unlock()
				return ev, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.done:
			// drain what arrived before exit once more
			p.mu.Lock()
			for _, ev := range p.events {
				if match(ev) {
					p.mu.Unlock()
					return ev, nil
				}
			}
			p.mu.Unlock()
			return nil, fmt.Errorf("nio peer exited:\n%s", dendriteLastLines(p.stderr.String(), 20))
		case <-deadline:
			return nil, fmt.Errorf("nio peer: no matching event within %s", timeout)
		}
	}
}

// Events returns a copy of every event seen so far.
func (p *NioPeer) Events() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.events...)
}

// Count returns how many events match.
func (p *NioPeer) Count(match func(map[string]any) bool) int {
	n := 0
	for _, ev := range p.Events() {
		if match(ev) {
			n++
		}
	}
	return n
}

// Stop asks the peer to quit, then SIGTERMs it if it lingers.
func (p *NioPeer) Stop() {
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
