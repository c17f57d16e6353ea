package thumbnail

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultCacheBytes bounds the thumbnails kept on disk: about a thousand
// of them.
const DefaultCacheBytes = 64 << 20

// Cache keeps encoded thumbnails as files in one directory (0700, files
// 0600: a thumbnail shows what someone sent), under a hash of their key,
// and holds the directory under max bytes by removing the least recently
// used files first. Safe for concurrent use; every call does file I/O, so
// it belongs in a background command, never in View.
type Cache struct {
	dir string
	max int64
	mu  sync.Mutex
}

// NewCache uses dir (created on the first Put); max ≤ 0 means
// DefaultCacheBytes.
func NewCache(dir string, max int64) *Cache {
	if max <= 0 {
		max = DefaultCacheBytes
	}
	return &Cache{dir: dir, max: max}
}

// Max is the cache's bound in bytes.
func (c *Cache) Max() int64 { return c.max }

func (c *Cache) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:16])+".png")
}

// Get returns the thumbnail stored under key and marks it used.
func (c *Cache) Get(key string) ([]byte, bool) {
	p := c.path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now)
	return b, true
}

// Put stores data under key (written whole or not at all), then evicts
// the least recently used files until the directory fits the bound.
func (c *Cache) Put(key string, data []byte) error {
	if int64(len(data)) > c.max {
		return errors.New("thumbnail larger than the whole cache")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, ".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return err
	}
	return c.evictLocked()
}

// Size is the bytes the cache's files take now.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, f := range c.filesLocked() {
		n += f.size
	}
	return n
}

type cached struct {
	path string
	size int64
	used time.Time
}

func (c *Cache) filesLocked() []cached {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil
	}
	var out []cached
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".png") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, cached{filepath.Join(c.dir, e.Name()), info.Size(), info.ModTime()})
	}
	return out
}

func (c *Cache) evictLocked() error {
	files := c.filesLocked()
	var total int64
	for _, f := range files {
		total += f.size
	}
	if total <= c.max {
		return nil
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.Before(files[j].used) })
	for _, f := range files {
		if total <= c.max {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		total -= f.size
	}
	return nil
}
