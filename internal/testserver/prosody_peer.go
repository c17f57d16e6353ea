package testserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// PeerEvent is one JSON line the slixmpp peer printed.
type PeerEvent struct {
	Ev             string   `json:"ev"`
	T              float64  `json:"t"` // Unix seconds, wall clock
	JID            string   `json:"jid"`
	From           string   `json:"from"`
	To             string   `json:"to"`
	ID             string   `json:"id"`
	Type           string   `json:"type"`
	Body           string   `json:"body"`
	Carbon         string   `json:"carbon"`
	OriginID       string   `json:"origin_id"`
	StanzaID       string   `json:"stanza_id"`
	ReceiptRequest bool     `json:"receipt_request"`
	Markable       bool     `json:"markable"`
	ChatState      string   `json:"chat_state"`
	Replace        string   `json:"replace"`
	Retract        string   `json:"retract"`
	Reactions      []string `json:"reactions"`
	ReactionsID    string   `json:"reactions_id"`
	ReplyID        string   `json:"reply_id"`
	Displayed      string   `json:"displayed"`
	Receipt        string   `json:"receipt"`
	Nick           string   `json:"nick"`
	Room           string   `json:"room"`
	N              int      `json:"n"`
	Error          string   `json:"error"`
	XML            string   `json:"xml"`
	// download / send_file: what came, and the URL a file was put at.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	URL    string `json:"url"`
}

// Time is the event's wall-clock time.
func (e PeerEvent) Time() time.Time {
	sec := int64(e.T)
	return time.Unix(sec, int64((e.T-float64(sec))*1e9))
}

// Peer drives internal/testserver/peers/slixmpp_peer.py, an XMPP client
// nobody here wrote (Debian's python3-slixmpp), over its stdin/stdout.
type Peer struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     io.WriteCloser
	JID    string // full JID bound
	mu     sync.Mutex
	cond   *sync.Cond
	evs    []PeerEvent
	seen   int // events before this index were consumed by Next
	done   bool
	stderr strings.Builder
}

func peerScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "peers", "slixmpp_peer.py")
}

// StartPeer logs jid in through p with the slixmpp peer and waits until it is
// online. flags: "--carbons", "--no-auto-receipts".
func (p *Prosody) StartPeer(jid, pass string, flags ...string) *Peer {
	p.t.Helper()
	pr, err := p.TryStartPeer(jid, pass, flags...)
	if err != nil {
		p.t.Fatal(err)
	}
	return pr
}

// TryStartPeer is StartPeer for a caller that expects the server may be
// down (fault injection): a failed login is an error, not a failed test.
// Safe to call from any goroutine.
func (p *Prosody) TryStartPeer(jid, pass string, flags ...string) (*Peer, error) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		return nil, fmt.Errorf("testserver: %s missing: run scripts/test-deps.sh", py)
	}
	if err := exec.Command(py, "-c", "import slixmpp").Run(); err != nil {
		return nil, fmt.Errorf("testserver: python3-slixmpp missing: run scripts/test-deps.sh")
	}
	args := append([]string{peerScript(), jid, pass, "127.0.0.1", strings.TrimPrefix(p.Addr(), "127.0.0.1:"), p.CAFile()}, flags...)
	cmd := exec.Command(py, args...)
	pr := &Peer{t: p.t, cmd: cmd}
	pr.cond = sync.NewCond(&pr.mu)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = &lockedWriter{mu: &pr.mu, w: &pr.stderr}
	pr.in = in
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testserver: start slixmpp peer: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for sc.Scan() {
			var ev PeerEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			pr.mu.Lock()
			pr.evs = append(pr.evs, ev)
			pr.cond.Broadcast()
			pr.mu.Unlock()
		}
		cmd.Wait()
		pr.mu.Lock()
		pr.done = true
		pr.cond.Broadcast()
		pr.mu.Unlock()
	}()
	ready := pr.Next(20*time.Second, func(e PeerEvent) bool { return e.Ev == "ready" || e.Ev == "error" })
	if ready.Ev != "ready" {
		pr.Close()
		return nil, fmt.Errorf("testserver: slixmpp peer %s did not log in: %+v", jid, ready)
	}
	p.t.Cleanup(pr.Close)
	pr.JID = ready.JID
	return pr, nil
}

