package inbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// actConn is a connector that can edit, react, retract and download; it
// records each call the way a server would see it.
type actConn struct {
	*obConn
	caps protocols.Capabilities

	mu        sync.Mutex
	calls     []string
	downloads int
	// save writes the attachment; the default writes "content of NAME".
	save func(att protocols.Attachment, dir string) (string, error)
}

func newActConn() *actConn {
	return &actConn{obConn: newObConn(protocols.Matrix, protocols.EncE2EE),
		caps: protocols.Capabilities{E2EE: true, Edits: true, Reactions: true, Retractions: true, Attachments: true}}
}

func (c *actConn) Capabilities() protocols.Capabilities { return c.caps }

func (c *actConn) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *actConn) Edit(_ context.Context, chat protocols.ChatID, target protocols.MessageID, clientID protocols.ClientID, body string) (protocols.SendResult, error) {
	c.record("edit " + string(chat) + " " + string(target) + " " + body)
	return protocols.SendResult{NetworkID: protocols.MessageID("$edit-" + clientID), Chat: chat}, nil
}

func (c *actConn) React(_ context.Context, chat protocols.ChatID, target protocols.MessageID, key string, remove bool) error {
	op := "react"
	if remove {
		op = "unreact"
	}
	c.record(op + " " + string(chat) + " " + string(target) + " " + key)
	return nil
}

func (c *actConn) Retract(_ context.Context, chat protocols.ChatID, target protocols.MessageID) error {
	c.record("retract " + string(chat) + " " + string(target))
	return nil
}

func (c *actConn) Download(_ context.Context, att protocols.Attachment, dir string) (string, error) {
	c.mu.Lock()
	c.downloads++
	save := c.save
	c.mu.Unlock()
	if save != nil {
		return save(att, dir)
	}
	p := filepath.Join(dir, att.Name)
	return p, os.WriteFile(p, []byte("content of "+att.Name), 0o600)
}

func (c *actConn) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// actWorld: the user is @me:example.org on the account with the default ID,
// Ann is an accepted contact with a DM room !ann.
type actWorld struct {
	in   *Inbox
	conn *actConn
	conv ConversationID
	dir  string
}

const meAccount = "matrix:@me:example.org"

var (
	me     = protocols.Address{Network: protocols.Matrix, ID: "@me:example.org", Server: "example.org"}
	annAct = protocols.Address{Network: protocols.Matrix, Account: meAccount, ID: "@ann:example.org", Server: "example.org"}
)

