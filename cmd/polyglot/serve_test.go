package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveProc is a `polyglot serve` running in the background.
type serveProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited, with err set
	err  error
}

// wait returns how the process ended.
func (s *serveProc) wait() error { <-s.done; return s.err }

// startServe starts `polyglot serve` for p and waits until it says it
// serves.
func startServe(t *testing.T, p *profile) *serveProc {
	t.Helper()
	cmd := exec.Command(binPath, "serve")
	cmd.Env = p.env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "polyglot core serving") {
				ready <- sc.Text()
			}
		}
	}()
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	})
	select {
	case line := <-ready:
		t.Logf("serve: %s", line)
	case <-s.done:
		t.Fatalf("serve exited before serving: %v\n%s", s.err, stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("serve did not start\n%s", stderr.String())
	}
	return s
}

// TestSendGoesThroughTheRunningCore: with `polyglot serve` running, sends
// from another process go through its connected account (no passphrase,
// no second Matrix device), the peer decrypts each; a second core is
// refused; a core killed with SIGKILL leaves nothing fatal behind.
func TestSendGoesThroughTheRunningCore(t *testing.T) {
	x := startNioDM(t, "before the core")
	srv := startServe(t, x.p)

	// No keystore is opened by the sender: a passphrase file that does
	// not exist would fail a send that ran on its own.
	away := *x.p
	away.extraEnv = append(append([]string(nil), x.p.extraEnv...), "POLYGLOT_PASSPHRASE_FILE="+filepath.Join(x.p.root, "no-such-file"))
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("through the core %d", i)
		start := time.Now()
		out, stderr, code := away.run("", "send", "--to", x.bob, body)
		if code != 0 || !strings.Contains(out, "sent via Matrix (E2EE") {
			t.Fatalf("send %d through the core: exit %d: %s%s", i, code, out, stderr)
		}
		t.Logf("send %d through the core took %s", i, time.Since(start).Round(time.Millisecond))
		got, err := x.nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "message" && ev["body"] == body })
		if err != nil || got["encrypted"] != true {
			t.Fatalf("nio did not decrypt %q: %v %v", body, got, err)
		}
	}
	if devs := x.d.Devices(t, "@alice:localhost", "alice-pw-3d9"); len(devs) != 1 {
		t.Fatalf("alice has %d devices on the server, want the one the core uses: %v", len(devs), devs)
	}
	if !strings.Contains(x.p.logTail(400), "running a forwarded command") {
		t.Fatal("the core's log does not show the forwarded sends")
	}

	// One owner: a second core and a standalone TUI start are refused.
	_, stderr, code := x.p.run("", "serve")
	if code != exitBusy || !strings.Contains(stderr, fmt.Sprintf("pid %d", srv.cmd.Process.Pid)) {
		t.Fatalf("a second serve: exit %d: %s", code, stderr)
	}

	// SIGKILL: the socket file stays; the next send runs on its own and
	// the next core takes over.
	_ = srv.cmd.Process.Signal(syscall.SIGKILL)
	_ = srv.wait()
	sock := filepath.Join(x.p.root, "run", "polyglot", "core.sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the killed core left no socket (%v): the test proves nothing", err)
	}
	if out, stderr, code := x.p.run("", "send", "--timeout", "60s", "--to", x.bob, "after the crash"); code != 0 {
		t.Fatalf("send after the core was killed: exit %d: %s%s", code, out, stderr)
	}
	srv = startServe(t, x.p)
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	var ee *exec.ExitError
	if err := srv.wait(); err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 0) {
		t.Fatalf("serve stopped by SIGTERM: %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("serve left its socket after SIGTERM: %v", err)
	}
}
