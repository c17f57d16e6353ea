// Package config is Polyglot's app-wide settings: config.toml (accounts,
// theme, keys, notifications) read with line-and-column errors and written
// back keeping every hand-written line, and the XDG paths where config,
// data and state live.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// AppName is the directory name under each XDG base directory.
const AppName = "polyglot"

// Paths are the per-user directories Polyglot writes to.
type Paths struct {
	Config string // $XDG_CONFIG_HOME/polyglot: config.toml, user themes
	Data   string // $XDG_DATA_HOME/polyglot: database, secrets.age, account crypto stores
	State  string // $XDG_STATE_HOME/polyglot: logs
	Cache  string // $XDG_CACHE_HOME/polyglot: picture thumbnails (safe to delete)
}

// DefaultPaths reads the XDG variables of this process.
func DefaultPaths() (Paths, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		home = ""
	}
	p := PathsFrom(os.Getenv, home)
	if p.Config == "" {
		return Paths{}, fmt.Errorf("cannot find a config directory: set HOME or XDG_CONFIG_HOME")
	}
	return p, nil
}

// PathsFrom resolves the directories from an environment lookup and a home
// directory. Relative XDG values are ignored, as the XDG spec requires.
func PathsFrom(getenv func(string) string, home string) Paths {
	base := func(env, def string) string {
		if v := getenv(env); v != "" && filepath.IsAbs(v) {
			return filepath.Join(v, AppName)
		}
		if home == "" {
			return ""
		}
		return filepath.Join(home, def, AppName)
	}
	return Paths{
		Config: base("XDG_CONFIG_HOME", ".config"),
		Data:   base("XDG_DATA_HOME", filepath.Join(".local", "share")),
		State:  base("XDG_STATE_HOME", filepath.Join(".local", "state")),
		Cache:  base("XDG_CACHE_HOME", ".cache"),
	}
}

// ConfigFile is config.toml inside Config.
func (p Paths) ConfigFile() string { return filepath.Join(p.Config, "config.toml") }

// AccountDir is where an account's connector keeps its own state (crypto
// store, whatsmeow session); the ID is made filename-safe.
func (p Paths) AccountDir(id string) string {
	return filepath.Join(p.Data, "accounts", safeName(id))
}

// EnsureDirs creates the three directories, private to the user (0700).
func (p Paths) EnsureDirs() error {
	for _, d := range []string{p.Config, p.Data, p.State} {
		if d == "" {
			return fmt.Errorf("accounts: a directory path is empty (HOME unset?)")
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("accounts: creating %s: %w", d, err)
		}
	}
	return nil
}

// safeName keeps letters, digits and .-+ and replaces the rest (":", "@",
// "/") with "_", so an account ID can name a directory.
func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '+':
		default:
			b[i] = '_'
		}
	}
	// The hash keeps two IDs that differ only in replaced characters apart.
	sum := sha256.Sum256([]byte(id))
	return string(b) + "-" + hex.EncodeToString(sum[:4])
}
