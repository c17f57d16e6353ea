package testserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// linePeer runs a foreign chat client that speaks line JSON: one command per
// line on its stdin, one event per line on its stdout; a command's "id"
// comes back on its {"ev":"ok"} or {"ev":"error"} answer. NioPeer and JSPeer
// are linePeers.
type linePeer struct {
	t    testing.TB
	name string // for messages: "nio peer", "js-sdk peer"

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu     sync.Mutex
	events []map[string]any
	wake   chan struct{}
	nextID int
	stderr *dendriteSyncWriter
}

// start runs cmd, stops it when the test ends, and waits for its "ready"
// event (a start-up "error" without id fails the test, with its stderr).
func (p *linePeer) start(t testing.TB, name, userID string, cmd *exec.Cmd) map[string]any {
	t.Helper()
	p.t, p.name, p.cmd = t, name, cmd
	p.wake, p.done = make(chan struct{}, 1), make(chan struct{})
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
		t.Fatalf("testserver: starting %s: %v", name, err)
	}
	go p.read(stdout)
	t.Cleanup(p.Stop)
	ready, err := p.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "ready" || (ev["ev"] == "error" && ev["id"] == nil)
	})
	if err != nil || ready["ev"] != "ready" {
		t.Fatalf("testserver: %s %s did not start: %v %v\n%s", name, userID, err, ready, dendriteLastLines(p.stderr.String(), 30))
	}
	return ready
}

func (p *linePeer) read(r io.Reader) {
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
func (p *linePeer) Do(cmd map[string]any) (map[string]any, error) {
	p.mu.Lock()
	p.nextID++
	id := strconv.Itoa(p.nextID)
	p.mu.Unlock()
	cmd["id"] = id
	line, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	ev, err := p.WaitEvent(60*time.Second, func(ev map[string]any) bool {
		return ev["id"] == id && (ev["ev"] == "ok" || ev["ev"] == "error")
	})
	if err != nil {
		return nil, err
	}
	if ev["ev"] == "error" {
		return ev, fmt.Errorf("%s %s: %v", p.name, cmd["op"], ev["error"])
	}
	return ev, nil
}

// MustDo is Do that fails the test on error.
func (p *linePeer) MustDo(cmd map[string]any) map[string]any {
	p.t.Helper()
	ev, err := p.Do(cmd)
	if err != nil {
		p.t.Fatalf("%v\n%s", err, dendriteLastLines(p.stderr.String(), 20))
	}
	return ev
}

// WaitEvent returns the first event (seen so far or arriving within timeout)
// that match accepts. On a timeout the error carries the end of the peer's
// log.
func (p *linePeer) WaitEvent(timeout time.Duration, match func(map[string]any) bool) (map[string]any, error) {
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
			return nil, fmt.Errorf("%s exited:\n%s", p.name, dendriteLastLines(p.stderr.String(), 20))
		case <-deadline:
			return nil, fmt.Errorf("%s: no matching event within %s; its log ends:\n%s", p.name, timeout, dendriteLastLines(p.stderr.String(), 20))
		}
	}
}

func (p *linePeer) find(match func(map[string]any) bool) map[string]any {
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
func (p *linePeer) Events() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.events...)
}

// Count returns how many events match.
func (p *linePeer) Count(match func(map[string]any) bool) int {
	n := 0
	for _, ev := range p.Events() {
		if match(ev) {
			n++
		}
	}
	return n
}

// Stderr is what the peer (its library's own logging) printed so far.
func (p *linePeer) Stderr() string { return p.stderr.String() }

// Stop asks the peer to quit, then SIGTERMs it if it lingers.
func (p *linePeer) Stop() {
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
