package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"polyglot/protocols"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFullConfigAndDefaults(t *testing.T) {
	p := writeConfig(t, `
theme = "solarized"
keystore = "file"

[keys]
compose = "ctrl+n"

[notifications]
bell = true

[[account]]
network = "matrix"
address = "@me:example.org"
server = "https://matrix.example.org"

[[account]]
id = "work"
network = "XMPP"
address = "me@work.example"
enabled = false
reachability = "contacts"
display_name = "Work"

[[account]]
network = "xmpp"
address = "test@localhost"
server = "127.0.0.1:5222"
insecure_tls = true
`)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Theme != "solarized" || cfg.Keystore != "file" || cfg.Keys["compose"] != "ctrl+n" {
		t.Fatalf("top level: %+v", cfg)
	}
	if n := cfg.Notifications; !n.Enabled || !n.Bell || !n.Title || n.Desktop != "off" || n.Preview {
		t.Fatalf("notifications: %+v (enabled and title default to true, desktop to off, preview to false)", n)
	}
	a, b := cfg.Accounts[0], cfg.Accounts[1]
	if a.ID != "matrix:@me:example.org" || !a.Enabled || a.Reachability != ReachEveryone || a.Network != protocols.Matrix {
		t.Fatalf("defaults: %+v", a)
	}
	if b.ID != "work" || b.Enabled || b.Reachability != ReachContacts || b.Network != protocols.XMPP {
		t.Fatalf("explicit: %+v", b)
	}
	if !cfg.Accounts[2].InsecureTLS {
		t.Fatal("insecure_tls on loopback refused")
	}
}

