package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"polyglot/config"

	"github.com/rs/zerolog"

	"polyglot/accounts"
	"polyglot/inbox"
	"polyglot/remote"
	"polyglot/themes"
	"polyglot/tui"
	"polyglot/tui/thumbnail"
)

// app is what every command shares: where files live, the log, the streams.
type app struct {
	io      streams
	paths   config.Paths
	log     zerolog.Logger
	logFile io.Closer
	// backoff overrides the supervisors' reconnect backoff (zero fields
	// take accounts.DefaultBackoff's); fault-injection tests shorten it.
	backoff accounts.Backoff
	// demo: the TUI runs over the demo world (it says so).
	demo bool
	// owner is set while this process owns the data dir as its core; lock
	// while a standalone command does (ownDataDir).
	owner *coreHost
	lock  *remote.Lock
	// hosted is the running core's runtime when this command runs inside
	// the core for a client: it uses the core's connected accounts.
	hosted *runtime
}

func newApp(s streams) (*app, error) {
	paths, err := config.DefaultPaths()
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if err := paths.EnsureDirs(); err != nil {
		return nil, err
	}
	log, f, err := openLog(paths.State)
	if err != nil {
		return nil, err
	}
	return &app{io: s, paths: paths, log: log, logFile: f}, nil
}

func (a *app) close() {
	a.lock.Release()
	if a.logFile != nil {
		_ = a.logFile.Close()
	}
}

// loadConfig reads config.toml; a bad file is reported with line and column
// and left untouched.
func (a *app) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(a.paths.ConfigFile())
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return cfg, nil
}

func (a *app) theme(cfg *config.Config) (*themes.Theme, error) {
	th, err := themes.LoadWith(cfg.Theme, a.paths.Config, themes.EnvOptions())
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("theme: %w", err))
	}
	return th, nil
}

// checkStartup validates what the TUI takes from config.toml and the
// environment beyond what loadConfig checks: the theme, the [keys]
// overrides and, for the demo, POLYGLOT_DEMO_SPEED. `polyglot` runs it
// before connecting anything and exits 2 on its error; doctor reports the
// same error, so the two never disagree.
func (a *app) checkStartup(cfg *config.Config, demo bool) error {
	if _, err := themes.LoadWith(cfg.Theme, a.paths.Config, themes.EnvOptions()); err != nil {
		return withCode(exitUsage, fmt.Errorf("theme: %w", err))
	}
	if err := tui.CheckKeys(cfg.Keys); err != nil {
		return withCode(exitUsage, fmt.Errorf("%s: %w", a.paths.ConfigFile(), err))
	}
	if demo {
		if _, err := demoSpeed(); err != nil {
			return withCode(exitUsage, err)
		}
	}
	return nil
}

// openInbox opens (creating) the profile's store under the data dir.
func (a *app) openInbox(name string) (*inbox.Inbox, error) {
	// Attachments the user opens land in the data dir, next to the store.
	in, err := inbox.Open(filepath.Join(a.paths.Data, name), inbox.Options{Logger: a.log, DownloadDir: filepath.Join(a.paths.Data, "downloads")})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return in, nil
}

// runTUI runs the terminal UI until the user quits.
func (a *app) runTUI(ctx context.Context, cfg *config.Config, core tui.Core, view tui.AccountsView) error {
	th, err := a.theme(cfg)
	if err != nil {
		return err
	}
	keys, err := tui.BindKeys(cfg.Keys)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("%s: %w", a.paths.ConfigFile(), err))
	}
	// A view that can also change accounts (the client's) makes the
	// accounts screen editable; the demo's nil keeps it read-only.
	ctl, _ := view.(tui.AccountsControl)
	err = tui.Run(ctx, tui.Options{Core: core, Theme: th, Keys: keys, Accounts: view, Control: ctl, Logger: a.log,
		Notify: notifySettings(cfg.Notifications), Demo: a.demo, Images: a.imageOptions(cfg, nil)})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// imageOptions carries config.toml's [images] to the TUI. env is a served
// screen's environment (its own terminal); nil leaves "auto" for tui.Run
// to resolve from this process's.
func (a *app) imageOptions(cfg *config.Config, env func(string) string) tui.ImageOptions {
	p := thumbnail.Protocol(cfg.Images.Protocol)
	if p == "" {
		p = thumbnail.Auto
	}
	if env != nil {
		p = thumbnail.Detect(p, env)
	}
	o := tui.ImageOptions{Protocol: p}
	if a.paths.Cache != "" {
		o.CacheDir = filepath.Join(a.paths.Cache, "thumbnails")
	}
	return o
}

// notifySettings carries config.toml's [notifications] to the TUI.
func notifySettings(n config.Notifications) tui.NotifySettings {
	d := tui.DesktopKind(n.Desktop)
	if d == "" {
		d = tui.DesktopOff
	}
	return tui.NotifySettings{Enabled: n.Enabled, Bell: n.Bell, Title: n.Title, Desktop: d, Preview: n.Preview}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
