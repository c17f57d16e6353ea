package tea

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is the terminal: the renderer writes from its own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Polyglot's patch: with nothing new to draw the frame ticker stops (an idle
// program does not wake 60 times a second), and the next write starts it
// again so the new frame is drawn.
func TestRendererStopsTickingWhenIdle(t *testing.T) {
	out := &lockedBuffer{}
	r := newRenderer(out, false, 60).(*standardRenderer)
	r.start()
	defer r.kill()

	paused := func() bool {
		r.mtx.Lock()
		defer r.mtx.Unlock()
		return r.paused
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5 s (output %q)", what, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	r.write("first frame")
	waitFor("first frame drawn", func() bool { return strings.Contains(out.String(), "first frame") })
	waitFor("ticker stopped after the frame", paused)

	r.write("second frame")
	if paused() {
		t.Fatal("a write left the ticker stopped")
	}
	waitFor("second frame drawn", func() bool { return strings.Contains(out.String(), "second frame") })
	waitFor("ticker stopped again", paused)

	// While stopped, nothing is written.
	before := out.String()
	time.Sleep(100 * time.Millisecond)
	if out.String() != before {
		t.Fatalf("an idle renderer wrote %q", strings.TrimPrefix(out.String(), before))
	}
}
