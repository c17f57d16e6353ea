package xmpp

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
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
