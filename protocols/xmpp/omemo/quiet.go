package omemo

import (
	"sync"

	"go.mau.fi/libsignal/logger"
)

// quietSignal replaces libsignal's default logger, which prints errors
// (and, configured, key bytes) to stdout — through the TUI's screen. The
// errors it would print reach our callers as errors anyway. The logger is
// process-wide, so this also quiets libsignal under whatsmeow.
var quietOnce sync.Once

type silent struct{}

func (silent) Debug(string, string)   {}
func (silent) Info(string, string)    {}
func (silent) Warning(string, string) {}
func (silent) Error(string, string)   {}
func (silent) Configure(string)       {}

func quietSignal() {
	quietOnce.Do(func() {
		var l logger.Loggable = silent{}
		logger.Setup(&l)
	})
}
