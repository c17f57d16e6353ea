package xmpp

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// lru is a small bounded map: the connector remembers recent IDs without
// growing with history.
type lru[V any] struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[string]*list.Element
}

type lruEntry[V any] struct {
	k string
	v V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, ll: list.New(), m: map[string]*list.Element{}}
}

func (l *lru[V]) Put(k string, v V) {
	if k == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[k]; ok {
		e.Value.(*lruEntry[V]).v = v
		l.ll.MoveToFront(e)
		return
	}
	l.m[k] = l.ll.PushFront(&lruEntry[V]{k, v})
	if l.ll.Len() > l.max {
		old := l.ll.Back()
		l.ll.Remove(old)
		delete(l.m, old.Value.(*lruEntry[V]).k)
	}
}

func (l *lru[V]) Get(k string) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[k]; ok {
		return e.Value.(*lruEntry[V]).v, true
	}
	var zero V
	return zero, false
}

func (l *lru[V]) Delete(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[k]; ok {
		l.ll.Remove(e)
		delete(l.m, k)
	}
}

// PutIfAbsent stores v and reports true if k was new.
func (l *lru[V]) PutIfAbsent(k string, v V) bool {
	if _, ok := l.Get(k); ok {
		return false
	}
	l.Put(k, v)
	return true
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// The MAM catch-up positions are not secrets; they are kept in DataDir so a
// restart resumes where the last run stopped. First line: our archive's last
// ID; then one "room<TAB>last room stanza-id" line per room. Room positions
// are written when the link drops or the connector closes (a crash falls
// back to the join's last-20 history for rooms).
func (c *Connector) posFile() string {
	if c.cfg.DataDir == "" {
		return ""
	}
	name := strings.NewReplacer("/", "_", "@", "_at_").Replace(c.me.String())
	return filepath.Join(c.cfg.DataDir, "xmpp-mam-"+name)
}

func (c *Connector) loadPos() (string, map[string]string) {
	rooms := map[string]string{}
	f := c.posFile()
	if f == "" {
		return "", rooms
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return "", rooms
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for _, l := range lines[1:] {
		if room, last, ok := strings.Cut(l, "\t"); ok && room != "" && last != "" {
			rooms[room] = last
		}
	}
	return strings.TrimSpace(lines[0]), rooms
}

func (c *Connector) savePos() {
	f := c.posFile()
	c.mu.Lock()
	pos := c.mamPos
	for k, r := range c.rooms {
		if r.last != "" {
			c.roomLast[k] = r.last
		}
	}
	var b strings.Builder
	b.WriteString(pos + "\n")
	for k, last := range c.roomLast {
		b.WriteString(k + "\t" + last + "\n")
	}
	c.mu.Unlock()
	if f == "" || pos == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		c.log.Warn().Err(err).Msg("MAM position not saved")
		return
	}
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err == nil {
		_ = os.Rename(tmp, f)
	}
}
