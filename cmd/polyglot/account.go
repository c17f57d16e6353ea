package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"polyglot/accounts"
	"polyglot/config"
	"polyglot/inbox"
	"polyglot/keystore"
	"polyglot/protocols"
	"polyglot/protocols/matrix"
	"polyglot/remote"
)

func newAccountCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Add, list and remove your Matrix, XMPP and WhatsApp accounts",
	}
	cmd.AddCommand(newAccountAddCmd(f), newAccountListCmd(f), newAccountRemoveCmd(f))
	return cmd
}

type addOptions struct {
	network      protocols.Network
	address      string
	server       string
	caFile       string
	passwordFile string
	tokenFile    string
	insecureTLS  bool
	displayName  string
	reach        string
	phone        string // WhatsApp: link by pairing code for this number
}

func newAccountAddCmd(f *factory) *cobra.Command {
	o := &addOptions{}
	cmd := &cobra.Command{
		Use:   "add xmpp|matrix|whatsapp [ADDRESS]",
		Short: "Add an account; the login is checked before anything is saved",
		Long: `Adds an account and checks that it can log in before saving it.
Run bare in a terminal to be asked for everything. For scripts:

  polyglot account add xmpp alice@example.org --server HOST:PORT --ca-file PEM --password-file FILE
  polyglot account add matrix @alice:example.org --server https://matrix.example.org --password-file FILE
  polyglot account add matrix @alice:example.org --token-file FILE
  polyglot account add whatsapp                   # shows a QR code to scan with the phone
  polyglot account add whatsapp --phone +4915123456789   # shows a code to type on the phone

The password comes from --password-file or standard input, never from a flag.
A Matrix access token (--token-file) keeps its device; without a password
Polyglot cannot set up cross-signing for it, so verifying contacts needs a
password login (or cross-signing set up by your other client).
It is kept in the keystore (OS keyring, or a passphrase-encrypted file), never
in config.toml. WhatsApp links Polyglot as a device of your phone: nothing is
saved until the phone confirms. Beside a running core (polyglot serve, or
polyglot in another terminal) the password is read here and the core adds
the account, which comes online there at once.
Exit status: 0 added; 2 bad arguments; 4 login refused; 69 WhatsApp's
servers cannot be reached; 5 a core of another version refused it; 1 other.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return withCode(exitUsage, errors.New("want a network (xmpp, matrix or whatsapp) and optionally an ADDRESS"))
			}
			n, err := protocols.ParseNetwork(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			o.network = n
			if len(args) == 2 {
				o.address = args[1]
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.accountAdd(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.server, "server", "", "server override: HOST:PORT for XMPP, a URL for Matrix (default: discovery)")
	fl.StringVar(&o.caFile, "ca-file", "", "PEM file of an extra CA or self-signed certificate to trust")
	fl.StringVar(&o.passwordFile, "password-file", "", "read the password from FILE (else standard input)")
	fl.StringVar(&o.tokenFile, "token-file", "", "Matrix: log in with the access token in FILE instead of a password (e.g. from an SSO login in another client)")
	fl.BoolVar(&o.insecureTLS, "insecure-loopback-tls", false, "skip certificate checks (refused unless the server is on loopback)")
	fl.StringVar(&o.displayName, "name", "", "display name for this account")
	fl.StringVar(&o.reach, "reach", "", "who may start a conversation: everyone (default; strangers land in Requests), contacts or own-server")
	fl.StringVar(&o.phone, "phone", "", "WhatsApp: link with an 8-character code typed on the phone with this number (+4915…), instead of a QR code")
	return cmd
}

func (a *app) accountAdd(ctx context.Context, o *addOptions) error {
	if o.network == protocols.WhatsApp {
		return a.accountAddWhatsApp(ctx, o)
	}
	if o.phone != "" {
		return withCode(exitUsage, errors.New("--phone is for WhatsApp accounts"))
	}
	interactive := o.address == "" && isTerminal(a.io.in)
	if o.address == "" {
		if !interactive {
			return withCode(exitUsage, errors.New("ADDRESS is required when not run in a terminal"))
		}
		o.address = promptLine(a.io, fmt.Sprintf("%s address (e.g. %s): ", o.network, exampleAddress(o.network)))
		if o.server == "" {
			o.server = promptLine(a.io, "Server override (empty: discover): ")
		}
	}
	// A typo is refused before any secret is asked for.
	check := o.account()
	if err := check.Validate(); err != nil {
		return withCode(exitUsage, fmt.Errorf("invalid account: %w", err))
	}
	if rt := a.hosted; rt != nil {
		return a.addInCore(ctx, rt, o)
	}
	secrets, err := a.loginSecrets(o)
	if err != nil {
		return withCode(exitUsage, err)
	}
	// A running core holds the keystore and connects the accounts: it
	// adds this one and brings it online on every screen at once. The
	// secret goes with the command over the core's socket, which only
	// this user can open (see package remote); nothing logs it.
	if code, ok := runInCore(ctx, "account add", remote.Run{Args: o.coreArgs(), Secrets: secrets}, a.io); ok {
		return ranInCoreErr(code)
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	ks, err := a.openKeystore(cfg)
	if err != nil {
		return err
	}
	// The store keeps the contacts the login check sees, so the first
	// start shows them at once. Best effort: a data dir another process
	// holds right now only means they come with the first connect.
	var in *inbox.Inbox
	held := a.owner != nil || a.lock != nil
	if a.ownDataDir("") == nil {
		if !held {
			defer a.releaseDataDir()
		}
		if in, err = a.openClientInbox(cfg); err != nil {
			return err
		}
		defer in.Close()
		acc := o.account()
		in.RegisterAccount(acc.ID, acc.Network, linkFloor(acc))
	}
	m, err := a.newManager(cfg, ks, in)
	if err != nil {
		return err
	}
	_, err = a.addChecked(ctx, m, ks, o.account(), secrets)
	return err
}

// addInCore is `account add` run inside the core for another process
// (which read the password and sent it along): the core's Manager checks
// the login, saves, and connects the account, and the inbox learns of it
// as the TUI's add form tells it.
func (a *app) addInCore(ctx context.Context, rt *runtime, o *addOptions) error {
	secrets := forwardedSecrets(ctx)
	if secrets == nil {
		var err error
		if secrets, err = a.loginSecrets(o); err != nil {
			return withCode(exitUsage, err)
		}
	}
	added, err := a.addChecked(ctx, rt.accounts, rt.keys, o.account(), secrets)
	if err != nil {
		return err
	}
	statusView{m: rt.accounts, in: rt.inbox, log: a.log}.registered(added)
	rt.inbox.AccountsChanged()
	fmt.Fprintf(a.io.err, "the running Polyglot core (pid %d) connects it now\n", os.Getpid())
	return nil
}

// addChecked adds acc through m, which checks the login before it saves
// anything, and maps the outcome to the README's exit codes.
func (a *app) addChecked(ctx context.Context, m *accounts.Manager, ks keystore.Store, acc config.Account, secrets map[string][]byte) (config.Account, error) {
	fmt.Fprintf(a.io.err, "checking the login of %s…\n", acc.ID)
	added, err := m.AddWithSecrets(ctx, acc, secrets)
	var le *accounts.LoginError
	switch {
	case errors.As(err, &le) && le.Reason == accounts.ReasonAuth:
		return added, withCode(exitAuth, err)
	case errors.Is(err, accounts.ErrExists), errors.Is(err, accounts.ErrNoConnector):
		return added, withCode(exitUsage, err)
	case err != nil:
		return added, err
	}
	fmt.Fprintf(a.io.out, "added %s (%s); secrets are in the %s keystore\n", added.ID, added.Network, ks.Backend())
	return added, nil
}

// coreArgs is the command line that adds the account o describes in a
// running core: every choice made here (a prompt's answers, the CA file
// made absolute), and no password or token file, whose contents travel
// as the Run's secrets. WhatsApp's is its link options.
func (o *addOptions) coreArgs() []string {
	acc := o.account()
	args := []string{"account", "add", string(o.network), acc.Address}
	if o.network == protocols.WhatsApp {
		// The address is the phone's number, learnt when it confirms.
		args = args[:3]
	}
	for _, f := range [][2]string{{"server", acc.Server}, {"ca-file", acc.CAFile}, {"name", o.displayName}, {"reach", o.reach}, {"phone", o.phone}} {
		if f[1] != "" {
			args = append(args, "--"+f[0]+"="+f[1])
		}
	}
	if o.insecureTLS {
		args = append(args, "--insecure-loopback-tls")
	}
	return args
}

// account builds the account to add from what the user gave, the same for
// `account add` and the TUI's add form: the ID is network:address, the CA
// path is made absolute (config.toml must not depend on the directory
// polyglot was started in), and InsecureTLS is only what the user asked for
// (Validate refuses it unless the server is on loopback).
func (o *addOptions) account() config.Account {
	return config.Account{
		ID:           config.DefaultID(o.network, o.address),
		Network:      o.network,
		Address:      strings.TrimSpace(o.address),
		Server:       strings.TrimSpace(o.server),
		CAFile:       absPath(strings.TrimSpace(o.caFile)),
		InsecureTLS:  o.insecureTLS,
		DisplayName:  o.displayName,
		Reachability: config.Reachability(o.reach),
	}
}

func newAccountListCmd(f *factory) *cobra.Command {
	var online bool
	cmd := &cobra.Command{
		Use:         "list",
		Annotations: forwardToCore,
		Short:       "List accounts: network, address, state, server, name",
		Long: `Lists the configured accounts. Without --online the state is what the
config says (enabled or disabled); with --online each account connects and the
live state is shown (online, retrying, login needed…).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.accountList(cmd.Context(), online)
		},
	}
	cmd.Flags().BoolVar(&online, "online", false, "connect every account and show its live state")
	return cmd
}

