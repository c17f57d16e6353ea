package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"polyglot/config"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"polyglot/remote"
	"polyglot/sshscreen"
	"polyglot/tui"
)

// exitBusy: another Polyglot process owns the data dir and cannot serve
// this command (see README's exit codes).
const exitBusy = 5

// forwardToCore marks a command that runs inside a running core (send,
// doctor, account list, account remove): it then uses the core's
// connected accounts instead of connecting them a second time. (`account
// add` reads its password here first, then calls runInCore itself.)
var forwardToCore = map[string]string{"core": "forward"}

// hostedKey carries the core's runtime to the commands it runs.
type hostedKey struct{}

// hostedRuntime is the running core's runtime when ctx is a command run
// inside it, else nil.
func hostedRuntime(ctx context.Context) *runtime {
	rt, _ := ctx.Value(hostedKey{}).(*runtime)
	return rt
}

// forwardedSecretsKey carries the secrets a client sent with its command.
type forwardedSecretsKey struct{}

// forwardedSecrets are the secrets the client gathered for the command
// run inside the core (remote.Run.Secrets), else nil.
func forwardedSecrets(ctx context.Context) map[string][]byte {
	s, _ := ctx.Value(forwardedSecretsKey{}).(map[string][]byte)
	return s
}

// socketPath is the core socket of this user's data dir.
func (a *app) socketPath() string { return remote.SocketPath(os.Getenv, a.paths.Data) }

// coreHost is this process as the owner of the data dir: it holds the lock
// and runs the commands other polyglot processes forward to it, with its
// runtime once the accounts run.
type coreHost struct {
	a     *app
	cfg   *config.Config
	srv   *remote.Server
	ready chan struct{}
	once  sync.Once
	rt    *runtime
	// screens serves `polyglot attach` (and a second `polyglot`).
	screens *sshscreen.Local
	done    chan struct{}
}

// hostCore takes the data dir and opens its socket. Another owner is
// exitBusy, with its pid.
func (a *app) hostCore(ctx context.Context, name string, cfg *config.Config) (*coreHost, error) {
	// Attached screens bind the [keys] of config.toml, each its own copy.
	if err := tui.CheckKeys(cfg.Keys); err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("%s: %w", a.paths.ConfigFile(), err))
	}
	srv, err := remote.Listen(a.paths.Data, a.socketPath())
	if errors.Is(err, remote.ErrLocked) {
		return nil, withCode(exitBusy, fmt.Errorf("%w: it connects the accounts; stop it first, or use `polyglot send` beside it", err))
	}
	if err != nil {
		return nil, err
	}
	h := &coreHost{a: a, cfg: cfg, srv: srv, ready: make(chan struct{}), done: make(chan struct{})}
	srv.Name, srv.Log, srv.Run, srv.Attach = "polyglot "+version+" "+name, a.log, h.run, h.attach
	go func() {
		defer close(h.done)
		if err := srv.Serve(ctx); err != nil {
			a.log.Error().Err(err).Msg("core socket stopped")
		}
	}()
	a.owner = h
	a.log.Info().Str("socket", srv.Path()).Msg("core socket open")
	return h, nil
}

// ownDataDir makes this process the data dir's one owner until the
// command ends, unless it already is (as a core, or by an earlier call).
// Another owner is exitBusy; why says what to do about it.
func (a *app) ownDataDir(why string) error {
	if a.owner != nil || a.lock != nil {
		return nil
	}
	l, err := remote.TryLock(a.paths.Data)
	if errors.Is(err, remote.ErrLocked) {
		return withCode(exitBusy, fmt.Errorf("%w %s", err, why))
	}
	if err != nil {
		return err
	}
	a.lock = l
	return nil
}

// releaseDataDir gives up what ownDataDir took.
func (a *app) releaseDataDir() {
	a.lock.Release()
	a.lock = nil
}

