//go:build unix

package main

import "syscall"

// privateFiles makes every file and directory polyglot or its libraries
// create (SQLite files and their -wal/-shm, crypto stores, logs) private to
// the user, whatever the library asks for.
func privateFiles() { syscall.Umask(0o077) }
