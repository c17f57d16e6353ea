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
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"polyglot/remote"
	"polyglot/sshscreen"
)

// exitNoCore: `attach` found no core running (README's exit codes).
const exitNoCore = 6

func newAttachCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "attach",
		Short: "Open a screen on the running core (polyglot serve, or another polyglot)",
		Long: `Opens the TUI on the core that owns this data dir — a polyglot serve, or
a polyglot running in another terminal — as tmux attaches to its server:
every screen shows the same inbox live, drafts and read state included, and
closing one leaves the core running. A plain polyglot attaches by itself
when a core runs.

Exit status: 0 closed; 6 no core is running (start polyglot serve or
polyglot); 5 the core refused (another version: the message says which).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			c, err := a.dialCore(cmd.Context(), "attach")
			if errors.Is(err, remote.ErrNoCore) {
				return withCode(exitNoCore, errors.New("no Polyglot core is running for this data dir: start one with `polyglot serve` (or `polyglot`)"))
			}
			if err != nil {
				return err
			}
			return a.attach(cmd.Context(), c)
		},
	}
}

// dialCore connects to the data dir's running core; a refusal is exitBusy.
func (a *app) dialCore(ctx context.Context, what string) (*remote.Client, error) {
	c, err := remote.Dial(ctx, a.socketPath(), remote.Hello{Client: "polyglot " + version + " " + what, DataDir: a.paths.Data})
	var refused *remote.RefusedError
	if errors.As(err, &refused) {
		return nil, withCode(exitBusy, refused)
	}
	return c, err
}

// attachedEnv is what a screen takes from this terminal's environment:
// its colours, background and language.
var attachedEnv = []string{"NO_COLOR", "COLORTERM", "COLORFGBG", "LANG", "LC_ALL", "LC_CTYPE"}

// attach shows the core's screen on this terminal until it closes: the
// connection carries SSH to the core (checked against the core's host key
// in the data dir), with this terminal's type, size and colours.
func (a *app) attach(ctx context.Context, c *remote.Client) error {
	conn, err := c.Attach()
	if err != nil {
		c.Close()
		var refused *remote.RefusedError
		if errors.As(err, &refused) {
			return withCode(exitBusy, err)
		}
		return err
	}
	defer conn.Close()
	host, err := sshscreen.HostKey(a.hostKeyPath())
	if err != nil {
		return err
	}
	cc, chans, reqs, err := gossh.NewClientConn(conn, "core", &gossh.ClientConfig{
		User: "polyglot", HostKeyCallback: gossh.FixedHostKey(host.PublicKey()),
	})
	if err != nil {
		return fmt.Errorf("attaching to the core: %w", err)
	}
	client := gossh.NewClient(cc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	for _, k := range attachedEnv {
		if v, ok := os.LookupEnv(k); ok {
			_ = sess.Setenv(k, v)
		}
	}
	fd := int(os.Stdin.Fd())
	w, h, err := term.GetSize(fd)
	if err != nil {
		return withCode(exitUsage, errors.New("attach needs a terminal"))
	}
	if err := sess.RequestPty(os.Getenv("TERM"), h, w, gossh.TerminalModes{}); err != nil {
		return err
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return err
	}
	defer term.Restore(fd, old)
	sess.Stdout, sess.Stderr = a.io.out, a.io.err
	in, err := sess.StdinPipe()
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(in, os.Stdin) }()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if w, h, err := term.GetSize(fd); err == nil {
				_ = sess.WindowChange(h, w)
			}
		}
	}()
	if err := sess.Shell(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		var exit *gossh.ExitMissingError
		if err != nil && !errors.As(err, &exit) {
			var ee *gossh.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("the screen ended: %s", ee.Msg())
			}
			return err
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}