func (a *app) accountList(ctx context.Context, online bool) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if len(cfg.Accounts) == 0 {
		fmt.Fprintln(a.io.out, "no accounts: add one with `polyglot account add xmpp|matrix|whatsapp ADDRESS`")
		return nil
	}
	state := map[string]string{}
	detail := map[string]string{}
	if online {
		rt, err := a.startClient(ctx, cfg)
		if err != nil {
			return err
		}
		defer rt.stop()
		rt.waitSettled(ctx)
		for _, st := range rt.accounts.Statuses() {
			state[st.Account], detail[st.Account] = st.State.String(), st.Detail
		}
	}
	w := tabwriter.NewWriter(a.io.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NETWORK\tADDRESS\tSTATE\tSERVER\tNAME") // NAME last: scripts reading the first columns keep working
	for _, acc := range cfg.Accounts {
		st := "enabled"
		if !acc.Enabled {
			st = "disabled"
		}
		if s, ok := state[acc.ID]; ok {
			st = s
			if d := detail[acc.ID]; d != "" {
				st += " (" + d + ")"
			}
		}
		server := acc.Server
		if server == "" {
			server = "(discover)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", acc.Network, acc.Address, st, server, acc.DisplayName)
	}
	return w.Flush()
}

func newAccountRemoveCmd(f *factory) *cobra.Command {
	io := f.io
	return &cobra.Command{
		Use:         "remove ACCOUNT",
		Annotations: forwardToCore,
		Short:       "Remove an account with its secrets (its messages stay in the inbox)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(exitUsage, errors.New("want one ACCOUNT (an address or network:address from `account list`)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			id, ok := findAccountID(cfg, args[0])
			if !ok {
				return withCode(exitUsage, fmt.Errorf("no account %q (see `polyglot account list`)", args[0]))
			}
			err = a.removeAccount(cmd.Context(), cfg, id)
			var lo *accounts.LogoutError
			if errors.As(err, &lo) && err == error(lo) {
				// Removed; only the server-side session remains.
				fmt.Fprintf(io.out, "removed %s and its secrets\n", id)
				fmt.Fprintf(io.err, "warning: %v\n", lo)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(io.out, "removed %s and its secrets\n", id)
			return nil
		},
	}
}

