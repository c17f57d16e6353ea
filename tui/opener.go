package tui

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/rs/zerolog"
)

// OpenerEnv names the command that opens downloaded attachments. It is a
// contract (README): the program and its arguments split on spaces (no
// shell), run with the file's path as the last argument. Set, it is used
// even over SSH.
const OpenerEnv = "POLYGLOT_OPENER"

// remoteNotOpened says why a screen the core serves opens nothing: the
// opener would start on the core's machine.
const remoteNotOpened = "not opened: this screen is served by the Polyglot core, and the opener would start on its machine"

// opener decides how a downloaded file is opened: $POLYGLOT_OPENER, else
// the desktop's opener (xdg-open, macOS open) — but not over SSH, where a
// window would appear on a screen the user is not at. argv nil: do not
// open; why says so.
func opener(getenv func(string) string, lookPath func(string) (string, error), goos string) (argv []string, why string) {
	if v := strings.Fields(getenv(OpenerEnv)); len(v) > 0 {
		return v, ""
	}
	if getenv("SSH_CONNECTION") != "" || getenv("SSH_TTY") != "" {
		return nil, "over SSH: not opened here; set " + OpenerEnv + " to open"
	}
	name := "xdg-open"
	if goos == "darwin" {
		name = "open"
	}
	p, err := lookPath(name)
	if err != nil {
		return nil, "no " + name + " found; set " + OpenerEnv + " to open"
	}
	return []string{p}, ""
}

// openDownloaded opens path with the system opener and returns the status
// line to show.
func openDownloaded(path string, log zerolog.Logger, remote bool) string {
	argv, why := opener(os.Getenv, exec.LookPath, runtime.GOOS)
	if remote {
		argv, why = nil, remoteNotOpened
	}
	if argv == nil {
		return "saved to " + path + " (" + why + ")"
	}
	if err := startOpener(argv, path, log); err != nil {
		return "saved to " + path + " (the opener failed: " + err.Error() + ")"
	}
	return "opened " + path
}

// startOpener runs argv with target as its last argument, detached: its
// output goes to the log, never to the TUI's screen, and the TUI does not
// wait for it.
func startOpener(argv []string, target string, log zerolog.Logger) error {
	cmd := exec.Command(argv[0], append(argv[1:], target)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	detach(cmd)
	if err := cmd.Start(); err != nil {
		log.Warn().Err(err).Str("opener", argv[0]).Msg("starting the opener failed")
		return err
	}
	go func() {
		err := cmd.Wait()
		ev := log.Debug()
		if err != nil {
			ev = log.Warn().Err(err)
		}
		// The opener's own words, cut short; never the file's content.
		ev.Str("opener", argv[0]).Str("output", truncateBytes(out.String(), 300)).Msg("opener finished")
	}()
	return nil
}

func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
