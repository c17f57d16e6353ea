package inbox

import (
	"database/sql"
	"sync"
)

// stmtCache keeps the ingest path's statements prepared across batches.
// Preparing a statement (parsing, planning the INSERT with its indexes) cost
// a few percent of a history batch and most of a single live message when
// every transaction did it again. database/sql reuses a prepared statement
// on each connection it already ran on, so a batch binds a cached one to its
// transaction without parsing.
//
// A statement is prepared for the cache only between transactions: doing it
// inside one would take a second pooled connection while the write holds
// its own. Until then a transaction prepares its own copy.
type stmtCache struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

// get returns the cached statement for q, or false (and notes q for
// prepareWanted).
func (c *stmtCache) get(q string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s, true
	}
	if c.wanted == nil {
		c.wanted = map[string]bool{}
	}
	c.wanted[q] = true
	return nil, false
}

// prepareWanted prepares the statements transactions asked for. A failure
// only leaves the statement uncached: the transaction that runs it prepares
// it again and reports the error.
func (c *stmtCache) prepareWanted(db *sql.DB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.wanted {
		s, err := db.Prepare(q)
		if err != nil {
			continue
		}
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		c.m[q] = s
	}
	c.wanted = nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m, c.wanted = nil, nil
}
