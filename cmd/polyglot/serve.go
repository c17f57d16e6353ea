package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"polyglot/config"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"

	"github.com/spf13/cobra"

	"polyglot/inbox"
	"polyglot/sshscreen"
	"polyglot/themes"
	"polyglot/tui"
)

// serveOptions are serve's flags.
type serveOptions struct {
	ssh            string
	authorizedKeys string
	maxSessions    int
	idle           time.Duration
}

func newServeCmd(f *factory) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the core headless: accounts stay online, other commands run through it",
		Long: `Runs Polyglot's core in the foreground with no screen (for a systemd user
unit or a tmux window): it owns the data dir, keeps every enabled account
online, drains the outbox, and serves the commands you run beside it
(polyglot send, doctor, account list, add and remove) over its socket,
$XDG_RUNTIME_DIR/polyglot/core.sock. They then need no passphrase and make
no second connection; an added account comes online in the core at once.
SIGINT or SIGTERM stops it.

With --ssh ADDR it also serves the TUI over SSH: public-key logins only,
from --authorized-keys (default $XDG_CONFIG_HOME/polyglot/authorized_keys);
the host key is made once under the data dir and its fingerprint printed.

Exit status: 0 stopped by a signal; 5 another Polyglot process already owns
the data dir; 2 and 4 as for every command (config, passphrase, login).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.serve(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ssh, "ssh", "", "also serve the TUI over SSH on this address (e.g. 127.0.0.1:2222)")
	fl.StringVar(&o.authorizedKeys, "authorized-keys", "", "public keys allowed over SSH (default $XDG_CONFIG_HOME/polyglot/authorized_keys)")
	fl.IntVar(&o.maxSessions, "max-sessions", 8, "most SSH sessions at once")
	fl.DurationVar(&o.idle, "idle-timeout", 30*time.Minute, "close an SSH session idle this long")
	return cmd
}

func (a *app) serve(ctx context.Context, o *serveOptions) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if len(cfg.Accounts) == 0 {
		return withCode(exitCannot, errors.New("no account configured: add one with `polyglot account add`"))
	}
	if err := a.checkStartup(cfg, false); err != nil {
		return err
	}
	host, err := a.hostCore(ctx, "serve", cfg)
	if err != nil {
		return err
	}
	defer host.close()
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.stop()
	host.setRuntime(rt, rt.control(a))
	if o.ssh != "" {
		stop, err := a.serveSSH(ctx, cfg, rt, o)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(a.io.out, "polyglot core serving %d account(s) on %s\n", len(cfg.Accounts), host.srv.Path())
	a.log.Info().Int("accounts", len(cfg.Accounts)).Msg("serving")
	<-ctx.Done()
	a.log.Info().Msg("serve stopped by a signal")
	return nil
}

// serveSSH serves the TUI over SSH, each session a screen of this core.
func (a *app) serveSSH(ctx context.Context, cfg *config.Config, rt *runtime, o *serveOptions) (stop func(), err error) {
	keys := o.authorizedKeys
	if keys == "" {
		keys = filepath.Join(a.paths.Config, "authorized_keys")
	}
	srv, err := sshscreen.Listen(sshscreen.Options{
		Addr: o.ssh, AuthorizedKeys: keys, HostKey: a.hostKeyPath(),
		MaxSessions: o.maxSessions, IdleTimeout: o.idle, Log: a.log,
		Screen: a.screen(cfg, rt.inbox, rt.control(a)),
	})
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--ssh: %w", err))
	}
	go func() {
		if err := srv.Serve(); err != nil {
			a.log.Error().Err(err).Msg("ssh server stopped")
		}
	}()
	fmt.Fprintf(a.io.out, "ssh: listening on %s, host key %s\n", srv.Addr(), srv.Fingerprint)
	a.log.Info().Str("addr", srv.Addr().String()).Str("host_key", srv.Fingerprint).Msg("ssh screens served")
	return func() { _ = srv.Close() }, nil
}

func (a *app) hostKeyPath() string { return filepath.Join(a.paths.Data, "ssh_host_ed25519_key") }

// screen builds the TUI for a screen this core serves (an SSH session or
// an attached terminal): its own renderer and theme from the session's
// environment, the core's store and accounts.
func (a *app) screen(cfg *config.Config, core *inbox.Inbox, view tui.AccountsView) sshscreen.Screen {
	control, _ := view.(tui.AccountsControl)
	return func(ctx context.Context, r *lipgloss.Renderer, env func(string) string, popts []tea.ProgramOption, sess ssh.Session) (*tea.Program, func()) {
		th, err := themes.LoadWith(cfg.Theme, a.paths.Config, themes.Options{Renderer: r, NoColor: env("NO_COLOR") != "",
			LightBackground: themes.LightBackground(env("COLORFGBG"))})
		if err != nil { // checked at start: the file changed since
			th, _ = themes.LoadWith("", a.paths.Config, themes.Options{Renderer: r, NoColor: env("NO_COLOR") != ""})
		}
		keys, _ := tui.BindKeys(cfg.Keys) // checked at start; nil is the defaults
		images := a.imageOptions(cfg, env)
		images.CellSize = func() image.Point { return sessionCellSize(sess) }
		return tui.NewProgram(ctx, tui.Options{Core: core, Theme: th, Keys: keys, Accounts: view, Control: control, Logger: a.log, Remote: true,
			Notify: notifySettings(cfg.Notifications), Terminal: sess, Images: images}, popts...)
	}
}

// sessionCellSize is the cell in pixels from the SSH client's pty request
// and window changes (zero when the client sent no pixel size).
func sessionCellSize(s ssh.Session) image.Point {
	pty, _, ok := s.Pty()
	w := pty.Window
	if !ok || w.Width == 0 || w.Height == 0 {
		return image.Point{}
	}
	return image.Pt(w.WidthPixels/w.Width, w.HeightPixels/w.Height)
}