// setRuntime lets forwarded commands run over rt's accounts, and screens
// attach with view as their accounts screen.
func (h *coreHost) setRuntime(rt *runtime, view tui.AccountsView) {
	h.once.Do(func() {
		h.rt = &runtime{inbox: rt.inbox, keys: rt.keys, accounts: rt.accounts, shared: true}
		local, err := sshscreen.NewLocal(sshscreen.Options{HostKey: h.a.hostKeyPath(), Log: h.a.log, Screen: h.a.screen(h.cfg, rt.inbox, view)})
		if err != nil {
			h.a.log.Error().Err(err).Msg("screens cannot attach")
		}
		h.screens = local
		close(h.ready)
	})
}

// attach serves an attached screen once the accounts run.
func (h *coreHost) attach(c net.Conn) {
	select {
	case <-h.ready:
	case <-h.done:
		return
	}
	if h.screens != nil {
		h.screens.HandleConn(c)
	}
}

// close stops serving, removes the socket and releases the data dir.
func (h *coreHost) close() {
	if h.screens != nil {
		_ = h.screens.Close()
	}
	h.srv.Close()
	<-h.done
	h.a.owner = nil
}

// run is a forwarded command line, run here once the accounts run. Its
// secrets go to the command only, never to the log.
func (h *coreHost) run(ctx context.Context, req remote.Run, stdout, stderr io.Writer) int {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return exitInterrupt
	}
	h.a.log.Info().Str("command", commandName(req.Args)).Msg("running a forwarded command")
	ctx = context.WithValue(ctx, hostedKey{}, h.rt)
	if len(req.Secrets) > 0 {
		ctx = context.WithValue(ctx, forwardedSecretsKey{}, req.Secrets)
	}
	return execute(ctx, req.Args, streams{in: strings.NewReader(""), out: stdout, err: stderr, outTTY: req.Terminal})
}

// commandName is what the log says of a forwarded command line: its
// command words ("send", "account add"), never its arguments.
func commandName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	if args[0] == "account" && len(args) > 1 {
		return args[0] + " " + args[1]
	}
	return args[0]
}

// forward runs the command line in the data dir's running core when the
// command is one that may and a core answers; ok false: run it here.
func forward(ctx context.Context, root *cobra.Command, args []string, io streams) (code int, ok bool) {
	if hostedRuntime(ctx) != nil {
		return 0, false // already inside the core
	}
	cmd, _, err := root.Find(args)
	if err != nil || cmd.Annotations["core"] != "forward" {
		return 0, false
	}
	return runInCore(ctx, strings.TrimPrefix(cmd.CommandPath(), root.Name()+" "), remote.Run{Args: absFileArgs(args)}, io)
}

// runInCore runs req in the data dir's running core, its output copied to
// io, and returns its exit code; ok false: no core answers, so the
// command runs here. A core that refuses this client is exitBusy. name
// is the command's, e.g. "send" or "account add".
func runInCore(ctx context.Context, name string, req remote.Run, io streams) (code int, ok bool) {
	paths, err := config.DefaultPaths()
	if err != nil {
		return 0, false
	}
	c, err := remote.Dial(ctx, remote.SocketPath(os.Getenv, paths.Data), remote.Hello{Client: "polyglot " + version + " " + name, DataDir: paths.Data})
	var refused *remote.RefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Fprintln(io.err, "polyglot:", refused.Reason)
		return exitBusy, true
	case err != nil:
		return 0, false // no core: the command runs here
	}
	defer c.Close()
	req.Terminal = io.outIsTerminal()
	code, err = c.Run(ctx, req, io.out, io.err)
	if err != nil {
		if ctx.Err() != nil {
			return exitInterrupt, true
		}
		fmt.Fprintln(io.err, "polyglot:", err)
		switch name {
		case "send":
			// The outbox stores a message before it sends it.
			fmt.Fprintln(io.err, "polyglot: if the core had stored the message, it goes out once when a core runs again")
		case "account add":
			fmt.Fprintln(io.err, "polyglot: see `polyglot account list` for whether the account was added")
		}
		return exitError, true
	}
	return code, true
}
