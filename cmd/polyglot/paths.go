package main

import (
	"os"
	"path/filepath"
	"strings"
)

// absPath makes a user-given path absolute so config.toml stays valid
// whatever directory polyglot later runs from. A leading ~/ is the home
// directory: the TUI's form has no shell to expand it.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
