package protocols

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// OutgoingFile is a file the outbox hands a connector with a message. The
// outbox recorded its size and hash when the user sent it; the connector
// reads it with ReadOutgoing, which refuses a file that changed since, so
// a retry never sends a different or half-written file.
type OutgoingFile struct {
	Path   string
	Name   string // the name the peer sees (base name, sanitized by the sender's UI)
	MIME   string
	Size   int64
	SHA256 string // hex
	// Progress, when set, is told how many bytes went up so far.
	Progress func(done, total int64)
}

// Uploader is implemented by connectors that can send files.
type Uploader interface {
	// FileEncryption is the class a file sent to peer would travel with
	// now (cached state, never blocks): where the network cannot encrypt
	// uploads it is weaker than PeerEncryption, and the route plan treats
	// that as a downgrade.
	FileEncryption(peer Address) Encryption
	// UploadLimit is the server's largest accepted upload in bytes (0: no
	// known limit). Asked before a file is stored or uploaded.
	UploadLimit(ctx context.Context) (int64, error)
}

// ErrTooLarge is wrapped by *TooLargeError.
var ErrTooLarge = errors.New("file too large")

// TooLargeError refuses a file larger than the server accepts.
type TooLargeError struct {
	Network Network
	Size    int64
	Limit   int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("file too large: %s is over the %s server's limit of %s", HumanSize(e.Size), e.Network, HumanSize(e.Limit))
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// HumanSize writes a byte count the way people read it (1.5 MiB).
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + string("KMGTP"[exp]) + "iB"
}

// ErrFileChanged: the file is not the one the user sent (edited, truncated
// or gone since); it is not sent at all.
var ErrFileChanged = errors.New("file changed since it was queued")

// ReadOutgoing reads the whole file and checks it is the one recorded:
// same size, same SHA-256. A file is sent whole or not at all.
func ReadOutgoing(f OutgoingFile) ([]byte, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFileChanged, err)
	}
	defer fh.Close()
	var buf bytes.Buffer
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(fh, f.Size+1)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFileChanged, err)
	}
	if int64(buf.Len()) != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return nil, fmt.Errorf("%s: %w", f.Name, ErrFileChanged)
	}
	return buf.Bytes(), nil
}

// ProgressReader reports bytes read through r to f.Progress.
func (f OutgoingFile) ProgressReader(r io.Reader) io.Reader {
	if f.Progress == nil {
		return r
	}
	return &progressReader{r: r, f: f.Progress, total: f.Size}
}

type progressReader struct {
	r     io.Reader
	f     func(done, total int64)
	done  int64
	total int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if n > 0 {
		p.f(p.done, p.total)
	}
	return n, err
}