// SendConfirmed sends a message and reports whether the server confirmed
// it (a ping after it on the same stream was answered). No test failure:
// under fault injection a send may fail.
func (pr *Peer) SendConfirmed(cmd map[string]any) bool {
	cmd["op"], cmd["confirm"] = "send", true
	b, _ := json.Marshal(cmd)
	if _, err := pr.in.Write(append(b, '\n')); err != nil {
		return false
	}
	ev := pr.Next(15*time.Second, func(e PeerEvent) bool { return e.Ev == "sent" || e.Ev == "error" || e.Ev == "closed" })
	return ev.Ev == "sent"
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Do sends one command (see the script's doc for ops and fields).
func (pr *Peer) Do(cmd map[string]any) {
	pr.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := pr.in.Write(append(b, '\n')); err != nil {
		pr.t.Fatalf("slixmpp peer: write command: %v", err)
	}
}

// Send sends cmd and waits for the peer's "sent" acknowledgement.
func (pr *Peer) Send(cmd map[string]any) PeerEvent {
	pr.t.Helper()
	pr.Do(cmd)
	return pr.Must(10*time.Second, "sent", func(e PeerEvent) bool { return e.Ev == "sent" || e.Ev == "error" })
}

// Next waits for the first not yet consumed event matching pred; events it
// skips stay available to later calls. Returns the zero event on timeout.
func (pr *Peer) Next(timeout time.Duration, pred func(PeerEvent) bool) PeerEvent {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { pr.mu.Lock(); pr.cond.Broadcast(); pr.mu.Unlock() })
	defer timer.Stop()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for i := pr.seen; ; {
		for ; i < len(pr.evs); i++ {
			if pred(pr.evs[i]) {
				ev := pr.evs[i]
				// consume it: move it out so it is not matched again
				pr.evs = append(pr.evs[:i:i], pr.evs[i+1:]...)
				return ev
			}
		}
		if pr.done || time.Now().After(deadline) {
			return PeerEvent{}
		}
		pr.cond.Wait()
	}
}

// Must is Next that fails the test on timeout.
func (pr *Peer) Must(timeout time.Duration, what string, pred func(PeerEvent) bool) PeerEvent {
	pr.t.Helper()
	ev := pr.Next(timeout, pred)
	if ev.Ev == "" {
		pr.mu.Lock()
		var sb strings.Builder
		for _, e := range pr.evs {
			b, _ := json.Marshal(e)
			sb.Write(b)
			sb.WriteByte('\n')
		}
		errs := pr.stderr.String()
		pr.mu.Unlock()
		pr.t.Fatalf("slixmpp peer %s: no %s within %s; unconsumed events:\n%s\nstderr: %s", pr.JID, what, timeout, sb.String(), errs)
	}
	if ev.Ev == "error" {
		pr.t.Fatalf("slixmpp peer %s: %s", pr.JID, ev.Error)
	}
	return ev
}

// Message waits for a message whose body is body.
func (pr *Peer) Message(timeout time.Duration, body string) PeerEvent {
	pr.t.Helper()
	return pr.Must(timeout, "message "+body, func(e PeerEvent) bool { return e.Ev == "message" && e.Body == body })
}

// Received lists the messages with a body that Next did not consume, in
// the order they arrived.
func (pr *Peer) Received() []PeerEvent {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var out []PeerEvent
	for _, e := range pr.evs {
		if e.Ev == "message" && e.Body != "" {
			out = append(out, e)
		}
	}
	return out
}

// Count asks the peer how many messages with a body it received.
func (pr *Peer) Count() int {
	pr.t.Helper()
	pr.Do(map[string]any{"op": "count"})
	return pr.Must(10*time.Second, "count", func(e PeerEvent) bool { return e.Ev == "count" }).N
}

// Close ends the peer (quit, then kill after 3 s).
func (pr *Peer) Close() {
	pr.mu.Lock()
	done := pr.done
	pr.mu.Unlock()
	if done {
		return
	}
	pr.in.Close()
	exited := make(chan struct{})
	go func() {
		pr.mu.Lock()
		for !pr.done {
			pr.cond.Wait()
		}
		pr.mu.Unlock()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		_ = pr.cmd.Process.Kill()
		<-exited
	}
}
