package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"polyglot/accounts"
)

func newDoctorCmd(f *factory) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:         "doctor",
		Annotations: forwardToCore,
		Short:       "Check config, keystore, data dir permissions and each account's reachability",
		Long: `Checks what polyglot depends on and prints what to do about each problem:
the config file (and everything starting polyglot checks: theme, key
bindings, notifications), the keystore, the permissions of the directories
and files polyglot writes, and whether each account can connect. A config file
that does not exist yet is reported as "none yet". Exit status 0 when all is
well, 1 when something needs attention.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			if n := a.doctor(cmd.Context(), timeout); n > 0 {
				return fmt.Errorf("%d problem(s) found", n)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Second, "how long to wait for accounts to connect")
	return cmd
}

// doctor prints one line per check and returns how many failed.
func (a *app) doctor(ctx context.Context, timeout time.Duration) int {
	problems := 0
	ok := func(format string, args ...any) { fmt.Fprintf(a.io.out, "ok    "+format+"\n", args...) }
	bad := func(fix, format string, args ...any) {
		problems++
		fmt.Fprintf(a.io.out, "FAIL  "+format+"\n      → %s\n", append(args, fix)...)
	}

	cfg, err := a.loadConfig()
	if err != nil {
		bad("edit the file at the line and column named; polyglot never rewrites a file it cannot read", "config: %v", err)
		return problems
	}
	if fileExists(a.paths.ConfigFile()) {
		ok("config %s (%d account(s))", a.paths.ConfigFile(), len(cfg.Accounts))
	} else {
		// Not an error, and not a checked file either.
		fmt.Fprintf(a.io.out, "none  config %s: none yet (defaults; `polyglot account add` creates it)\n", a.paths.ConfigFile())
	}
	if err := a.checkStartup(cfg, len(cfg.Accounts) == 0); err != nil {
		bad("fix the setting named; polyglot refuses to start until then", "%v", err)
	} else {
		ok("theme, key bindings, notifications")
	}

	for _, dir := range []string{a.paths.Config, a.paths.Data, a.paths.State} {
		for _, p := range looseModes(dir) {
			bad(fmt.Sprintf("chmod go-rwx %q", p), "permissions: %s is readable by others", p)
		}
	}
	ok("directories %s, %s, %s", a.paths.Config, a.paths.Data, a.paths.State)
	ok("log file %s", filepath.Join(a.paths.State, "polyglot.log"))

	if len(cfg.Accounts) == 0 {
		ok("no accounts: `polyglot` opens the demo world; add one with `polyglot account add`")
		return problems
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt, err := a.startClient(ctx, cfg)
	if err != nil {
		bad("check POLYGLOT_PASSPHRASE_FILE or the passphrase you typed", "keystore: %v", err)
		return problems
	}
	defer rt.stop()
	ok("keystore unlocked (%s)", rt.keys.Backend())
	rt.waitSettled(ctx)
	for _, st := range rt.accounts.Statuses() {
		switch {
		case st.State == accounts.StateOnline:
			ok("%s: online", st.Account)
		case st.State == accounts.StateDisabled:
			ok("%s: disabled", st.Account)
		case st.State == accounts.StateAuthFailed && st.NoSecret:
			bad("run polyglot, press A, select the account and press L to enter its password",
				"%s: no password in the keystore: it cannot log in", st.Account)
		case st.State == accounts.StateAuthFailed:
			bad(fmt.Sprintf("`polyglot account remove %s`, then add it again with the right password", st.Account),
				"%s: login refused: %s", st.Account, st.Detail)
		default:
			bad("check the server address (--server), the network, and --ca-file for a private CA",
				"%s: %s: %s", st.Account, st.State, st.Detail)
		}
	}
	return problems
}

// looseModes lists files and directories under root that group or others
// may read or write.
func looseModes(root string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err == nil && info.Mode().Perm()&0o077 != 0 && info.Mode()&os.ModeSymlink == 0 {
			out = append(out, p)
		}
		return nil
	})
	return out
}
