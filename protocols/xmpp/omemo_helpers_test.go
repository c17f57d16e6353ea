package xmpp

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

var omemoTestKey = bytes.Repeat([]byte{0x42}, 32)

// omemoClient connects user with OMEMO on, its store in dir (a device of
// its own: one dir per device), bound to resource res.
func omemoClient(t *testing.T, p *testserver.Prosody, user, pass, dir, res string) *Connector {
	t.Helper()
	return newClient(t, p, user, pass, func(c *Config) {
		c.DataDir, c.OMEMOKey, c.Resource = dir, omemoTestKey, res
	})
}

func xmppAddr(id string) protocols.Address { return protocols.Address{Network: protocols.XMPP, ID: id} }

// inbox collects a connector's message events as the test reads them.
type inbox struct {
	t    *testing.T
	c    *Connector
	msgs []protocols.Message
	keys []protocols.KeyChangeEvent
}

func newInbox(t *testing.T, c *Connector) *inbox { return &inbox{t: t, c: c} }

// until reads events until pred holds for what was collected (60 s: a
// deadline a loaded machine never hits).
func (in *inbox) until(what string, pred func([]protocols.Message) bool) {
	in.t.Helper()
	deadline := time.After(60 * time.Second)
	for !pred(in.msgs) {
		select {
		case ev := <-in.c.Events():
			stored(ev)
			switch e := ev.(type) {
			case protocols.MessageEvent:
				in.msgs = append(in.msgs, e.Message)
			case protocols.KeyChangeEvent:
				in.keys = append(in.keys, e)
			}
		case <-deadline:
			in.t.Fatalf("%s: not within 60 s; messages so far: %s", what, dump(in.msgs))
		}
	}
}

// body waits for a message with body b and returns it.
func (in *inbox) body(b string) protocols.Message {
	in.t.Helper()
	in.until("message "+b, func(ms []protocols.Message) bool { return find(ms, b) != nil })
	return *find(in.msgs, b)
}

func find(ms []protocols.Message, b string) *protocols.Message {
	for i := range ms {
		if ms[i].Body == b {
			return &ms[i]
		}
	}
	return nil
}

func count(ms []protocols.Message, b string) int {
	n := 0
	for _, m := range ms {
		if m.Body == b {
			n++
		}
	}
	return n
}

func dump(ms []protocols.Message) string {
	var sb strings.Builder
	for _, m := range ms {
		sb.WriteString("\n  [" + m.Encryption.String() + "] " + m.Sender.ID + ": " + m.Body)
		if m.Notice != "" {
			sb.WriteString(" (notice: " + m.Notice + ")")
		}
	}
	return sb.String()
}

// undecryptable lists the notices of messages that could not be decrypted.
func undecryptable(ms []protocols.Message) []string {
	var out []string
	for _, m := range ms {
		if m.Undecryptable {
			out = append(out, m.Notice)
		}
	}
	return out
}

// grepDir reports the files under dir that contain s.
func grepDir(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(s)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}
