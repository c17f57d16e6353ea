package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// ErrNoCore: no core listens on the socket.
var ErrNoCore = errors.New("no Polyglot core is running")

// RefusedError is the core's sentence when it will not serve a client.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Client is a connection to a running core.
type Client struct {
	Welcome Welcome
	c       net.Conn
	sc      *bufio.Scanner
	enc     *json.Encoder
	next    atomic.Uint64
}

// Dial connects to the core at path and says hello. ErrNoCore: nothing
// listens there (no file, or a file left by a crashed core).
func Dial(ctx context.Context, path string, h Hello) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrNoCore, path)
	}
	h.Version = Version
	c := &Client{c: nc, sc: newScanner(nc), enc: json.NewEncoder(nc)}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	} else {
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if err := c.enc.Encode(Frame{Hello: &h}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoCore, err)
	}
	f, err := c.read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("the Polyglot core at %s did not answer: %w", path, err)
	}
	_ = nc.SetDeadline(time.Time{})
	switch {
	case f.Refused != "":
		nc.Close()
		return nil, &RefusedError{f.Refused}
	case f.Welcome == nil:
		nc.Close()
		return nil, fmt.Errorf("the Polyglot core at %s answered something else than a welcome", path)
	}
	c.Welcome = *f.Welcome
	return c, nil
}

func (c *Client) read() (Frame, error) {
	if !c.sc.Scan() {
		if err := c.sc.Err(); err != nil {
			return Frame{}, err
		}
		return Frame{}, io.EOF
	}
	var f Frame
	err := json.Unmarshal(c.sc.Bytes(), &f)
	return f, err
}

// Attach turns the connection into a screen's: once the core says so, the
// returned connection carries SSH to the core's screen server. The Client
// is not used after it.
func (c *Client) Attach() (net.Conn, error) {
	id := c.next.Add(1)
	if err := c.enc.Encode(Frame{ID: id, Attach: true}); err != nil {
		return nil, err
	}
	// Read the answer a byte at a time: whatever follows it is SSH, and
	// must not be swallowed by a buffer.
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c.c, b); err != nil {
			return nil, fmt.Errorf("the Polyglot core went away: %w", err)
		}
		if b[0] == '\n' {
			break
		}
		if line = append(line, b[0]); len(line) > maxFrame {
			return nil, errors.New("the Polyglot core answered an attach with garbage")
		}
	}
	var f Frame
	if err := json.Unmarshal(line, &f); err != nil {
		return nil, err
	}
	if !f.Attached {
		if f.Refused != "" {
			return nil, &RefusedError{f.Refused}
		}
		return nil, errors.New("the Polyglot core did not attach a screen")
	}
	return c.c, nil
}

// Close ends the connection (and with it anything still running for it).
func (c *Client) Close() error { return c.c.Close() }

// Run runs a command line in the core, copying its output as it comes,
// and returns its exit code. Cancelling ctx cancels the command in the
// core. One Run at a time per Client.
func (c *Client) Run(ctx context.Context, req Run, stdout, stderr io.Writer) (int, error) {
	id := c.next.Add(1)
	if err := c.enc.Encode(Frame{ID: id, Run: &req}); err != nil {
		// The core died between the dial and this write (a SIGKILL):
		// the same words as when it dies while the command runs.
		return 0, fmt.Errorf("the Polyglot core went away: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.enc.Encode(Frame{ID: id, Cancel: true}) })
	defer stop()
	for {
		f, err := c.read()
		if err != nil {
			return 0, fmt.Errorf("the Polyglot core went away: %w", err)
		}
		if f.ID != id {
			continue
		}
		switch {
		case f.Exit != nil:
			return *f.Exit, nil
		case f.Stdout != "":
			_, _ = io.WriteString(stdout, f.Stdout)
		case f.Stderr != "":
			_, _ = io.WriteString(stderr, f.Stderr)
		}
	}
}
