package xtermtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startXvfb starts a private headless X server: unix sockets only
// (-nolisten tcp), a fresh MIT-MAGIC-COOKIE-1 in dir so only this test's
// clients can connect, and a display number the server picks itself
// (-displayfd writes it once the server accepts connections, so no
// guessing, no lock-file race, no wait for readiness). It returns the
// display (":N") and the Xauthority file for clients; the server is
// stopped when the test ends.
func startXvfb(t testing.TB, dir string) (display, xauth string) {
	t.Helper()
	xauth = filepath.Join(dir, "Xauthority")
	if err := writeXauthority(xauth); err != nil {
		t.Fatalf("write Xauthority: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	defer r.Close()
	logf, err := os.Create(filepath.Join(dir, "Xvfb.log"))
	if err != nil {
		t.Fatalf("create Xvfb log: %v", err)
	}
	defer logf.Close()
	// ExtraFiles[0] is fd 3 in the child.
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-auth", xauth,
		"-screen", "0", "1024x768x24", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatalf("start Xvfb: %v", err)
	}
	w.Close()
	done := waitLater(cmd)
	t.Cleanup(func() { stop(cmd, done) })

	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("Xvfb exited before it was ready:\n%s", log)
		}
		return ":" + n, xauth
	case <-time.After(60 * time.Second):
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("Xvfb did not report a display within 60 s:\n%s", log)
	}
	return "", ""
}

// writeXauthority writes one FamilyWild entry with an empty display
// number, which Xlib matches for any display: the number is not known
// before the server starts. Format (Xau): big-endian uint16 family, then
// four uint16-length-prefixed strings: address, number, name, data.
func writeXauthority(path string) error {
	cookie := make([]byte, 16)
	if _, err := rand.Read(cookie); err != nil {
		return err
	}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint16(0xffff)) // FamilyWild
	for _, s := range [][]byte{nil, nil, []byte("MIT-MAGIC-COOKIE-1"), cookie} {
		_ = binary.Write(&b, binary.BigEndian, uint16(len(s)))
		b.Write(s)
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// stop ends a process group started with Setpgid: SIGTERM (Xvfb removes
// its lock file and socket; xterm hangs up its pty, which ends the
// program inside), SIGKILL if it has not exited after 10 s.
func stop(cmd *exec.Cmd, done <-chan struct{}) {
	select {
	case <-done: // already gone: its group id may be someone else's now
		return
	default:
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// waitLater reaps cmd in the background; the channel closes when it has exited.
func waitLater(cmd *exec.Cmd) <-chan struct{} {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return done
}

// xenv is the environment for X clients of this server.
func xenv(display, xauth string) []string {
	env := []string{"DISPLAY=" + display, "XAUTHORITY=" + xauth}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "XAUTHORITY=") {
			env = append(env, kv)
		}
	}
	return env
}

// xcmd runs an X client (xwininfo, xwd) against the display.
func xcmd(display, xauth string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = xenv(display, xauth)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}
