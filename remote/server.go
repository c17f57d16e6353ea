package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/rs/zerolog"
)

// Runner runs a command line inside the core and returns its exit code.
type Runner func(ctx context.Context, req Run, stdout, stderr io.Writer) int

// Server is the core's end of the socket: it owns the data dir's lock for
// as long as it lives.
type Server struct {
	// Name says who serves, in the Welcome (e.g. "polyglot 0.1.0 serve").
	Name string
	// Run serves Run requests; nil refuses them.
	Run Runner
	// Attach serves a screen on the connection until it ends; nil
	// refuses screens.
	Attach func(net.Conn)
	Log    zerolog.Logger

	dataDir string
	path    string
	lock    *Lock
	l       net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
	closed  bool
}

// Listen takes dataDir's lock and opens the socket at path (see
// SocketPath). ErrLocked says another process owns the data dir.
func Listen(dataDir, path string) (*Server, error) {
	lock, err := TryLock(dataDir)
	if err != nil {
		return nil, err
	}
	l, err := listen(path)
	if err != nil {
		lock.Release()
		return nil, err
	}
	return &Server{dataDir: dataDir, path: path, lock: lock, l: l, conns: map[net.Conn]bool{}}, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Serve answers connections until Close.
func (s *Server) Serve(ctx context.Context) error {
	for {
		c, err := s.l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops listening, ends every connection (their commands are
// cancelled), removes the socket and releases the lock.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	_ = s.l.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	_ = os.Remove(s.path)
	s.lock.Release()
}

// conn is one client: frames out are written whole, one at a time.
type conn struct {
	c   net.Conn
	mu  sync.Mutex
	enc *json.Encoder
}

func (c *conn) send(f Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc.Encode(f)
}

// maxFrame bounds one line: a command line, or a chunk of its output.
const maxFrame = 1 << 20

func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxFrame)
	return sc
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	c := &conn{c: nc, enc: json.NewEncoder(nc)}
	sc := newScanner(nc)
	var hello Frame
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &hello) != nil || hello.Hello == nil {
		_ = c.send(Frame{Refused: "this is a Polyglot core socket: it expected a hello"})
		return
	}
	h := hello.Hello
	if h.Version != Version {
		_ = c.send(Frame{Refused: fmt.Sprintf("this Polyglot core (pid %d) speaks protocol %d, %s speaks %d: use the same Polyglot version for both, or stop the core and start it again",
			os.Getpid(), Version, clientName(h), h.Version)})
		s.Log.Warn().Int("client_version", h.Version).Str("client", h.Client).Msg("refused a client of another protocol version")
		return
	}
	if h.DataDir != "" && h.DataDir != s.dataDir {
		_ = c.send(Frame{Refused: fmt.Sprintf("this Polyglot core serves %s, not %s: give each data dir its own XDG_RUNTIME_DIR", s.dataDir, h.DataDir)})
		return
	}
	if err := c.send(Frame{Welcome: &Welcome{Version: Version, PID: os.Getpid(), Server: s.Name}}); err != nil {
		return
	}
	s.Log.Debug().Str("client", h.Client).Msg("client attached")

	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	var mu sync.Mutex
	running := map[uint64]context.CancelFunc{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for sc.Scan() {
		var f Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			s.Log.Warn().Err(err).Msg("dropped a malformed frame")
			continue
		}
		switch {
		case f.Attach:
			if s.Attach == nil {
				_ = c.send(Frame{ID: f.ID, Refused: "this Polyglot core serves no screens"})
				return
			}
			// Nothing was read past the frame: the client waits for this
			// answer before it speaks SSH.
			if err := c.send(Frame{ID: f.ID, Attached: true}); err != nil {
				return
			}
			s.Log.Debug().Str("client", h.Client).Msg("screen attached")
			s.Attach(nc)
			return
		case f.Cancel:
			mu.Lock()
			if cancel := running[f.ID]; cancel != nil {
				cancel()
			}
			mu.Unlock()
		case f.Run != nil:
			rctx, cancel := context.WithCancel(ctx)
			mu.Lock()
			running[f.ID] = cancel
			mu.Unlock()
			wg.Add(1)
			go func(id uint64, req Run) {
				defer wg.Done()
				code := s.run(rctx, c, id, req)
				mu.Lock()
				delete(running, id)
				mu.Unlock()
				cancel()
				_ = c.send(Frame{ID: id, Exit: &code})
			}(f.ID, *f.Run)
		}
	}
	// The client went away: whatever it asked for is cancelled.
}

func (s *Server) run(ctx context.Context, c *conn, id uint64, req Run) int {
	if s.Run == nil {
		_ = c.send(Frame{ID: id, Stderr: "polyglot: this core runs no commands\n"})
		return 1
	}
	return s.Run(ctx, req, &frameWriter{c: c, id: id}, &frameWriter{c: c, id: id, stderr: true})
}

func clientName(h *Hello) string {
	if h.Client != "" {
		return h.Client
	}
	return "the client"
}

// frameWriter turns a command's output into frames of request id.
type frameWriter struct {
	c      *conn
	id     uint64
	stderr bool
}

func (w *frameWriter) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(len(rest), maxFrame/2)
		f := Frame{ID: w.id, Stdout: string(rest[:n])}
		if w.stderr {
			f = Frame{ID: w.id, Stderr: string(rest[:n])}
		}
		if err := w.c.send(f); err != nil {
			return len(p) - len(rest), err
		}
		rest = rest[n:]
	}
	return len(p), nil
}
