package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newServeCmd(io streams) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the core headless: accounts stay online, other commands run through it",
		Long: `Runs Polyglot's core in the foreground with no screen (for a systemd user
unit or a tmux window): it owns the data dir, keeps every enabled account
online, drains the outbox, and serves the commands you run beside it
(polyglot send, doctor, account list) over its socket,
$XDG_RUNTIME_DIR/polyglot/core.sock. They then need no passphrase and make
no second connection. SIGINT or SIGTERM stops it.

Exit status: 0 stopped by a signal; 5 another Polyglot process already owns
the data dir; 2 and 4 as for every command (config, passphrase, login).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := newApp(io)
			if err != nil {
				return err
			}
			defer a.close()
			return a.serve(cmd.Context())
		},
	}
}

func (a *app) serve(ctx context.Context) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if len(cfg.Accounts) == 0 {
		return withCode(exitCannot, errors.New("no account configured: add one with `polyglot account add`"))
	}
	host, err := a.hostCore(ctx, "serve")
	if err != nil {
		return err
	}
	defer host.close()
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.stop()
	host.setRuntime(rt)
	fmt.Fprintf(a.io.out, "polyglot core serving %d account(s) on %s\n", len(cfg.Accounts), host.srv.Path())
	a.log.Info().Int("accounts", len(cfg.Accounts)).Msg("serving")
	<-ctx.Done()
	a.log.Info().Msg("serve stopped by a signal")
	return nil
}
