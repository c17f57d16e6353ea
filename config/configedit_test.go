package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"polyglot/protocols"
)

// annotated is a power user's config: comments everywhere, odd spacing,
// a quoted key, a literal string, a commented-out option.
const annotated = `# My Polyglot setup. Hand-written: keep these notes!
theme = "solarized"   # the dark one

# Key overrides
[keys]
compose = "ctrl+n"  # muscle memory from mutt
"quit" = 'ctrl+q'

[notifications]
# ring, but no popups at work
bell = true
desktop  = "off"

# Personal Matrix account
[[account]]
network = "matrix"
address = "@me:example.org"
server  = "https://matrix.example.org"   # self-hosted

# Work XMPP; reachability tightened
[[account]]
id = "work"
network = "xmpp"
address = "me@work.example"
reachability = "contacts"
# display_name = "Work"
`

// change loads the file at p, applies f and saves; it returns the new text.
func change(t *testing.T, p string, f func(*Config)) string {
	t.Helper()
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	f(cfg)
	if err := Save(p, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Whatever was written loads to what was asked for.
	back, err := Load(p)
	if err != nil {
		t.Fatalf("saved file does not load: %v\n%s", err, got)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Fatalf("saved file loads to\n%+v\nwant\n%+v", back, cfg)
	}
	if _, err := os.Stat(p + ".bak"); err == nil {
		t.Fatal("an in-place edit left a .bak: it fell back to a full rewrite")
	}
	return string(got)
}

var newXMPP = Account{ID: "xmpp:new@x.org", Network: protocols.XMPP, Address: "new@x.org", Enabled: true, Reachability: ReachEveryone}

func TestSaveAddAccountKeepsEveryLine(t *testing.T) {
	p := writeConfig(t, annotated)
	got := change(t, p, func(c *Config) { c.Accounts = append(c.Accounts, newXMPP) })
	want := annotated + "\n[[account]]\nnetwork = \"xmpp\"\naddress = \"new@x.org\"\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Tables after the accounts stay after them; the new block joins the
// accounts, in the indentation they use.
func TestSaveAddAccountBeforeLaterTables(t *testing.T) {
	orig := "[[account]]\n  network = \"xmpp\"\n  address = \"a@b.org\"\n\n# notification prefs\n[notifications]\nbell = true\n"
	p := writeConfig(t, orig)
	got := change(t, p, func(c *Config) {
		c.Accounts = append(c.Accounts, Account{ID: "work", Network: protocols.Matrix, Address: "@w:x.org",
			Server: "https://m.x.org", DisplayName: `Work "HQ"`, Enabled: false, Reachability: ReachContacts})
	})
	want := "[[account]]\n  network = \"xmpp\"\n  address = \"a@b.org\"\n\n" +
		"[[account]]\n  id = \"work\"\n  network = \"matrix\"\n  address = \"@w:x.org\"\n  server = \"https://m.x.org\"\n" +
		"  display_name = \"Work \\\"HQ\\\"\"\n  enabled = false\n  reachability = \"contacts\"\n\n" +
		"# notification prefs\n[notifications]\nbell = true\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSaveDisableChangesOneLine(t *testing.T) {
	p := writeConfig(t, annotated)
	got := change(t, p, func(c *Config) { c.Accounts[0].Enabled = false })
	want := strings.Replace(annotated, "   # self-hosted\n", "   # self-hosted\nenabled = false\n", 1)
	if got != want {
		t.Fatalf("disable added more than the enabled line:\n%s", got)
	}
	// Enabling again edits that line in place.
	got = change(t, p, func(c *Config) { c.Accounts[0].Enabled = true })
	if want = strings.Replace(want, "enabled = false", "enabled = true", 1); got != want {
		t.Fatalf("re-enable:\n%s", got)
	}
	// A value with a trailing comment keeps the comment.
	got = change(t, p, func(c *Config) { c.Accounts[0].Server = "https://new.example.org" })
	if want = strings.Replace(want, `server  = "https://matrix.example.org"   # self-hosted`,
		`server  = "https://new.example.org"   # self-hosted`, 1); got != want {
		t.Fatalf("server change:\n%s", got)
	}
}

func TestSaveRemoveAccountDeletesOnlyItsBlock(t *testing.T) {
	t.Run("first", func(t *testing.T) {
		p := writeConfig(t, annotated)
		got := change(t, p, func(c *Config) { c.Accounts = c.Accounts[1:] })
		want := strings.Replace(annotated, "# Personal Matrix account\n[[account]]\nnetwork = \"matrix\"\n"+
			"address = \"@me:example.org\"\nserver  = \"https://matrix.example.org\"   # self-hosted\n\n", "", 1)
		if got != want {
			t.Fatalf("got:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("last", func(t *testing.T) {
		p := writeConfig(t, annotated)
		got := change(t, p, func(c *Config) { c.Accounts = c.Accounts[:1] })
		want := annotated[:strings.Index(annotated, "\n\n# Work XMPP")+1]
		if got != want {
			t.Fatalf("got:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("comments opening the file stay", func(t *testing.T) {
		orig := "# all my accounts\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n"
		p := writeConfig(t, orig)
		if got := change(t, p, func(c *Config) { c.Accounts = nil }); got != "# all my accounts\n" {
			t.Fatalf("got %q", got)
		}
	})
}

func TestSaveTopLevelChanges(t *testing.T) {
	p := writeConfig(t, annotated)
	got := change(t, p, func(c *Config) {
		c.Theme = "light"
		c.Keystore = "file"
		c.Notifications.Preview = true
		c.Notifications.Bell = false
		delete(c.Keys, "quit")
		c.Keys["search"] = "ctrl+f"
	})
	want := strings.NewReplacer(
		`theme = "solarized"   # the dark one`, "theme = \"light\"   # the dark one\nkeystore = \"file\"",
		"\"quit\" = 'ctrl+q'\n", "search = \"ctrl+f\"\n",
		"bell = true\ndesktop  = \"off\"\n", "bell = false\ndesktop  = \"off\"\npreview = true\n",
	).Replace(annotated)
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A table that does not exist yet goes before the accounts; root keys go
// before the first table, below the file's opening comment.
func TestSaveNewTables(t *testing.T) {
	orig := "# mine\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n"
	p := writeConfig(t, orig)
	got := change(t, p, func(c *Config) {
		c.Notifications.Title = false
		c.Theme = "dark"
	})
	want := "# mine\n\ntheme = \"dark\"\n\n[notifications]\ntitle = false\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Odd but valid TOML survives edits elsewhere byte for byte.
func TestSaveOddTOMLRoundTrips(t *testing.T) {
	cases := []struct {
		name, orig string
		f          func(*Config)
		want       string
	}{
		{"CRLF line endings",
			"# notes\r\n[[account]]\r\nnetwork = \"xmpp\"\r\naddress = \"a@b.org\"\r\n",
			func(c *Config) { c.Accounts[0].Enabled = false },
			"# notes\r\n[[account]]\r\nnetwork = \"xmpp\"\r\naddress = \"a@b.org\"\r\nenabled = false\r\n"},
		{"CRLF, add",
			"[[account]]\r\nnetwork = \"xmpp\"\r\naddress = \"a@b.org\"\r\n",
			func(c *Config) { c.Accounts = append(c.Accounts, newXMPP) },
			"[[account]]\r\nnetwork = \"xmpp\"\r\naddress = \"a@b.org\"\r\n\r\n[[account]]\r\nnetwork = \"xmpp\"\r\naddress = \"new@x.org\"\r\n"},
		{"no trailing newline",
			"theme = \"x\" # t\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"",
			func(c *Config) { c.Accounts = append(c.Accounts, newXMPP) },
			"theme = \"x\" # t\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"new@x.org\""},
		{"quoted keys and headers",
			"[[ \"account\" ]]\n\"network\" = 'xmpp'\n'address' = \"a@b.org\" # me\n[ notifications ]\n\"bell\"=true\n",
			func(c *Config) { c.Accounts[0].Enabled = false; c.Notifications.Bell = false },
			"[[ \"account\" ]]\n\"network\" = 'xmpp'\n'address' = \"a@b.org\" # me\nenabled = false\n[ notifications ]\n\"bell\"=false\n"},
		{"dotted keys at the root",
			"notifications.bell = true # ding\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n",
			func(c *Config) { c.Notifications.Title = false },
			"notifications.bell = true # ding\nnotifications.title = false\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n"},
		{"multi-line string that looks like a header",
			"[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\ndisplay_name = \"\"\"\n[[account]]\nnot = a key\"\"\"\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"c@d.org\"\n",
			func(c *Config) { c.Accounts = c.Accounts[:1] },
			"[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\ndisplay_name = \"\"\"\n[[account]]\nnot = a key\"\"\"\n"},
		{"triple-quoted value and a comment that looks like a header",
			"theme = \"x\"\n[keys]\ncompose = \"\"\"ctrl+n\"\"\"\n[notifications]\ndesktop = 'osc9' # [[account]]\n",
			func(c *Config) { c.Accounts = append(c.Accounts, newXMPP) },
			"theme = \"x\"\n[keys]\ncompose = \"\"\"ctrl+n\"\"\"\n[notifications]\ndesktop = 'osc9' # [[account]]\n\n[[account]]\nnetwork = \"xmpp\"\naddress = \"new@x.org\"\n"},
		{"emptied string drops its line",
			"[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\ndisplay_name = \"Me\"  # shown in the status bar\nreachability = \"contacts\"\n",
			func(c *Config) { c.Accounts[0].DisplayName = "" },
			"[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\nreachability = \"contacts\"\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeConfig(t, c.orig)
			if got := change(t, p, c.f); got != c.want {
				t.Fatalf("got:\n%q\nwant:\n%q", got, c.want)
			}
		})
	}
}

// A save that changes nothing leaves the file alone.
func TestSaveNoChangeKeepsFile(t *testing.T) {
	p := writeConfig(t, annotated)
	before, _ := os.Stat(p)
	if got := change(t, p, func(*Config) {}); got != annotated {
		t.Fatalf("changed:\n%s", got)
	}
	if after, _ := os.Stat(p); !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("file rewritten although nothing changed")
	}
}

// Forms the editor does not follow are rendered afresh, with the old text
// kept in config.toml.bak (0600) and a warning in the log.
func TestSaveFallsBackWithBackup(t *testing.T) {
	orig := "# inline accounts\naccount = [ { network = \"xmpp\", address = \"a@b.org\" } ]\n"
	p := writeConfig(t, orig)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Accounts = append(cfg.Accounts, newXMPP)
	var logBuf bytes.Buffer
	if err := SaveLogged(p, cfg, zerolog.New(&logBuf)); err != nil {
		t.Fatal(err)
	}
	bak, err := os.ReadFile(p + ".bak")
	if err != nil || string(bak) != orig {
		t.Fatalf("backup %q, %v", bak, err)
	}
	if st, _ := os.Stat(p + ".bak"); st.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v", st.Mode().Perm())
	}
	back, err := Load(p)
	if err != nil || !reflect.DeepEqual(back, cfg) {
		t.Fatalf("rewritten file loads to %+v, %v", back, err)
	}
	if !strings.Contains(logBuf.String(), "config.toml.bak") || !strings.Contains(logBuf.String(), "inline") {
		t.Fatalf("log does not say why and where the backup is: %s", logBuf.String())
	}
}

// The check before the rename catches text that would load differently.
func TestCheckLoadsAsCatchesMismatch(t *testing.T) {
	want, _ := Parse("config.toml", []byte("theme = \"a\"\n"))
	if err := checkLoadsAs("config.toml", []byte("theme = \"b\"\n"), want); err == nil {
		t.Fatal("a different config passed the check")
	}
	if err := checkLoadsAs("config.toml", []byte("theme = \n"), want); err == nil {
		t.Fatal("broken text passed the check")
	}
	if err := checkLoadsAs("config.toml", []byte("theme = 'a' # same\n"), want); err != nil {
		t.Fatal(err)
	}
}

// FuzzEditConfig: whenever the editor accepts a file, its output loads to
// exactly the config asked for (the check in Save is a safety net, not the
// plan). Run longer with: go test -tags goolm -fuzz FuzzEditConfig ./config/
func FuzzEditConfig(f *testing.F) {
	for _, s := range []string{annotated,
		"[[account]]\r\nnetwork = \"xmpp\"\r\naddress = \"a@b.org\"",
		"notifications.bell = true\n[keys]\n\"a b\" = 'x'\n[[account]]\nnetwork=\"xmpp\"\naddress=\"a@b.org\"\ndisplay_name='''\n[x]'''\n",
		"# c\n\n# d\n[[account]]\nnetwork = \"matrix\"\naddress = \"@a:b.org\"\n# e\n[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\n\n",
	} {
		for op := range 6 {
			f.Add(s, byte(op))
		}
	}
	f.Fuzz(func(t *testing.T, text string, op byte) {
		old, err := Parse("config.toml", []byte(text))
		if err != nil {
			return
		}
		cfg := old.Clone()
		switch op % 6 {
		case 0:
			cfg.Accounts = append(cfg.Accounts, newXMPP)
		case 1:
			if len(cfg.Accounts) > 0 {
				cfg.Accounts = cfg.Accounts[1:]
			}
		case 2:
			for i := range cfg.Accounts {
				cfg.Accounts[i].Enabled = !cfg.Accounts[i].Enabled
			}
		case 3:
			cfg.Notifications.Bell = !cfg.Notifications.Bell
			cfg.Notifications.Desktop = "osc777"
		case 4:
			cfg.Theme += "x"
			cfg.Keystore = "keyring"
		case 5:
			for k := range cfg.Keys {
				delete(cfg.Keys, k)
				break
			}
			cfg.Keys["fuzz"] = "ctrl+z"
		}
		fc := toFile(cfg)
		full, err := render(fc)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Parse("config.toml", full)
		if err != nil {
			return // e.g. the new account's ID already taken
		}
		edited, err := editConfig([]byte(text), old, want, fc)
		if err != nil {
			return
		}
		if err := checkLoadsAs("config.toml", edited, want); err != nil {
			t.Fatalf("%v\nold:\n%q\nedited:\n%q", err, text, edited)
		}
	})
}

// A relative ca_file the user wrote stays relative when other things change
// (a full render would write the resolved absolute path).
func TestSaveKeepsRelativeCAFile(t *testing.T) {
	orig := "[[account]]\nnetwork = \"xmpp\"\naddress = \"a@b.org\"\nserver = \"127.0.0.1:5222\"\nca_file = \"ca.pem\" # next to this file\n"
	p := writeConfig(t, orig)
	if err := os.WriteFile(strings.TrimSuffix(p, "config.toml")+"ca.pem", []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := change(t, p, func(c *Config) { c.Accounts[0].DisplayName = "Lab" })
	if want := orig + "display_name = \"Lab\"\n"; got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
