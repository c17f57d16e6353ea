package main

import "path/filepath"

// absPath makes a user-given path absolute so config.toml stays valid
// whatever directory polyglot later runs from.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