func newActWorld(t *testing.T) *actWorld {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "downloads")
	in, err := Open(filepath.Join(t.TempDir(), "i.db"), Options{DownloadDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w := &actWorld{in: in, conn: newActConn(), dir: dir}
	in.Attach(meAccount, w.conn)
	w.ingest(t, protocols.ConnectionEvent{State: protocols.ConnOnline}, protocols.ContactEvent{Contact: annAct, Name: "Ann"})
	w.ingest(t, protocols.MessageEvent{Message: protocols.Message{NetworkID: "$a1", Chat: protocols.Chat{ID: "!ann", Peer: annAct},
		Sender: annAct, Body: "look at this", Sent: time.Now().Add(-time.Minute), Encryption: protocols.EncE2EE,
		Attachments: []protocols.Attachment{{Name: "plan.pdf", Size: 15, URL: "mxc://example.org/plan"}}}})
	cs, err := in.Conversations(Cursor{}, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("conversations = %+v (%v)", cs, err)
	}
	w.conv = cs[0].ID
	return w
}

func (w *actWorld) ingest(t *testing.T, evs ...protocols.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := w.in.Ingest(meAccount, ev); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *actWorld) msg(t *testing.T, id MessageID) Message {
	t.Helper()
	m, err := w.in.Message(id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (w *actWorld) first(t *testing.T) Message {
	t.Helper()
	ms, err := w.in.Messages(w.conv, Cursor{}, 10)
	if err != nil || len(ms) == 0 {
		t.Fatalf("messages: %v %v", ms, err)
	}
	return ms[0]
}

func TestEditReactRetractGoThroughTheAccountAndShowAtOnce(t *testing.T) {
	w := newActWorld(t)
	ctx := context.Background()
	own, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "see you at 5"})
	if err != nil || own.NetworkID == "" {
		t.Fatalf("send: %+v %v", own, err)
	}
	changes, stop := w.in.Subscribe()
	defer stop()

	if err := w.in.Edit(ctx, own.ID, "see you at 6"); err != nil {
		t.Fatal(err)
	}
	if m := w.msg(t, own.ID); m.Body != "see you at 6" || !m.Edited {
		t.Fatalf("after Edit the store shows %q edited=%v", m.Body, m.Edited)
	}
	select {
	case <-changes:
	case <-time.After(time.Second):
		t.Fatal("no change notice after Edit: the view would not update")
	}
	// The network's echo of our edit (sync) changes nothing more.
	w.ingest(t, protocols.EditEvent{Chat: "!ann", TargetID: protocols.MessageID(own.NetworkID), NetworkID: "$echo", From: me, Body: "see you at 6"})
	if ms, _ := w.in.Messages(w.conv, Cursor{}, 10); len(ms) != 2 {
		t.Fatalf("%d messages after the edit echo, want 2", len(ms))
	}

	theirs := w.first(t)
	if err := w.in.React(ctx, theirs.ID, "👍", false); err != nil {
		t.Fatal(err)
	}
	w.ingest(t, protocols.ReactionEvent{Chat: "!ann", TargetID: protocols.MessageID(theirs.NetworkID), Key: "👍", From: me}) // echo
	w.ingest(t, protocols.ReactionEvent{Chat: "!ann", TargetID: protocols.MessageID(theirs.NetworkID), Key: "👍", From: annAct})
	rs := w.msg(t, theirs.ID).Reactions
	if len(rs) != 1 || rs[0].Count != 2 || !rs[0].Mine {
		t.Fatalf("reactions after ours, its echo and Ann's: %+v (want 👍 ×2, mine)", rs)
	}
	if err := w.in.React(ctx, theirs.ID, "👍", true); err != nil {
		t.Fatal(err)
	}
	rs = w.msg(t, theirs.ID).Reactions
	if len(rs) != 1 || rs[0].Count != 1 || rs[0].Mine {
		t.Fatalf("reactions after taking ours back: %+v (want Ann's only)", rs)
	}

	if err := w.in.Retract(ctx, own.ID); err != nil {
		t.Fatal(err)
	}
	if m := w.msg(t, own.ID); !m.Deleted || m.Body != "" {
		t.Fatalf("after Retract the store keeps %q deleted=%v", m.Body, m.Deleted)
	}
	if c, _ := w.in.Conversation(w.conv); c.Preview != DeletedPreview {
		t.Fatalf("preview after delete: %q", c.Preview)
	}
	want := []string{
		"edit !ann " + own.NetworkID + " see you at 6",
		"react !ann $a1 👍",
		"unreact !ann $a1 👍",
		"retract !ann " + own.NetworkID,
	}
	if got := w.conn.seen(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the network saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestActionsRefuseClearly(t *testing.T) {
	w := newActWorld(t)
	ctx := context.Background()
	theirs := w.first(t)
	if err := w.in.Edit(ctx, theirs.ID, "forged"); !errors.Is(err, ErrNotOwn) {
		t.Fatalf("editing Ann's message: %v, want ErrNotOwn", err)
	}
	if err := w.in.Retract(ctx, theirs.ID); !errors.Is(err, ErrNotOwn) {
		t.Fatalf("deleting Ann's message: %v, want ErrNotOwn", err)
	}
	if err := w.in.React(ctx, theirs.ID, "a\x1b[2Jb", false); err == nil {
		t.Fatal("a reaction with an escape sequence was accepted")
	}
	w.conn.caps.Reactions = false
	if err := w.in.React(ctx, theirs.ID, "👍", false); !errors.Is(err, protocols.ErrUnsupported) {
		t.Fatalf("reacting where the network cannot: %v, want ErrUnsupported", err)
	}
	w.conn.caps.Reactions = true
	w.ingest(t, protocols.ConnectionEvent{State: protocols.ConnOffline})
	if err := w.in.React(ctx, theirs.ID, "👍", false); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("reacting while offline: %v, want ErrNotConnected", err)
	}
	// A queued message has no network ID to point at.
	q, err := w.in.Send(ctx, SendRequest{Conversation: w.conv, Body: "later", Queue: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.in.Edit(ctx, q.ID, "sooner"); !errors.Is(err, ErrNotOnNetwork) {
		t.Fatalf("editing a queued message: %v, want ErrNotOnNetwork", err)
	}
	if got := w.conn.seen(); len(got) != 0 {
		t.Fatalf("refused actions reached the network: %v", got)
	}
}

// Nothing goes back to a stranger whose request is not accepted, and their
// attachment is not fetched.
func TestActionsNeverIntoARequest(t *testing.T) {
	w := newActWorld(t)
	ctx := context.Background()
	eve := protocols.Address{Network: protocols.Matrix, Account: meAccount, ID: "@eve:evil.example", Server: "evil.example"}
	w.ingest(t, protocols.MessageEvent{Message: protocols.Message{NetworkID: "$e1", Chat: protocols.Chat{ID: "!eve", Peer: eve},
		Sender: eve, Body: "open me", Sent: time.Now(), Encryption: protocols.EncE2EE,
		Attachments: []protocols.Attachment{{Name: "invoice.pdf", URL: "mxc://evil.example/x"}}}})
	reqs, err := w.in.Requests()
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests: %+v %v", reqs, err)
	}
	ms, err := w.in.Messages(reqs[0].Conversation, Cursor{}, 10)
	if err != nil || len(ms) != 1 {
		t.Fatalf("request messages: %+v %v", ms, err)
	}
	if err := w.in.React(ctx, ms[0].ID, "👍", false); !errors.Is(err, ErrRequestPending) {
		t.Fatalf("reacting in a request: %v, want ErrRequestPending", err)
	}
	if _, err := w.in.Download(ctx, ms[0].ID, 0); !errors.Is(err, ErrRequestPending) {
		t.Fatalf("downloading from a request: %v, want ErrRequestPending", err)
	}
	if got := w.conn.seen(); len(got) != 0 || w.conn.downloads != 0 {
		t.Fatalf("the network saw %v and %d downloads", got, w.conn.downloads)
	}
	if err := w.in.Decide(ctx, reqs[0].Conversation, Accept); err != nil {
		t.Fatal(err)
	}
	if err := w.in.React(ctx, ms[0].ID, "👍", false); err != nil {
		t.Fatalf("reacting after accepting: %v", err)
	}
}

func TestDownloadSavesOnceAndReusesTheFile(t *testing.T) {
	w := newActWorld(t)
	ctx := context.Background()
	m := w.first(t)
	p, err := w.in.Download(ctx, m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p) != w.dir || filepath.Base(p) != "plan.pdf" {
		t.Fatalf("saved at %s, want %s/plan.pdf", p, w.dir)
	}
	if b, _ := os.ReadFile(p); string(b) != "content of plan.pdf" {
		t.Fatalf("file holds %q", b)
	}
	if st, _ := os.Stat(w.dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("download dir mode %v, want 0700", st.Mode().Perm())
	}
	p2, err := w.in.Download(ctx, m.ID, 0)
	if err != nil || p2 != p || w.conn.downloads != 1 {
		t.Fatalf("second open: %s %v, %d downloads; want the same file, one download", p2, err, w.conn.downloads)
	}
	// Removed by the user: fetched again.
	os.Remove(p)
	if p3, err := w.in.Download(ctx, m.ID, 0); err != nil || w.conn.downloads != 2 || p3 != p {
		t.Fatalf("after removal: %s %v, %d downloads", p3, err, w.conn.downloads)
	}
	if _, err := w.in.Download(ctx, m.ID, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("attachment 2 of 1: %v", err)
	}
}

// A connector that breaks its promise (a file outside the directory, or a
// hidden dot file) gets an error, not an opener call.
func TestDownloadRejectsUnsafePaths(t *testing.T) {
	for name, save := range map[string]func(protocols.Attachment, string) (string, error){
		"outside": func(_ protocols.Attachment, dir string) (string, error) {
			p := filepath.Join(filepath.Dir(dir), "escaped")
			return p, os.WriteFile(p, []byte("x"), 0o600)
		},
		"dotfile": func(_ protocols.Attachment, dir string) (string, error) {
			p := filepath.Join(dir, ".bashrc")
			return p, os.WriteFile(p, []byte("x"), 0o600)
		},
		"bidi": func(_ protocols.Attachment, dir string) (string, error) {
			p := filepath.Join(dir, "invoice\u202Efdp.exe")
			return p, os.WriteFile(p, []byte("x"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newActWorld(t)
			w.conn.save = save
			if p, err := w.in.Download(context.Background(), w.first(t).ID, 0); err == nil {
				t.Fatalf("accepted %q", p)
			}
		})
	}
	w := newActWorld(t)
	w.in.opts.DownloadDir = ""
	if _, err := w.in.Download(context.Background(), w.first(t).ID, 0); err == nil {
		t.Fatal("downloaded with no download directory")
	}
}

func TestSafeFileName(t *testing.T) {
	for name, want := range map[string]bool{
		"plan.pdf": true, "Ünïcödé 📎.txt": true, "": false, ".": false, "..": false, ".hidden": false,
		"a/b": false, `a\b`: false, "a\x00b": false, "bell\x07": false, "rlo\u202Etxt.exe": false,
	} {
		if got := SafeFileName(name); got != want {
			t.Errorf("SafeFileName(%q) = %v, want %v", name, got, want)
		}
	}
}
