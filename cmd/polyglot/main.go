// Command polyglot is the terminal chat client: one inbox over Matrix, XMPP
// and WhatsApp. With no account configured it opens the embedded demo world.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"polyglot/internal/errtext"

	// Bubble Tea's package init must not query the terminal.
	_ "polyglot/internal/noprobe/restore"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes scripts can rely on (documented in README.md).
const (
	exitOK          = 0
	exitError       = 1  // anything unexpected
	exitUsage       = 2  // bad flags, bad config, wrong passphrase
	exitCannot      = 3  // send: unknown contact, no route, downgrade not allowed
	exitAuth        = 4  // login refused
	exitTooLarge    = 7  // send --file: larger than the server's limit
	exitNoInput     = 66 // send --file: the file cannot be read; EX_NOINPUT
	exitUnavailable = 69 // account add whatsapp: WhatsApp's servers cannot be reached; EX_UNAVAILABLE
	exitQueued      = 75 // send: accepted but queued (all routes offline); EX_TEMPFAIL
	exitInterrupt   = 130
)

// exitError carries an exit code with a one-line reason.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// streams are the command's I/O, injected so commands test without a terminal.
type streams struct {
	in       io.Reader
	out, err io.Writer
	// outTTY: out reaches a terminal though it is no *os.File here (a
	// command the core runs for a client in a terminal).
	outTTY bool
}

// outIsTerminal says out may be redrawn in place.
func (s streams) outIsTerminal() bool { return s.outTTY || isTerminalWriter(s.out) }

func main() {
	privateFiles()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

func execute(ctx context.Context, args []string, io streams) int {
	f := newFactory(ctx, io)
	defer f.close()
	root := newRootCmd(f)
	if code, ok := forward(ctx, root, args, io); ok {
		return code
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var done *ranInCore
	if errors.As(err, &done) {
		return done.code // the core printed why
	}
	fmt.Fprintln(io.err, "polyglot:", userText(err))
	return exitCode(err)
}

// userText is err's message for a person (no "inbox: " chains).
func userText(err error) string { return errtext.Of(err) }

// exitCode maps a command's error to the README's table. An error that did
// not come out of a command's own work is cobra refusing the command line
// (unknown command, extra arguments, a required flag missing): a usage
// error, never 1.
func exitCode(err error) int {
	var ce *codedError
	var re *runError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, context.Canceled):
		return exitInterrupt
	case errors.As(err, &re):
		return exitError
	}
	return exitUsage
}

// ranInCore ends a command that the running core ran for it, with the
// core's exit code; its messages are printed already.
type ranInCore struct{ code int }

func (e *ranInCore) Error() string { return fmt.Sprintf("the core's exit code %d", e.code) }

// ranInCoreErr is nil for success, so cobra sees a command that worked.
func ranInCoreErr(code int) error {
	if code == exitOK {
		return nil
	}
	return &ranInCore{code}
}

// runError marks an uncoded error from a command's RunE.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// strictCommands walks the tree: every RunE's plain errors are marked as
// its own (exit 1), and a command that only groups others (account) refuses
// to run bare or with an unknown subcommand instead of printing its help
// and exiting 0.
func strictCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictCommands(sub)
	}
	if c.RunE == nil && c.Run == nil && c.HasSubCommands() {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return withCode(exitUsage, fmt.Errorf("%s needs a subcommand; see `%s --help`", cmd.CommandPath(), cmd.CommandPath()))
			}
			hint := ""
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return withCode(exitUsage, fmt.Errorf("unknown command %q for %q%s; see `%s --help`", args[0], cmd.CommandPath(), hint, cmd.CommandPath()))
		}
		return
	}
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var ce *codedError
			if err == nil || errors.As(err, &ce) {
				return err
			}
			return &runError{err}
		}
	}
}

func newRootCmd(f *factory) *cobra.Command {
	io := f.io
	root := &cobra.Command{
		Use:   "polyglot",
		Short: "One terminal inbox for Matrix, XMPP and WhatsApp",
		Long: `Polyglot merges your Matrix, XMPP and WhatsApp conversations into one inbox.
A person reachable on several networks is one entry; each message goes out on
the best network and encryption for that person and never downgrades
end-to-end encryption without your say.

With no account configured, polyglot opens the embedded demo world.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if len(cfg.Accounts) == 0 {
				a.log.Info().Msg("no account configured: opening the demo world")
				return a.runDemo(cmd.Context(), cfg)
			}
			return a.runClient(cmd.Context(), cfg)
		},
	}
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	root.AddCommand(newDemoCmd(f), newAccountCmd(f), newContactCmd(f), newSendCmd(f), newHistoryCmd(f), newDoctorCmd(f), newPassphraseCmd(f), newServeCmd(f), newAttachCmd(f), newBridgeCmd(f))
	strictCommands(root)
	return root
}
