package remote

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked: another process owns the data dir.
var ErrLocked = errors.New("another Polyglot process owns this data dir")

// Lock is the exclusive ownership of a data dir, held until Release or
// the process ends (the kernel drops a dead process's lock).
type Lock struct {
	f *os.File
}

// LockFile is the lock's path in dataDir.
func LockFile(dataDir string) string { return filepath.Join(dataDir, "core.lock") }

// TryLock takes the data dir's lock without waiting. When another process
// holds it, the error wraps ErrLocked and names that process.
func TryLock(dataDir string) (*Lock, error) {
	f, err := os.OpenFile(LockFile(dataDir), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid > 0 {
				return nil, fmt.Errorf("%w (pid %d)", ErrLocked, pid)
			}
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", LockFile(dataDir), err)
	}
	// The holder's pid, for the message another process shows.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid
}

// Release gives the data dir up.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
