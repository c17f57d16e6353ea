package inbox

import (
	"database/sql"
	"sync"
)

// stmtCache keeps the ingest path's statements prepared across batches.
// Preparing a statement (parsing, planning the INSERT with its indexes and
// triggers) cost a few percent of ingest when every batch did it again;
// database/sql reuses a prepared statement on each connection it already
// ran on, so a batch binds it to its transaction without parsing.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns the statement for q prepared on db, preparing it once.
func (c *stmtCache) get(db *sql.DB, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s, nil
	}
	s, err := db.Prepare(q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}
