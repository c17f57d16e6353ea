package testserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SyncProxy is a loopback reverse proxy in front of a real homeserver that
// can withhold to-device events (room keys, key requests) from /sync
// responses and hand them over in a later response: the server stays real,
// only the order in which one client sees keys and messages is changed, as
// on a slow or reordering federation link.
type SyncProxy struct {
	srv *httptest.Server

	mu        sync.Mutex
	holding   bool
	newsOnly  bool // released events wait for a response with a new token
	held      []json.RawMessage
	releases  int    // responses that carried released events
	dropUntil string // drop to-device events until a request path contains this
	dropped   int
}

// StartSyncProxy proxies everything to upstream (a homeserver base URL) and
// stops when the test ends.
func StartSyncProxy(t testing.TB, upstream string) *SyncProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("testserver: sync proxy upstream %q: %v", upstream, err)
	}
	p := &SyncProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		p.sawRequest(r.URL.Path)
		direct(r)
		r.Host = target.Host
		r.Header.Del("Accept-Encoding") // keep bodies plain so they can be rewritten
	}
	rp.ModifyResponse = p.rewrite
	rp.ErrorLog = log.New(io.Discard, "", 0) // a client hanging up mid long-poll is normal
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: sync proxy listen: %v", err)
	}
	p.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: rp}}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the homeserver URL to give the client under test.
func (p *SyncProxy) URL() string { return p.srv.URL }

// Hold starts withholding to-device events from /sync responses.
func (p *SyncProxy) Hold() {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
}

// Release stops withholding; everything held so far is added to the next
// /sync response that reaches the client.
func (p *SyncProxy) Release() {
	p.mu.Lock()
	p.holding, p.newsOnly = false, false
	p.mu.Unlock()
}

// ReleaseWithNews is Release for a client that ignores a /sync response
// whose token did not move (matrix-nio does): the held events wait for a
// response with a new token.
func (p *SyncProxy) ReleaseWithNews() {
	p.mu.Lock()
	p.holding, p.newsOnly = false, true
	p.mu.Unlock()
}

// DropUntil makes the proxy lose to-device events (as a broken server or
// network would) until the client sends a request whose path contains
// marker, e.g. "/sendToDevice/m.room_key_request/": what arrives after that
// request reaches the client again.
func (p *SyncProxy) DropUntil(marker string) {
	p.mu.Lock()
	p.dropUntil = marker
	p.mu.Unlock()
}

// Dropping says whether the proxy still loses to-device events.
func (p *SyncProxy) Dropping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropUntil != ""
}

// Dropped counts the to-device events lost so far.
func (p *SyncProxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

func (p *SyncProxy) sawRequest(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropUntil != "" && strings.Contains(path, p.dropUntil) {
		p.dropUntil = ""
	}
}

// Held is how many to-device events are withheld right now.
func (p *SyncProxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// HeldTypes lists the event types withheld right now.
func (p *SyncProxy) HeldTypes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, raw := range p.held {
		var ev struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &ev)
		out = append(out, ev.Type)
	}
	return out
}

// Releases counts the /sync responses that delivered withheld events.
func (p *SyncProxy) Releases() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.releases
}

// rewrite edits successful /sync responses: while holding it moves their
// to-device events into the store; after Release it appends the stored
// events to the response's own, in the order the server sent them.
func (p *SyncProxy) rewrite(res *http.Response) error {
	if res.StatusCode != http.StatusOK || !strings.HasSuffix(res.Request.URL.Path, "/sync") {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.holding && len(p.held) == 0 && p.dropUntil == "" {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return err
	}
	var sync map[string]json.RawMessage
	if err := json.Unmarshal(body, &sync); err != nil {
		return err
	}
	var toDevice struct {
		Events []json.RawMessage `json:"events"`
	}
	if raw, ok := sync["to_device"]; ok {
		if err := json.Unmarshal(raw, &toDevice); err != nil {
			return err
		}
	}
	var next string
	_ = json.Unmarshal(sync["next_batch"], &next)
	stale := p.newsOnly && next == res.Request.URL.Query().Get("since")
	switch {
	case p.dropUntil != "":
		p.dropped += len(toDevice.Events)
		toDevice.Events = nil
	case p.holding || stale:
		p.held = append(p.held, toDevice.Events...)
		toDevice.Events = nil
	default:
		toDevice.Events = append(p.held, toDevice.Events...)
		p.held = nil
		p.releases++
	}
	if toDevice.Events == nil {
		toDevice.Events = []json.RawMessage{}
	}
	sync["to_device"], _ = json.Marshal(toDevice)
	body, _ = json.Marshal(sync)
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	res.Header.Del("Content-Encoding")
	return nil
}
