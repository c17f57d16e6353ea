package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binPath is the polyglot binary built once for the tests that run it.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "polyglot-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "polyglot")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", binPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic("building polyglot: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// profile is a throwaway user: XDG dirs in a temp dir and a keystore
// passphrase file, as a script would set them.
type profile struct {
	t                    *testing.T
	root                 string
	config, data, state  string
	passphrase, passFile string
	extraEnv             []string
}

func newProfile(t *testing.T) *profile {
	root := t.TempDir()
	p := &profile{t: t, root: root,
		config: filepath.Join(root, "config"), data: filepath.Join(root, "data"), state: filepath.Join(root, "state"),
		passphrase: "correct horse battery staple"}
	p.passFile = filepath.Join(root, "passphrase")
	if err := os.WriteFile(p.passFile, []byte(p.passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A failed test shows what the client logged (set POLYGLOT_LOG_LEVEL
	// for more).
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("the end of %s's polyglot.log:\n%s", t.Name(), p.logTail(100))
		if dir := os.Getenv("POLYGLOT_TEST_LOG_DIR"); dir != "" {
			b, _ := os.ReadFile(filepath.Join(p.state, "polyglot", "polyglot.log"))
			keep := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+filepath.Base(root)+".log")
			if err := os.WriteFile(keep, b, 0o600); err == nil {
				t.Logf("whole log kept in %s", keep)
			}
		}
	})
	return p
}

func (p *profile) env() []string {
	return append([]string{
		"HOME=" + p.root,
		"XDG_CONFIG_HOME=" + p.config,
		"XDG_DATA_HOME=" + p.data,
		"XDG_STATE_HOME=" + p.state,
		"POLYGLOT_PASSPHRASE_FILE=" + p.passFile,
		"PATH=" + os.Getenv("PATH"),
		"TERM=xterm-256color",
		// No session bus: the tests must never reach a developer's own
		// keyring (the keyring test brings a private one in extraEnv).
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(p.root, "no-bus"),
		"XDG_RUNTIME_DIR=" + filepath.Join(p.root, "run"),
		"POLYGLOT_LOG_LEVEL=" + os.Getenv("POLYGLOT_LOG_LEVEL"),
	}, p.extraEnv...)
}

// run executes the binary and returns stdout, stderr and the exit code.
func (p *profile) run(stdin string, args ...string) (string, string, int) {
	p.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = p.env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (p *profile) configFile() string { return filepath.Join(p.config, "polyglot", "config.toml") }

// assertNoSecret greps every file the project wrote for the secret, its
// base64 and its hex forms.
func (p *profile) assertNoSecret(secret string) {
	p.t.Helper()
	forms := [][]byte{
		[]byte(secret),
		[]byte(base64.StdEncoding.EncodeToString([]byte(secret))),
		[]byte(base64.RawStdEncoding.EncodeToString([]byte(secret))),
		[]byte(base64.URLEncoding.EncodeToString([]byte(secret))),
	}
	files := 0
	for _, dir := range []string{p.config, p.data, p.state} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			files++
			b, err := os.ReadFile(path)
			if err != nil {
				p.t.Errorf("read %s: %v", path, err)
				return nil
			}
			for _, f := range forms {
				if bytes.Contains(b, f) {
					p.t.Errorf("%s holds the secret (form %q)", path, f)
				}
			}
			if info, _ := d.Info(); info != nil && info.Mode().Perm()&0o077 != 0 {
				p.t.Errorf("%s has mode %v; want no group/other access", path, info.Mode().Perm())
			}
			return nil
		})
	}
	if files == 0 {
		p.t.Fatal("no files written: the grep would prove nothing")
	}
}

// The command surface scripts rely on: --help on every command, --version.
func TestHelpAndVersion(t *testing.T) {
	p := newProfile(t)
	out, _, code := p.run("", "--version")
	if code != 0 || !strings.Contains(out, version) {
		t.Fatalf("--version: %d %q", code, out)
	}
	for _, args := range [][]string{{}, {"demo"}, {"account"}, {"account", "add"}, {"account", "list"}, {"account", "remove"}, {"send"}, {"history"}, {"doctor"}} {
		out, _, code := p.run("", append(args, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v --help: exit %d\n%s", args, code, out)
		}
	}
	if _, stderr, code := p.run("", "send", "--to", "x@y"); code != exitUsage {
		t.Errorf("send without TEXT: exit %d, want %d (%s)", code, exitUsage, stderr)
	}
	if _, _, code := p.run("", "--no-such-flag"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, exitUsage)
	}
}
