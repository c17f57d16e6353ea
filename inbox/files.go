package inbox

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"polyglot/protocols"
)

// A file is a message: it follows the same route plan, the outbox stores
// it (path, size, hash) with its client ID before any network sees it, and
// a retry re-reads and re-checks it, so it is sent whole or not at all.

// ErrUnreadableFile is wrapped when the file to send cannot be read.
var ErrUnreadableFile = errors.New("cannot read the file")

// FileInfo is what the user is shown before a file goes, and what the
// outbox records.
type FileInfo struct {
	Path   string // absolute
	Name   string // base name
	MIME   string // sniffed from the content, else from the extension
	Size   int64
	SHA256 string // hex
}

// InspectFile reads the file at path (a regular file, followed through
// symlinks), hashes it and sniffs its type.
func InspectFile(path string) (FileInfo, error) {
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, path[2:])
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w: %v", path, ErrUnreadableFile, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w: %v", path, ErrUnreadableFile, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w: %v", path, ErrUnreadableFile, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return FileInfo{}, fmt.Errorf("%s: %w: not a regular file", path, ErrUnreadableFile)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return FileInfo{}, fmt.Errorf("%s: %w: %v", path, ErrUnreadableFile, unwrapPath(err))
	}
	h := sha256.New()
	h.Write(head[:n])
	m, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w: %v", path, ErrUnreadableFile, unwrapPath(err))
	}
	return FileInfo{Path: abs, Name: filepath.Base(abs), MIME: sniffMIME(head[:n], abs), Size: int64(n) + m,
		SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sniffMIME trusts the content first; a generic answer is refined by the
// extension (an .mp3 or .docx sniffs as octet-stream or zip).
func sniffMIME(head []byte, name string) string {
	t := http.DetectContentType(head)
	generic := t == "application/octet-stream" || t == "application/zip" || strings.HasPrefix(t, "text/plain")
	if byExt := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); generic && byExt != "" {
		t = byExt
	}
	if i := strings.IndexByte(t, ';'); i >= 0 && !strings.HasPrefix(t, "text/") {
		t = t[:i]
	}
	return t
}

// fileRoutes keeps the routes that can carry a file: a live connector must
// be an Uploader; an account without a live connector stays (the file
// queues like a text would).
func (in *Inbox) fileRoutes(rs []Route) []Route {
	out := rs[:0:0]
	for _, r := range rs {
		c, _ := in.connector(r.Account)
		if c == nil {
			out = append(out, r)
			continue
		}
		if _, ok := c.(protocols.Uploader); ok {
			out = append(out, r)
		}
	}
	return out
}

// fileEncryption is the class a file gets on route r: never more than the
// text's class, less where the network cannot encrypt the upload.
func (in *Inbox) fileEncryption(r Route) protocols.Encryption {
	c, _ := in.connector(r.Account)
	up, ok := c.(protocols.Uploader)
	if !ok {
		return r.Encryption
	}
	return min(r.Encryption, up.FileEncryption(r.To))
}

// fileClass applies the plan's downgrade rule to a file: an upload the
// server could read where the text on the same route would not be is
// weaker than the best the user has, and needs the same OK.
func (p *RoutePlan) fileClass(fe protocols.Encryption, allowed bool) (downgraded bool) {
	if fe >= p.Route.Encryption {
		return false
	}
	text := p.Route
	p.Route.Encryption = fe
	if !p.Downgrade {
		p.Best = text
	}
	p.Downgrade = true
	if !allowed {
		p.NeedsOK = true
	}
	return true
}

// fileLine explains a file downgrade on the route line.
func (p *RoutePlan) fileLine() string {
	r := p.Route
	if p.NeedsOK {
		return fmt.Sprintf("the file would go %s via %s, readable by the server (%s offers %s) — needs your OK",
			r.Encryption.Label(), NetworkName(r.Network), NetworkName(p.Best.Network), p.Best.Encryption.Label())
	}
	return fmt.Sprintf("the file goes %s via %s (%s offers %s) — allowed", r.Encryption.Label(), NetworkName(r.Network),
		NetworkName(p.Best.Network), p.Best.Encryption.Label())
}

// UploadProgress is a file going up now.
type UploadProgress struct {
	Message      MessageID
	Conversation ConversationID
	Name         string
	Done, Total  int64
}

// uploads tracks the files going up now, for the status bar.
type uploads struct {
	mu sync.Mutex
	m  map[MessageID]UploadProgress
}

// Uploads lists the files going up now.
func (in *Inbox) Uploads() []UploadProgress {
	in.ups.mu.Lock()
	defer in.ups.mu.Unlock()
	out := make([]UploadProgress, 0, len(in.ups.m))
	for _, u := range in.ups.m {
		out = append(out, u)
	}
	return out
}

// progress returns the Progress callback of one upload; it publishes a
// change at most once per percent, so the status bar follows cheaply.
func (in *Inbox) progress(id MessageID, conv ConversationID, name string) (func(done, total int64), func()) {
	last := int64(-1)
	f := func(done, total int64) {
		pct := int64(100)
		if total > 0 {
			pct = done * 100 / total
		}
		in.ups.mu.Lock()
		if in.ups.m == nil {
			in.ups.m = map[MessageID]UploadProgress{}
		}
		in.ups.m[id] = UploadProgress{Message: id, Conversation: conv, Name: name, Done: done, Total: total}
		in.ups.mu.Unlock()
		if pct != last {
			last = pct
			in.publish(Change{Kind: ChangeMessages, Conversation: conv})
		}
	}
	done := func() {
		in.ups.mu.Lock()
		delete(in.ups.m, id)
		in.ups.mu.Unlock()
	}
	return f, done
}

// checkLimit refuses a file over the server's limit before anything is
// stored, when the route's account is online to say what the limit is.
func (in *Inbox) checkLimit(ctx context.Context, r Route, size int64) error {
	c, online := in.connector(r.Account)
	up, ok := c.(protocols.Uploader)
	if !ok || !online {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, in.opts.SendTimeout)
	defer cancel()
	limit, err := up.UploadLimit(lctx)
	if err != nil {
		in.log.Warn().Err(err).Str("account", r.Account).Msg("upload limit unknown")
		return nil // the connector checks again before it uploads
	}
	if limit > 0 && size > limit {
		return &protocols.TooLargeError{Network: r.Network, Size: size, Limit: limit}
	}
	return nil
}

// outgoingFile is the file stored with message id (nil: a text).
func (in *Inbox) outgoingFile(id MessageID) (*protocols.OutgoingFile, error) {
	var f protocols.OutgoingFile
	err := in.db.QueryRow(`SELECT path, name, mime, size, sha256 FROM outgoing_files WHERE message_id = ?`, id).
		Scan(&f.Path, &f.Name, &f.MIME, &f.Size, &f.SHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// uploadTimeout allows a slow link (64 KiB/s) plus a minute.
func uploadTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/(64<<10))*time.Second
}
