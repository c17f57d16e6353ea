package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/accounts"
	"polyglot/keystore"
	"polyglot/remote"
)

// offlineAccount is an XMPP account whose server refuses connections, in a
// config that keeps secrets in the passphrase file.
const offlineAccount = `keystore = "file"

[[account]]
network = "xmpp"
address = "me@localhost"
server = "127.0.0.1:1"
`

func writeConfig(t *testing.T, p *profile, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p.configFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.configFile(), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// storeSecret writes the account's password into the profile's secrets
// file under passphrase.
func storeSecret(t *testing.T, p *profile, passphrase, account, password string) {
	t.Helper()
	pf := filepath.Join(p.root, "other-passphrase")
	if err := os.WriteFile(pf, []byte(passphrase), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(keystore.Options{Dir: filepath.Join(p.data, "polyglot"), Backend: "file", PassphraseFile: pf, ScryptWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Set(keystore.AccountSecret(account, accounts.SecretPassword), []byte(password)); err != nil {
		t.Fatal(err)
	}
}

// holdDataDir takes p's data dir as a core would, until the test ends.
func holdDataDir(t *testing.T, p *profile) {
	t.Helper()
	dir := filepath.Join(p.data, "polyglot")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := remote.TryLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Release)
}

// TestExitCodesMatchTheREADME: one command line per row, for every code in
// the README's table. A refused command line is 2 — never 0 with the help
// printed, never 1.
func TestExitCodesMatchTheREADME(t *testing.T) {
	const acc = "xmpp:me@localhost"
	rows := []struct {
		name  string
		setup func(t *testing.T, p *profile)
		args  []string
		code  int
		say   string // in stderr (or stdout for 0)
	}{
		{"version", nil, []string{"--version"}, exitOK, version},
		{"help", nil, []string{"account", "--help"}, exitOK, "Usage:"},
		{"account list, none yet", nil, []string{"account", "list"}, exitOK, "no accounts"},
		{"doctor, no config file", nil, []string{"doctor"}, exitOK, "none yet"},
		{"history", func(t *testing.T, p *profile) { historyStore(t, p, 1) }, []string{"history", "Ann"}, exitOK, "n=0001"},

		{"doctor finds a problem", func(t *testing.T, p *profile) {
			writeConfig(t, p, "theme = \"no-such-theme\"\n")
		}, []string{"doctor"}, exitError, ""},

		{"unknown command", nil, []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"--frobnicate"}, exitUsage, "unknown flag"},
		{"unknown subcommand flag", nil, []string{"account", "list", "--frobnicate"}, exitUsage, "unknown flag"},
		{"send without --to", nil, []string{"send", "hello"}, exitUsage, `"to"`},
		{"send without text", nil, []string{"send", "--to", "bob@example.org"}, exitUsage, "TEXT"},
		{"send, two texts", nil, []string{"send", "--to", "bob@example.org", "a", "b"}, exitUsage, "TEXT"},
		{"account bare", nil, []string{"account"}, exitUsage, "needs a subcommand"},
		{"unknown account subcommand", nil, []string{"account", "frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"account list, extra argument", nil, []string{"account", "list", "extra"}, exitUsage, ""},
		{"account add, no network", nil, []string{"account", "add"}, exitUsage, "network"},
		{"account remove, unknown", nil, []string{"account", "remove", "nobody@example.org"}, exitUsage, "no account"},
		{"doctor, extra argument", nil, []string{"doctor", "extra"}, exitUsage, ""},
		{"demo, extra argument", nil, []string{"demo", "extra"}, exitUsage, ""},
		{"history, no address", nil, []string{"history"}, exitUsage, "ADDRESS"},
		{"contact find, not an address or number", nil, []string{"contact", "find", "bob"}, exitUsage, "not an address or a phone number"},
		{"history, bad limit", nil, []string{"history", "Ann", "--limit", "-1"}, exitUsage, "--limit"},
		{"malformed config", func(t *testing.T, p *profile) { writeConfig(t, p, "keystore = \n") }, []string{"account", "list"}, exitUsage, "config.toml"},
		{"unknown theme", func(t *testing.T, p *profile) { writeConfig(t, p, "theme = \"no-such-theme\"\n") }, []string{}, exitUsage, "theme"},
		{"unknown key action", func(t *testing.T, p *profile) { writeConfig(t, p, "[keys]\nfrobnicate = \"x\"\n") }, []string{}, exitUsage, "frobnicate"},
		{"bad demo speed", func(t *testing.T, p *profile) { p.extraEnv = append(p.extraEnv, "POLYGLOT_DEMO_SPEED=fast") }, []string{}, exitUsage, "POLYGLOT_DEMO_SPEED"},
		{"wrong keystore passphrase", func(t *testing.T, p *profile) {
			writeConfig(t, p, offlineAccount)
			storeSecret(t, p, "another passphrase", acc, "pw")
		}, []string{"send", "--to", "bob@localhost", "hello"}, exitUsage, "passphrase"},

		{"send, no account", nil, []string{"send", "--to", "bob@example.org", "hello"}, exitCannot, "no account configured"},
		{"contact find, no account", nil, []string{"contact", "find", "+491701234567"}, exitCannot, "no account configured"},
		{"history, unknown address", func(t *testing.T, p *profile) { historyStore(t, p, 1) }, []string{"history", "bob@example.org"}, exitCannot, "no conversation"},

		{"send, no password stored", func(t *testing.T, p *profile) { writeConfig(t, p, offlineAccount) },
			[]string{"send", "--to", "bob@localhost", "hello"}, exitAuth, "has no password in the keystore"},

		{"send, another process owns the data dir", func(t *testing.T, p *profile) {
			writeConfig(t, p, offlineAccount)
			storeSecret(t, p, p.passphrase, acc, "pw")
			holdDataDir(t, p)
		}, []string{"send", "--to", "bob@localhost", "hello"}, exitBusy, "owns this data dir"},
		{"passphrase beside a core", func(t *testing.T, p *profile) {
			writeConfig(t, p, offlineAccount)
			storeSecret(t, p, p.passphrase, acc, "pw")
			holdDataDir(t, p)
		}, []string{"passphrase"}, exitBusy, "does not run through it"},
		{"account add whatsapp, data dir taken", holdDataDir, []string{"account", "add", "whatsapp"}, exitBusy, "try again in a moment"},
		{"account add whatsapp with an address", nil, []string{"account", "add", "whatsapp", "+491701234567"}, exitUsage, "--phone"},
		{"account add whatsapp, bad phone", nil, []string{"account", "add", "whatsapp", "--phone", "call me"}, exitUsage, "not a phone number"},
		{"account add whatsapp, no route", func(t *testing.T, p *profile) {
			p.extraEnv = append(p.extraEnv, "HTTPS_PROXY=http://"+closedPort(t))
		}, []string{"account", "add", "whatsapp"}, exitUnavailable, "cannot reach WhatsApp's servers"},

		{"attach, no core running", nil, []string{"attach"}, exitNoCore, "no Polyglot core is running"},

		{"send --file, unreadable path", nil, []string{"send", "--to", "bob@example.org", "--file", "/nonexistent/holiday.png", "look"}, exitNoInput, "cannot read the file"},
		{"send --file, a directory", nil, []string{"send", "--to", "bob@example.org", "--file", "/"}, exitNoInput, "not a regular file"},

		{"send, every route offline", func(t *testing.T, p *profile) {
			writeConfig(t, p, offlineAccount)
			storeSecret(t, p, p.passphrase, acc, "pw")
		}, []string{"send", "--to", "bob@localhost", "--timeout", "3s", "hello"}, exitQueued, "queued"},
	}
	seen := map[int]bool{}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			p := historyProfile(t)
			if r.setup != nil {
				r.setup(t, p)
			}
			out, stderr, code := p.run("", r.args...)
			if code != r.code {
				t.Fatalf("polyglot %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), code, r.code, out, stderr)
			}
			if !strings.Contains(out+stderr, r.say) {
				t.Fatalf("polyglot %s: output lacks %q\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.say, out, stderr)
			}
			if code != exitOK && strings.Contains(out, "Usage:") {
				t.Fatalf("polyglot %s: exit %d printed the help", strings.Join(r.args, " "), code)
			}
			if strings.Contains(stderr, "inbox: ") || strings.Contains(stderr, "accounts: ") {
				t.Fatalf("polyglot %s: a Go error chain reaches the user: %s", strings.Join(r.args, " "), stderr)
			}
		})
		seen[r.code] = true
	}
	// exitTooLarge needs a server's limit: TestMatrixSendFileCLIExitCodes.
	for _, c := range []int{exitOK, exitError, exitUsage, exitCannot, exitAuth, exitBusy, exitNoCore, exitNoInput, exitUnavailable, exitQueued} {
		if !seen[c] {
			t.Errorf("no row for exit code %d", c)
		}
	}
}

// TestUserTextDropsPackagePrefixes: what the CLI prints reads as a
// sentence, not a Go error chain.
func TestUserTextDropsPackagePrefixes(t *testing.T) {
	for in, want := range map[string]string{
		"inbox: Eve: message request not accepted yet":         "Eve: message request not accepted yet",
		"open store: inbox: create store directory: denied":    "open store: create store directory: denied",
		"keystore: wrong passphrase":                           "wrong passphrase",
		`no route to bob@example.org: xmpp:bob@example.org ok`: `no route to bob@example.org: xmpp:bob@example.org ok`,
	} {
		if got := userText(errors.New(in)); got != want {
			t.Errorf("userText(%q) = %q, want %q", in, got, want)
		}
	}
}
