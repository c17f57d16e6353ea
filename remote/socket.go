package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SocketPath is where the core of dataDir listens: in the user's runtime
// dir when there is one (getenv reads XDG_RUNTIME_DIR), else beside the
// data. A path too long for a Unix socket falls back to the data dir too.
func SocketPath(getenv func(string) string, dataDir string) string {
	if rt := getenv("XDG_RUNTIME_DIR"); rt != "" && filepath.IsAbs(rt) {
		p := filepath.Join(rt, "polyglot", "core.sock")
		if len(p) < maxSocketPath {
			return p
		}
	}
	return filepath.Join(dataDir, "core.sock")
}

// maxSocketPath is sun_path's size less its terminating NUL.
const maxSocketPath = 107

// listen opens the socket at path for a process that holds the data dir's
// lock: a file left there by a crashed core is removed first. The
// directory is made 0700 and the socket 0600, so only the user connects.
func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// The caller holds its data dir's lock, so a core answering here owns
	// another data dir that shares the runtime dir: never take its socket.
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("a Polyglot core of another data dir listens at %s: give this one its own XDG_RUNTIME_DIR", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
