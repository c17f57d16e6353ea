package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
)

// openLog opens polyglot.log under the state dir. Logs never go to the
// terminal: the TUI owns the screen, and stderr belongs to error messages.
func openLog(stateDir string) (zerolog.Logger, io.Closer, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return zerolog.Nop(), nil, fmt.Errorf("create state dir: %w", err)
	}
	path := filepath.Join(stateDir, "polyglot.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return zerolog.Nop(), nil, fmt.Errorf("open log: %w", err)
	}
	level := zerolog.InfoLevel
	if lv, err := zerolog.ParseLevel(os.Getenv("POLYGLOT_LOG_LEVEL")); err == nil && lv != zerolog.NoLevel {
		level = lv
	}
	return zerolog.New(f).Level(level).With().Timestamp().Logger(), f, nil
}