// removeAccount removes id: inside a running core through its Manager,
// which disconnects the account first, as the accounts screen does; else
// through one over the keystore, which this process then owns.
func (a *app) removeAccount(ctx context.Context, cfg *config.Config, id string) error {
	if rt := a.hosted; rt != nil {
		err := statusView{m: rt.accounts, in: rt.inbox, log: a.log}.remove(id)
		if errors.Is(err, accounts.ErrUnknownAccount) {
			return withCode(exitUsage, fmt.Errorf("the running core has no account %q: config.toml gained it after the core started; restart the core, then remove it", id))
		}
		return err
	}
	ks, err := a.openKeystore(cfg)
	if err != nil {
		return err
	}
	m, err := a.newManager(cfg, ks, nil)
	if err != nil {
		return err
	}
	return m.Remove(id)
}

func findAccountID(cfg *config.Config, s string) (string, bool) {
	for _, acc := range cfg.Accounts {
		if acc.ID == s || acc.Address == s {
			return acc.ID, true
		}
	}
	return "", false
}

// loginSecrets reads what the login needs: a password, or for Matrix an
// access token kept as the session the connector resumes.
func (a *app) loginSecrets(o *addOptions) (map[string][]byte, error) {
	if o.tokenFile == "" {
		pw, err := readSecret(a.io, o.passwordFile)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{accounts.SecretPassword: pw}, nil
	}
	if o.network != protocols.Matrix {
		return nil, errors.New("--token-file is for Matrix accounts")
	}
	if o.passwordFile != "" {
		return nil, errors.New("give --password-file or --token-file, not both")
	}
	raw, err := os.ReadFile(o.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return nil, errors.New("--token-file: the file is empty")
	}
	session, err := json.Marshal(matrix.Session{UserID: strings.TrimSpace(o.address), AccessToken: token})
	if err != nil {
		return nil, err
	}
	return map[string][]byte{accounts.SecretToken: session}, nil
}

// readSecret takes the password from a file or standard input (prompting
// without echo on a terminal) — never from a flag, which would show in ps.
func readSecret(s streams, file string) ([]byte, error) {
	var raw []byte
	var err error
	switch {
	case file != "":
		raw, err = os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
	case isTerminal(s.in):
		fmt.Fprint(s.err, "Password: ")
		raw, err = term.ReadPassword(int(s.in.(*os.File).Fd()))
		fmt.Fprintln(s.err)
		if err != nil {
			return nil, err
		}
	default:
		raw, err = bufio.NewReader(s.in).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password from standard input: %w", err)
		}
	}
	secret := []byte(strings.TrimRight(string(raw), "\r\n"))
	if len(secret) == 0 {
		return nil, errors.New("empty password: give it with --password-file FILE or on standard input")
	}
	return secret, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func promptLine(s streams, prompt string) string {
	fmt.Fprint(s.err, prompt)
	line, _ := bufio.NewReader(s.in).ReadString('\n')
	return strings.TrimSpace(line)
}

func exampleAddress(n protocols.Network) string {
	switch n {
	case protocols.Matrix:
		return "@alice:example.org"
	case protocols.WhatsApp:
		return "+4915123456789"
	}
	return "alice@example.org"
}
