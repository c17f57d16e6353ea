//go:build !unix

package keystore

// lockFile is a no-op where flock is unavailable; a single process is safe.
func lockFile(string) (func(), error) { return func() {}, nil }
