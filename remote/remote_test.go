package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func serve(t *testing.T, dataDir string, run Runner) *Server {
	t.Helper()
	s, err := Listen(dataDir, filepath.Join(t.TempDir(), "core.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s.Name, s.Run = "test core", run
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func TestOneOwnerPerDataDir(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, nil)
	_, err := Listen(dir, filepath.Join(t.TempDir(), "other.sock"))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("a second owner: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	// A core of another data dir must not take this one's socket.
	if _, err := Listen(t.TempDir(), s.Path()); err == nil || !strings.Contains(err.Error(), "another data dir") {
		t.Fatalf("another data dir on the same socket: %v", err)
	}
	if c, err := Dial(context.Background(), s.Path(), Hello{Client: "test", DataDir: dir}); err != nil {
		t.Fatalf("the first core stopped answering: %v", err)
	} else {
		c.Close()
	}
}

// TestCrashLeavesNothingFatal: a core killed with SIGKILL leaves its
// socket file; the lock dies with it; the next core starts.
func TestCrashLeavesNothingFatal(t *testing.T) {
	if os.Getenv("REMOTE_TEST_HOLD") != "" {
		s, err := Listen(os.Getenv("REMOTE_TEST_HOLD"), os.Getenv("REMOTE_TEST_SOCK"))
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("LISTENING", s.Path())
		go s.Serve(context.Background())
		select {}
	}
	dir, sock := t.TempDir(), filepath.Join(t.TempDir(), "core.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesNothingFatal$")
	cmd.Env = append(os.Environ(), "REMOTE_TEST_HOLD="+dir, "REMOTE_TEST_SOCK="+sock)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 256)
	n, _ := out.Read(line)
	if !strings.HasPrefix(string(line[:n]), "LISTENING") {
		t.Fatalf("child: %q", line[:n])
	}
	if _, err := Listen(dir, sock); !errors.Is(err, ErrLocked) {
		t.Fatalf("while the child lives: %v, want ErrLocked", err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the killed core's socket is gone (%v): the test proves nothing", err)
	}
	if _, err := Dial(context.Background(), sock, Hello{}); !errors.Is(err, ErrNoCore) {
		t.Fatalf("dial a stale socket: %v, want ErrNoCore", err)
	}
	s := serve(t, dir, nil)
	if c, err := Dial(context.Background(), s.Path(), Hello{DataDir: dir}); err != nil {
		t.Fatalf("the next core does not answer: %v", err)
	} else {
		c.Close()
	}
}

func TestOtherVersionIsRefusedWithASentence(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, func(context.Context, Run, io.Writer, io.Writer) int { return 0 })
	nc, err := net.Dial("unix", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = json.NewEncoder(nc).Encode(Frame{Hello: &Hello{Version: Version + 1, Client: "polyglot 9.9 send", DataDir: dir}})
	var f Frame
	if err := json.NewDecoder(nc).Decode(&f); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("speaks protocol %d, polyglot 9.9 send speaks %d", Version, Version+1)
	if f.Welcome != nil || !strings.Contains(f.Refused, want) {
		t.Fatalf("answer to another version: %+v, want a refusal saying %q", f, want)
	}
	// And the connection is closed: nothing runs.
	_ = json.NewEncoder(nc).Encode(Frame{ID: 1, Run: &Run{Args: []string{"send"}}})
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("the core kept talking to a client it refused")
	}

	if _, err := Dial(context.Background(), s.Path(), Hello{DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "serves "+dir) {
		t.Fatalf("a client of another data dir: %v", err)
	}
}

func TestRunForwardsOutputExitCodeAndCancel(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{})
	s := serve(t, dir, func(ctx context.Context, req Run, out, errOut io.Writer) int {
		args := req.Args
		switch args[0] {
		case "secret":
			// The secret arrives byte for byte, beside the arguments.
			fmt.Fprintf(out, "%q %q", args[1:], req.Secrets["password"])
			return 0
		case "echo":
			fmt.Fprintln(out, strings.Join(args[1:], " "))
			fmt.Fprintln(errOut, "to stderr")
			_, _ = out.Write(bytes.Repeat([]byte("x"), maxFrame)) // more than one frame
			return 3
		case "wait":
			close(started)
			<-ctx.Done()
			return 130
		}
		return 1
	})
	c, err := Dial(context.Background(), s.Path(), Hello{Client: "test", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Welcome.PID != os.Getpid() || c.Welcome.Server != "test core" {
		t.Fatalf("welcome %+v", c.Welcome)
	}
	var out, errOut bytes.Buffer
	code, err := c.Run(context.Background(), Run{Args: []string{"echo", "hello", "core"}}, &out, &errOut)
	if err != nil || code != 3 {
		t.Fatalf("run: code %d, err %v", code, err)
	}
	if !strings.HasPrefix(out.String(), "hello core\nxxx") || out.Len() != len("hello core\n")+maxFrame || errOut.String() != "to stderr\n" {
		t.Fatalf("output %d bytes %q…, stderr %q", out.Len(), out.String()[:20], errOut.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	code, err = c.Run(ctx, Run{Args: []string{"wait"}}, &out, &errOut)
	if err != nil || code != 130 {
		t.Fatalf("cancelled run: code %d, err %v", code, err)
	}

	out.Reset()
	pw := []byte("p\x00ss\n\"word\xff")
	code, err = c.Run(context.Background(), Run{Args: []string{"secret", "--to", "x"}, Secrets: map[string][]byte{"password": pw}}, &out, &errOut)
	if want := fmt.Sprintf("%q %q", []string{"--to", "x"}, pw); err != nil || code != 0 || out.String() != want {
		t.Fatalf("run with a secret: code %d, err %v, got %s, want %s", code, err, out.String(), want)
	}
}