// The new notification keys parse; "OSC777" is accepted in any case.
func TestNotificationKeys(t *testing.T) {
	cfg, err := Load(writeConfig(t, "[notifications]\ntitle = false\ndesktop = \"OSC777\"\npreview = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Notifications{Enabled: true, Title: false, Desktop: "osc777", Preview: true}
	if cfg.Notifications != want {
		t.Fatalf("notifications %+v, want %+v", cfg.Notifications, want)
	}
	if d := Default().Notifications; d != (Notifications{Enabled: true, Title: true, Desktop: "off"}) {
		t.Fatalf("defaults %+v", d)
	}
}

// [images] protocol parses in any case, defaults to auto, and survives
// a full re-render.
func TestImagesProtocolKey(t *testing.T) {
	if p := Default().Images.Protocol; p != "auto" {
		t.Fatalf("default image protocol %q, want auto", p)
	}
	cfg, err := Load(writeConfig(t, "[images]\nprotocol = \"HalfBlocks\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Images.Protocol != "halfblocks" {
		t.Fatalf("protocol %q, want halfblocks", cfg.Images.Protocol)
	}
	out, err := Encode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("config.toml", out)
	if err != nil || again.Images.Protocol != "halfblocks" {
		t.Fatalf("re-rendered config loads protocol %q (%v):\n%s", again.Images.Protocol, err, out)
	}
}

func TestMissingFileIsEmptyConfig(t *testing.T) {
	cfg, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err != nil || len(cfg.Accounts) != 0 || cfg.Keystore != "auto" {
		t.Fatalf("%+v, %v", cfg, err)
	}
}

// configErr loads text and returns its first ConfigError.
func configErr(t *testing.T, text string) *ConfigError {
	t.Helper()
	_, err := Load(writeConfig(t, text))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a ConfigError, got %v", err)
	}
	if !strings.Contains(err.Error(), "config.toml:") {
		t.Fatalf("error does not name the file: %v", err)
	}
	return ce
}

func TestConfigErrorsNameLineColumnAndFix(t *testing.T) {
	cases := []struct {
		name, text string
		line, col  int
		want, hint string
	}{
		{"syntax", "theme = \"a\"\n[[account]]\nnetwork = matrix\n", 3, 11, "", "syntax"},
		{"unknown network", "[[account]]\nnetwork = \"matirx\"\naddress = \"@a:b\"\n", 2, 1, `unknown network "matirx"`, `did you mean "matrix"`},
		{"unknown key", "[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b\"\n  servr = \"x:1\"\n", 4, 3, "unknown key", `did you mean "server"`},
		{"bad reachability", "[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b\"\nreachability = \"friends\"\n", 4, 1, `unknown reachability "friends"`, "own-server"},
		{"duplicate", "[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b\"\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b\"\n", 6, 1, "duplicate account id", "distinct id"},
		{"bad address", "[[account]]\nnetwork = \"matrix\"\naddress = \"me@example.org\"\n", 3, 1, "not a Matrix user ID", "@alice:example.org"},
		{"insecure remote", "[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b\"\nserver = \"jabber.org:5222\"\ninsecure_tls = true\n", 5, 1, "only allowed with a loopback", "ca_file"},
		{"missing network", "\n[[account]]\naddress = \"a@b\"\n", 2, 1, "missing network", "add network"},
		{"bad keystore", "keystore = \"vault\"\n", 1, 1, "unknown keystore", "keyring"},
		{"wrong type", "[notifications]\nbell = \"yes\"\n", 2, 1, "", "type"},
		{"bad desktop", "[notifications]\nbell = true\n  desktop = \"osc99\"\n", 3, 3, `unknown desktop notification kind "osc99"`, `did you mean "osc9"`},
		{"desktop word", "[notifications]\ndesktop = \"libnotify\"\n", 2, 1, `unknown desktop notification kind`, "osc777"},
		{"notifications typo", "[notifications]\npreveiw = true\n", 2, 1, "unknown key", `did you mean "preview"`},
		{"title type", "[notifications]\ntitle = 1\n", 2, 1, "", "type"},
		{"bad image protocol", "[images]\nprotocol = \"sixle\"\n", 2, 1, `unknown image protocol "sixle"`, `did you mean "sixel"`},
		{"image protocol word", "[images]\nprotocol = \"iterm\"\n", 2, 1, `unknown image protocol`, "halfblocks"},
		{"images typo", "[images]\nprotocl = \"kitty\"\n", 2, 1, "unknown key", `did you mean "protocol"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ce := configErr(t, c.text)
			if ce.Line != c.line || (c.col != 0 && ce.Column != c.col) {
				t.Errorf("at %d:%d, want %d:%d (%v)", ce.Line, ce.Column, c.line, c.col, ce)
			}
			if !strings.Contains(ce.Problem, c.want) || !strings.Contains(ce.Hint, c.hint) {
				t.Errorf("problem %q hint %q; want %q / %q", ce.Problem, ce.Hint, c.want, c.hint)
			}
		})
	}
}

func TestSaveRefusesToOverwriteBrokenFile(t *testing.T) {
	broken := "[[account]\nnetwork = \"xmpp\"\n# my precious notes\n"
	p := writeConfig(t, broken)
	err := Save(p, Default())
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("Save over a broken file: %v", err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, []byte(broken)) {
		t.Fatal("broken file was changed")
	}
	// An invalid (not just unparsable) file is protected too.
	invalid := "[[account]]\nnetwork = \"icq\"\naddress = \"1\"\n"
	os.WriteFile(p, []byte(invalid), 0o600)
	if Save(p, Default()) == nil {
		t.Fatal("Save replaced an invalid file")
	}
	if got, _ := os.ReadFile(p); string(got) != invalid {
		t.Fatal("invalid file was changed")
	}
}

func TestSaveRoundTripAndMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.toml")
	cfg := Default()
	cfg.Theme = "dark"
	cfg.Keys["quit"] = "ctrl+q"
	cfg.Notifications = Notifications{Enabled: false, Bell: true, Title: false, Desktop: "osc777", Preview: true}
	cfg.Accounts = []Account{
		{ID: "matrix:@a:b.org", Network: protocols.Matrix, Address: "@a:b.org", Enabled: true, Reachability: ReachEveryone},
		{ID: "me", Network: protocols.XMPP, Address: "me@x.org", Enabled: false, Reachability: ReachOwnServer, DisplayName: "Me",
			HistoryDays: 7, HistoryMessages: 500},
	}
	if err := Save(p, cfg); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Theme != "dark" || got.Keys["quit"] != "ctrl+q" || got.Notifications != cfg.Notifications {
		t.Fatalf("top level lost: %+v", got)
	}
	for i := range cfg.Accounts {
		if got.Accounts[i] != cfg.Accounts[i] {
			t.Fatalf("account %d: %+v != %+v", i, got.Accounts[i], cfg.Accounts[i])
		}
	}
	// Invalid configs are not written.
	bad := Default()
	bad.Accounts = []Account{{Network: "icq", Address: "x"}}
	if Save(p, bad) == nil {
		t.Fatal("saved an invalid config")
	}
}

func TestPathsFromXDG(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "relative/ignored"}
	p := PathsFrom(func(k string) string { return env[k] }, "/home/u")
	if p.Config != "/c/polyglot" || p.Data != "/home/u/.local/share/polyglot" || p.State != "/home/u/.local/state/polyglot" {
		t.Fatalf("%+v", p)
	}
	root := t.TempDir()
	p = Paths{Config: filepath.Join(root, "c"), Data: filepath.Join(root, "d"), State: filepath.Join(root, "s")}
	if err := p.EnsureDirs(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{p.Config, p.Data, p.State} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", d, st.Mode().Perm(), err)
		}
	}
	if a, b := p.AccountDir("xmpp:a@b"), p.AccountDir("xmpp_a_b"); a == b || strings.ContainsAny(filepath.Base(a), ":@") {
		t.Fatalf("account dirs %q %q", a, b)
	}
}

// history_days / history_messages bound a first login's history; a
// negative value is refused with the line it is on.
func TestHistoryDepthKeys(t *testing.T) {
	cfg, err := Load(writeConfig(t, "[[account]]\nnetwork = \"xmpp\"\naddress = \"me@x.org\"\nhistory_days = 7\nhistory_messages = 300\n"))
	if err != nil || cfg.Accounts[0].HistoryDays != 7 || cfg.Accounts[0].HistoryMessages != 300 {
		t.Fatalf("history keys: %+v, %v", cfg, err)
	}
	_, err = Load(writeConfig(t, "[[account]]\nnetwork = \"xmpp\"\naddress = \"me@x.org\"\nhistory_days = -1\n"))
	if err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative history_days: %v", err)
	}
}
