package xmpp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"polyglot/internal/download"
	"polyglot/protocols"
)

var _ protocols.Downloader = (*Connector)(nil)

// maxDownload caps what a download reads (a hostile server can send more).
const maxDownload = 200 << 20

// fileOf reads a file out of a message: an OOB URL whose body is that URL
// (or empty), or, inside OMEMO, a body that is one aesgcm:// URL (what
// Conversations sends). The URL leaves the body; a body with more than
// the URL keeps its text. Only https and (encrypted) aesgcm URLs count.
func fileOf(body string, oob []OOB, e2ee bool) (string, []protocols.Attachment) {
	trimmed := strings.TrimSpace(body)
	if e2ee && strings.HasPrefix(trimmed, "aesgcm://") && !strings.ContainsAny(trimmed, " \n\t") {
		if a, ok := attachmentOf(trimmed); ok {
			return "", []protocols.Attachment{a}
		}
	}
	for _, o := range oob {
		u := strings.TrimSpace(o.URL)
		if !strings.HasPrefix(u, "https://") {
			continue
		}
		a, ok := attachmentOf(u)
		if !ok {
			continue
		}
		if trimmed == u {
			body = ""
		}
		return body, []protocols.Attachment{a}
	}
	return body, nil
}

// attachmentOf describes the file at u: its name (from the path) and the
// type its extension says; the size is unknown until it is fetched.
func attachmentOf(u string) (protocols.Attachment, bool) {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "aesgcm") {
		return protocols.Attachment{}, false
	}
	name := path.Base(pu.Path)
	if name == "/" || name == "." || name == "" {
		name = "file"
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return protocols.Attachment{Name: name, URL: u, MIME: mime.TypeByExtension(strings.ToLower(path.Ext(name)))}, true
}

// attachmentFor is what the sender keeps of a file it sent.
func attachmentFor(u, name, mimeType string, size int64) protocols.Attachment {
	a, _ := attachmentOf(u)
	a.Name, a.MIME, a.Size = name, mimeType, size
	return a
}

// Download fetches an attachment over HTTPS (a size cap, the account's
// trust roots); an aesgcm:// URL is fetched over https and decrypted
// with the IV and key from its fragment, the GCM tag checked.
func (c *Connector) Download(ctx context.Context, att protocols.Attachment, dir string) (string, error) {
	u, err := url.Parse(att.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "aesgcm") || u.Host == "" {
		return "", fmt.Errorf("xmpp: attachment URL is not https or aesgcm: %q", att.URL)
	}
	var key, iv []byte
	if u.Scheme == "aesgcm" {
		frag, err := hex.DecodeString(u.Fragment)
		if err != nil || (len(frag) != 12+32 && len(frag) != 16+32) {
			return "", fmt.Errorf("xmpp: aesgcm URL without a valid key")
		}
		iv, key = frag[:len(frag)-32], frag[len(frag)-32:]
		u.Scheme, u.Fragment = "https", ""
	}
	u.Fragment = ""
	hc, err := c.httpClient()
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("xmpp: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("xmpp: download: the server answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return "", fmt.Errorf("xmpp: download: %w", err)
	}
	if len(data) > maxDownload {
		return "", fmt.Errorf("xmpp: attachment larger than %d MiB", maxDownload>>20)
	}
	if key != nil {
		blk, _ := aes.NewCipher(key)
		gcm, err := cipher.NewGCMWithNonceSize(blk, len(iv))
		if err != nil {
			return "", err
		}
		if data, err = gcm.Open(data[:0], iv, data, nil); err != nil {
			return "", fmt.Errorf("xmpp: the file does not decrypt with its key (altered on the server?)")
		}
	}
	name := att.Name
	if name == "" {
		name = path.Base(u.Path)
	}
	return download.Save(dir, name, data)
}
