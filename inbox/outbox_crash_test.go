package inbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// The crash test kills a real process in the middle of sending. The child
// is this test binary re-executed with crashModeEnv set; it runs only
// TestOutboxCrashChild.
const (
	crashModeEnv  = "POLYGLOT_OUTBOX_CRASH_MODE"
	crashStoreEnv = "POLYGLOT_OUTBOX_CRASH_STORE"
	crashLogEnv   = "POLYGLOT_OUTBOX_CRASH_LOG"
	crashConvEnv  = "POLYGLOT_OUTBOX_CRASH_CONV"
)

// netLog is a fake network that keeps, in a file, one line per message it
// accepted: the client ID. Like a Matrix homeserver with transaction IDs it
// can dedupe a resend of a client ID it already has.
type netLog struct {
	path   string
	dedupe bool // parent: a resend of a known client ID is acknowledged, not appended
	// hang, if set, is called after the line is durably written (child: the
	// process is killed there, before the inbox hears the ack).
	hang func()
	// before, if set, is called before anything reaches the network.
	before func(m protocols.OutgoingMessage)
	mu     sync.Mutex
}

func (l *netLog) lines(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func (l *netLog) accept(m protocols.OutgoingMessage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dedupe {
		b, err := os.ReadFile(l.path)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if protocols.ClientID(sc.Text()) == m.ClientID {
				return nil // already delivered once: the peer will not see it again
			}
		}
	}
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(string(m.ClientID + "\n")); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logConn is an obConn whose Send goes to a netLog.
type logConn struct {
	*obConn
	log *netLog
}

func (c logConn) Send(ctx context.Context, m protocols.OutgoingMessage) (protocols.SendResult, error) {
	if c.log.before != nil {
		c.log.before(m)
	}
	if err := c.log.accept(m); err != nil {
		return protocols.SendResult{}, err
	}
	if c.log.hang != nil {
		c.log.hang()
	}
	return protocols.SendResult{NetworkID: protocols.MessageID("net-" + m.ClientID), Encryption: protocols.EncE2EE}, nil
}

// hangForever blocks the child until the parent kills it (bounded, so a
// lost child cannot linger).
func hangForever() { time.Sleep(2 * time.Minute) }

// TestOutboxCrashChild is the child process; it does nothing in a normal run.
func TestOutboxCrashChild(t *testing.T) {
	mode := os.Getenv(crashModeEnv)
	if mode == "" {
		t.Skip("child process of TestOutboxSurvivesKill")
	}
	conv, err := strconv.ParseInt(os.Getenv(crashConvEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Open(os.Getenv(crashStoreEnv), Options{SendTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	nl := &netLog{path: os.Getenv(crashLogEnv)}
	ctx := context.Background()
	switch mode {
	case "after-network":
		// Three messages queued while offline; coming online the outbox
		// sends the first, the network accepts it, and the process dies
		// before the ack is recorded. The other two never reach the network.
		nl.hang = hangForever
		in.Attach("mx", logConn{newObConn(protocols.Matrix, protocols.EncE2EE), nl})
		for i := 1; i <= 3; i++ {
			m, err := in.Send(ctx, SendRequest{Conversation: ConversationID(conv), Body: fmt.Sprintf("crash %d", i)})
			if err != nil || m.State != StateQueued {
				t.Fatalf("queue %d: %v %v", i, m.State, err)
			}
		}
		if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
			t.Fatal(err)
		}
		hangForever()
	case "send-after-network":
		// Online send: the network accepts the message and the process dies
		// inside Send before the ack is recorded.
		nl.hang = hangForever
		in.Attach("mx", logConn{newObConn(protocols.Matrix, protocols.EncE2EE), nl})
		if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
			t.Fatal(err)
		}
		in.Send(ctx, SendRequest{Conversation: ConversationID(conv), Body: "acked by the network only"})
	case "before-network":
		// Online send: the message is committed, then the process dies
		// inside the connector before the network sees anything.
		marker := nl.path + ".attempt"
		nl.before = func(m protocols.OutgoingMessage) {
			os.WriteFile(marker, []byte(m.ClientID+"\n"), 0o600)
			hangForever()
		}
		in.Attach("mx", logConn{newObConn(protocols.Matrix, protocols.EncE2EE), nl})
		if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
			t.Fatal(err)
		}
		in.Send(ctx, SendRequest{Conversation: ConversationID(conv), Body: "never acked"})
	}
	t.Fatal("child was not killed")
}

func TestOutboxSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, tc := range []struct {
		mode      string
		messages  int
		killAfter func(dir string, nl *netLog) bool // when to SIGKILL
	}{
		{"after-network", 3, func(_ string, nl *netLog) bool { return len(nl.lines(t)) == 1 }},
		{"send-after-network", 1, func(_ string, nl *netLog) bool { return len(nl.lines(t)) == 1 }},
		{"before-network", 1, func(_ string, nl *netLog) bool {
			_, err := os.Stat(nl.path + ".attempt")
			return err == nil
		}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			store := filepath.Join(dir, "inbox.db")
			conv, _ := obSeed(t, store)
			nl := &netLog{path: filepath.Join(dir, "network.log"), dedupe: true}

			cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxCrashChild$", "-test.count=1", "-test.timeout=3m")
			cmd.Env = append(os.Environ(), crashModeEnv+"="+tc.mode, crashStoreEnv+"="+store,
				crashLogEnv+"="+nl.path, crashConvEnv+"="+strconv.FormatInt(int64(conv), 10))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			deadline := time.After(30 * time.Second)
			for !tc.killAfter(dir, nl) {
				select {
				case err := <-exited:
					t.Fatalf("child exited before the kill point: %v\n%s", err, out.String())
				case <-deadline:
					cmd.Process.Kill()
					t.Fatalf("child never reached the kill point\n%s", out.String())
				case <-time.After(5 * time.Millisecond):
				}
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
				t.Fatal(err)
			}
			if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("child was not killed: %v\n%s", err, out.String())
			}
			before := len(nl.lines(t))

			// Reopen the same file, as the next start of the program would.
			in, err := Open(store, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			queued := func() []Message {
				ms, err := in.Messages(conv, Cursor{}, 100)
				if err != nil {
					t.Fatal(err)
				}
				var out []Message
				for _, m := range ms {
					if m.Outgoing {
						out = append(out, m)
					}
				}
				return out
			}
			ms := queued()
			if len(ms) != tc.messages {
				t.Fatalf("after the kill the store holds %d outgoing messages, want %d", len(ms), tc.messages)
			}
			for _, m := range ms {
				if m.State != StateQueued {
					t.Fatalf("message %q is %s after the kill, want queued", m.Body, m.State)
				}
			}
			in.Attach("mx", logConn{newObConn(protocols.Matrix, protocols.EncE2EE), nl})
			if err := in.Ingest("mx", protocols.ConnectionEvent{State: protocols.ConnOnline}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "resumed sends", func() bool {
				for _, m := range queued() {
					if m.State != StateSent {
						return false
					}
				}
				return true
			})
			// Each message reached the network exactly once, under the client
			// ID the store gave it before the crash.
			lines := nl.lines(t)
			seen := map[string]int{}
			for _, l := range lines {
				seen[l]++
			}
			for _, m := range queued() {
				if seen[m.ClientID] != 1 {
					t.Fatalf("message %q (client ID %s) reached the network %d times; log %v", m.Body, m.ClientID, seen[m.ClientID], lines)
				}
				if m.NetworkID != "net-"+m.ClientID {
					t.Fatalf("network ID %q not recorded for %q", m.NetworkID, m.Body)
				}
			}
			if len(lines) != tc.messages {
				t.Fatalf("network log has %d lines for %d messages (had %d at the kill)", len(lines), tc.messages, before)
			}
			t.Logf("%s: %d on the network at the kill, %d after resume, each once", tc.mode, before, len(lines))
		})
	}
}
