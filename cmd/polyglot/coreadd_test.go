package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"polyglot/accounts"
	"polyglot/internal/testserver"
	"polyglot/internal/tmuxtest"
	"polyglot/keystore"
)

// TestAccountAddThroughTheCore: with `polyglot serve` running, `account
// add xmpp` from another process runs in the core. The password is read
// here (standard input) and sent over the socket; the core checks the
// login, saves the account and connects it at once: a screen attached
// before the add shows it online, as does `account list --online`, and
// the server has its session. A refused login, an account that exists and
// a server that is down exit with the codes they have with no core, and
// add nothing. `account remove` through the core ends the server session
// and removes the account and its secret.
func TestAccountAddThroughTheCore(t *testing.T) {
	const carolPW = "carol-pw-5e1c"
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("carol", carolPW)
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")

	wrong := filepath.Join(p.root, "wrong-pw")
	if err := os.WriteFile(wrong, []byte("not carol's password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addCarol := func(server string, more ...string) []string {
		return append([]string{"account", "add", "xmpp", "carol@localhost", "--server", server, "--ca-file", srv.CAFile()}, more...)
	}
	refusals := []struct {
		name string
		args []string
		code int
		say  string
	}{
		{"wrong password", addCarol(srv.Addr(), "--password-file", wrong), exitAuth, "carol@localhost"},
		{"already added", []string{"account", "add", "xmpp", "alice@localhost", "--server", srv.Addr(), "--ca-file", srv.CAFile(), "--password-file", wrong}, exitUsage, "already"},
		{"server down", addCarol(closedPort(t), "--password-file", wrong), exitError, "carol@localhost"},
		{"no password", addCarol(srv.Addr()), exitUsage, "empty password"},
	}
	// First with no core: the codes the core must keep.
	for _, r := range refusals {
		if _, stderr, code := p.run("", r.args...); code != r.code || !strings.Contains(stderr, r.say) {
			t.Fatalf("%s, no core: exit %d, want %d with %q: %s", r.name, code, r.code, r.say, stderr)
		}
	}

	startServe(t, p)
	// This process opens no keystore: a passphrase file that does not
	// exist would fail an add that ran here.
	away := *p
	away.extraEnv = append(append([]string(nil), p.extraEnv...), "POLYGLOT_PASSPHRASE_FILE="+filepath.Join(p.root, "no-such-file"))
	for _, r := range refusals {
		if _, stderr, code := away.run("", r.args...); code != r.code || !strings.Contains(stderr, r.say) {
			t.Fatalf("%s, through the core: exit %d, want %d with %q: %s", r.name, code, r.code, r.say, stderr)
		}
	}
	if cfg, _ := os.ReadFile(p.configFile()); strings.Contains(string(cfg), "carol") {
		t.Fatalf("a refused add saved the account:\n%s", cfg)
	}
	if out, _, _ := away.run("", "account", "list"); strings.Contains(out, "carol") {
		t.Fatalf("a refused add is listed:\n%s", out)
	}

	// A screen attached before the add shows it without a restart.
	screen := tmuxtest.Start(t, 150, 30, append(p.env(), "LANG=C.UTF-8"), binPath, "attach")
	screen.WaitFor(30*time.Second, "xmpp:alice@localhost online")
	screen.Keys("A")
	waitRow(t, screen, "alice@localhost", "online")

	start := time.Now()
	out, stderr, code := away.run(carolPW+"\n", addCarol(srv.Addr())...)
	if code != 0 || !strings.Contains(out, "added xmpp:carol@localhost") || !strings.Contains(stderr, "connects it now") {
		t.Fatalf("account add through the core: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	t.Logf("account add through the core took %s", time.Since(start).Round(time.Millisecond))
	waitRow(t, screen, "carol@localhost", "online")
	waitListed(t, &away, "carol@localhost", "online")
	if !strings.Contains(p.logTail(400), `"command":"account add"`) {
		t.Fatal("the core's log does not show the forwarded add")
	}
	live := carolSessions(t, srv)
	if len(live) != 1 {
		t.Fatalf("carol has %d live sessions on the server, want the core's one: %v\n%s", len(live), live, srv.Log())
	}
	if got, err := storedPassword(t, p, "xmpp:carol@localhost"); err != nil || string(got) != carolPW {
		t.Fatalf("carol's password in the keystore: %v", err)
	}
	p.assertNoSecret(carolPW)

	// Remove through the core: disconnected there, gone from the list,
	// the config and the keystore.
	out, stderr, code = away.run("", "account", "remove", "carol@localhost")
	if code != 0 || !strings.Contains(out, "removed xmpp:carol@localhost") {
		t.Fatalf("account remove through the core: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	screen.WaitGone(30*time.Second, "carol@localhost")
	deadline := time.Now().Add(30 * time.Second)
	for len(carolSessions(t, srv)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("carol's session stayed on the server after the remove: %v", carolSessions(t, srv))
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, stderr, code = away.run("", "account", "list", "--online")
	if code != 0 || strings.Contains(out, "carol") || !strings.Contains(out, "alice@localhost") {
		t.Fatalf("account list --online after the remove: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := storedPassword(t, p, "xmpp:carol@localhost"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("carol's password outlived the remove: %v", err)
	}
	// The account can be added again: nothing of it was left behind.
	if out, stderr, code := away.run(carolPW+"\n", addCarol(srv.Addr())...); code != 0 {
		t.Fatalf("account add again: exit %d\n%s%s", code, out, stderr)
	}
	waitListed(t, &away, "carol@localhost", "online")
}

// waitRow waits until a line of the screen has both texts (an account
// row and its state).
func waitRow(t *testing.T, s *tmuxtest.Session, row, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := s.Screen()
		for _, line := range strings.Split(screen, "\n") {
			if strings.Contains(line, row) && strings.Contains(line, state) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no row %q %q on the screen:\n%s", row, state, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitListed polls `account list --online` until address's row shows state.
func waitListed(t *testing.T, p *profile, address, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, stderr, code := p.run("", "account", "list", "--online")
		for _, line := range strings.Split(out, "\n") {
			if code == 0 && strings.Contains(line, address) && strings.Contains(line, state) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("account list --online never showed %s %s: exit %d\n%s%s", address, state, code, out, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// carolSessions are the c2s sessions Prosody's log shows authenticated as
// carol@localhost and not yet disconnected.
func carolSessions(t *testing.T, srv *testserver.Prosody) []string {
	t.Helper()
	auth := regexp.MustCompile(`(c2s[0-9a-f]+)\s+info\s+Authenticated as carol@localhost`)
	gone := regexp.MustCompile(`(c2s[0-9a-f]+)\s+info\s+Client disconnected`)
	live := map[string]bool{}
	for _, line := range strings.Split(srv.Log(), "\n") {
		if m := auth.FindStringSubmatch(line); m != nil {
			live[m[1]] = true
		} else if m := gone.FindStringSubmatch(line); m != nil {
			delete(live, m[1])
		}
	}
	var out []string
	for s := range live {
		out = append(out, s)
	}
	return out
}

// storedPassword reads account's password from the profile's secrets
// file, a second reader beside the core (reading takes no lock).
func storedPassword(t *testing.T, p *profile, account string) ([]byte, error) {
	t.Helper()
	ks, err := keystore.Open(keystore.Options{Dir: filepath.Join(p.data, "polyglot"), Backend: "file", PassphraseFile: p.passFile})
	if err != nil {
		t.Fatal(err)
	}
	return ks.Get(keystore.AccountSecret(account, accounts.SecretPassword))
}

// TestWhatsAppLinkThroughTheCore: with `polyglot serve` running, `account
// add whatsapp` links in the core. Its QR codes reach this terminal,
// redrawn in place as they rotate; an unscanned link ends with the exit
// code and words it has with no core and saves nothing; WhatsApp out of
// the core's reach is exit 69 here too. (No WhatsApp server runs in
// tests: the codes come from the binary's test seam, read by the core.)
func TestWhatsAppLinkThroughTheCore(t *testing.T) {
	p := newProfile(t)
	writeConfig(t, p, offlineAccount)
	storeSecret(t, p, p.passphrase, "xmpp:me@localhost", "pw")
	first, second := fakeWhatsAppQR(t), fakeWhatsAppQR(t)
	codes := filepath.Join(p.root, "codes")
	if err := os.WriteFile(codes, []byte(first+"\n"+second+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.extraEnv = append(p.extraEnv, testQREnv+"="+codes, testQREveryEnv+"=3s")
	firstCode := func(out string) string {
		_, block, _ := strings.Cut(out, "Scan with the phone")
		block, _, _ = strings.Cut(block, "Scan with the phone")
		got, err := decodeQR(block)
		if err != nil {
			t.Fatalf("no QR code in the output (%v):\n%s", err, out)
		}
		return got
	}
	out, stderr, wantCode := p.run("", "account", "add", "whatsapp")
	if wantCode == 0 || !strings.Contains(stderr, "nothing was saved") || firstCode(out) != first {
		t.Fatalf("an unscanned link with no core: exit %d\nstdout: %s\nstderr: %s", wantCode, out, stderr)
	}

	startServe(t, p)
	// This process cannot link: its codes file does not exist.
	away := *p
	away.extraEnv = append(append([]string(nil), p.extraEnv...), testQREnv+"="+filepath.Join(p.root, "no-such-file"))
	out, stderr, code := away.run("", "account", "add", "whatsapp")
	if code != wantCode || !strings.Contains(stderr, "nothing was saved") || firstCode(out) != first {
		t.Fatalf("an unscanned link through the core: exit %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, out, stderr)
	}

	// In a terminal the code is redrawn in place, as with no core.
	s := tmuxtest.Start(t, 100, 50, append(away.env(), "LANG=C.UTF-8"), binPath, "account", "add", "whatsapp")
	screen, _ := s.WaitFor(10*time.Second, "Scan with the phone", "This code changes in")
	if got, err := decodeQR(screen); err != nil || got != first {
		t.Fatalf("decoded %q (%v), want the first code\n%s", got, err, screen)
	}
	// The countdown moves in place: only a terminal gets it.
	s.WaitFor(3*time.Second, "This code changes in 1 s")
	deadline := time.Now().Add(8 * time.Second)
	for {
		screen = s.Screen()
		if got, err := decodeQR(screen); err == nil && got == second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second code never appeared:\n%s", screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(screen, "Scan with the phone"); n != 1 {
		t.Fatalf("rotation appended instead of redrawing (%d titles):\n%s", n, screen)
	}
	s.WaitFor(10*time.Second, "no phone linked in time", "nothing was saved")
	if cfg, _ := os.ReadFile(p.configFile()); strings.Contains(string(cfg), "whatsapp") {
		t.Fatalf("an unscanned link saved an account:\n%s", cfg)
	}
	_ = filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), "whatsapp.db") || strings.HasPrefix(d.Name(), ".whatsapp-link-")) {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
	if n := strings.Count(p.logTail(400), `"command":"account add"`); n != 2 {
		t.Fatalf("the core's log shows %d forwarded adds, want 2", n)
	}

	// ctrl+c here stops the link in the core at once (the codes would
	// last 6 s), with the exit code of a ctrl+c with no core.
	interrupted := func(who *profile) string {
		s := tmuxtest.Start(t, 100, 50, append(who.env(), "LANG=C.UTF-8"), "bash", "-c", binPath+" account add whatsapp; echo exit=$?")
		s.WaitFor(10*time.Second, "Scan with the phone")
		s.Keys("C-c")
		screen, _ := s.WaitFor(2*time.Second, "exit=")
		_, code, _ := strings.Cut(screen, "exit=")
		return strings.Fields(code)[0]
	}
	viaCore := interrupted(&away)
	links := func() []string {
		m, _ := filepath.Glob(filepath.Join(p.data, "polyglot", ".whatsapp-link-*"))
		return m
	}
	deadline = time.Now().Add(2 * time.Second)
	for len(links()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the core kept linking after ctrl+c: %v", links())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(p.logTail(400), `"command":"account add"`); n != 3 {
		t.Fatalf("the core's log shows %d forwarded adds, want 3", n)
	}
	alone := newProfile(t)
	alone.extraEnv = p.extraEnv
	if standalone := interrupted(alone); viaCore != standalone {
		t.Fatalf("ctrl+c through the core: exit %s; with no core: exit %s", viaCore, standalone)
	}
	t.Logf("ctrl+c during a link through the core: exit %s, as with no core", viaCore)

	// The core cannot reach WhatsApp: 69, as with no core.
	q := newProfile(t)
	writeConfig(t, q, offlineAccount)
	storeSecret(t, q, q.passphrase, "xmpp:me@localhost", "pw")
	q.extraEnv = append(q.extraEnv, "HTTPS_PROXY=http://"+closedPort(t))
	startServe(t, q)
	out, stderr, code = q.run("", "account", "add", "whatsapp", "--phone", "+491701234567")
	if code != exitUnavailable || !strings.Contains(stderr, "cannot reach WhatsApp's servers") || !strings.Contains(q.logTail(100), `"command":"account add"`) {
		t.Fatalf("WhatsApp out of the core's reach: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
}

// TestMatrixAccountAddThroughTheCore: the same through a core for a
// Matrix account on a real Dendrite: a wrong password exits 4 with no
// core and through one, and leaves no device on the server; the added
// account is the core's one device for that user, online in the core;
// `account remove` through the core logs that device out.
func TestMatrixAccountAddThroughTheCore(t *testing.T) {
	d := testserver.StartDendrite(t)
	d.CreateUser("alice", "alice-pw-3d9")
	erin := d.CreateUser("erin", "erin-pw-8a2")
	p := newProfile(t)
	addMatrixAccount(t, p, d, "@alice:localhost", "alice-pw-3d9")
	wrong := filepath.Join(p.root, "wrong-pw")
	if err := os.WriteFile(wrong, []byte("not erin's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addErin := func(pwFile string) []string {
		return []string{"account", "add", "matrix", erin, "--server", d.URL(), "--password-file", pwFile}
	}
	if _, stderr, code := p.run("", addErin(wrong)...); code != exitAuth {
		t.Fatalf("a wrong password with no core: exit %d: %s", code, stderr)
	}

	startServe(t, p)
	away := *p
	away.extraEnv = append(append([]string(nil), p.extraEnv...), "POLYGLOT_PASSPHRASE_FILE="+filepath.Join(p.root, "no-such-file"))
	if _, stderr, code := away.run("", addErin(wrong)...); code != exitAuth || !strings.Contains(stderr, erin) {
		t.Fatalf("a wrong password through the core: exit %d: %s", code, stderr)
	}
	if devs := d.Devices(t, erin, "erin-pw-8a2"); len(devs) != 0 {
		t.Fatalf("refused adds left devices on the server: %v", devs)
	}

	right := filepath.Join(p.root, "erin-pw")
	if err := os.WriteFile(right, []byte("erin-pw-8a2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := away.run("", addErin(right)...); code != 0 || !strings.Contains(out, "added matrix:"+erin) {
		t.Fatalf("account add through the core: exit %d\n%s%s", code, out, stderr)
	}
	waitListed(t, &away, erin, "online")
	if devs := d.Devices(t, erin, "erin-pw-8a2"); len(devs) != 1 {
		t.Fatalf("erin has %d devices on the server, want the core's one: %v", len(devs), devs)
	}

	if out, stderr, code := away.run("", "account", "remove", erin); code != 0 || !strings.Contains(out, "removed matrix:"+erin) || stderr != "" {
		t.Fatalf("account remove through the core: exit %d\n%s%s", code, out, stderr)
	}
	if devs := d.Devices(t, erin, "erin-pw-8a2"); len(devs) != 0 {
		t.Fatalf("the removed account's device stays on the server: %v", devs)
	}
	if out, _, code := away.run("", "account", "list", "--online"); code != 0 || strings.Contains(out, "erin") || !strings.Contains(out, "alice") {
		t.Fatalf("account list --online after the remove: exit %d\n%s", code, out)
	}

	// An access token read here logs in the core with its device.
	token, device := d.Login(t, erin, "erin-pw-8a2")
	tf := filepath.Join(p.root, "erin-token")
	if err := os.WriteFile(tf, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := away.run("", "account", "add", "matrix", erin, "--server", d.URL(), "--token-file", tf); code != 0 {
		t.Fatalf("account add --token-file through the core: exit %d\n%s%s", code, out, stderr)
	}
	waitListed(t, &away, erin, "online")
	if devs := d.Devices(t, erin, "erin-pw-8a2"); len(devs) != 1 || devs[0] != device {
		t.Fatalf("erin's devices %v, want only the token's %s", devs, device)
	}
	p.assertNoSecret(token)
	p.assertNoSecret("erin-pw-8a2")
}

// TestAccountAddThroughATUICore: the core can be a plain `polyglot` in a
// terminal (its keystore unlocked behind the first frame): an account
// added and removed beside it shows in its own screen at once, also one
// added by `account add` run bare in another terminal, which asks there.
func TestAccountAddThroughATUICore(t *testing.T) {
	srv := testserver.StartProsody(t)
	srv.Register("alice", "alice-pw")
	srv.Register("carol", "carol-pw")
	srv.Register("dave", "dave-pw")
	p := newProfile(t)
	addXMPPAccount(t, p, srv, "alice", "alice-pw")
	core := tmuxtest.Start(t, 150, 30, append(p.env(), "LANG=C.UTF-8"), binPath)
	core.WaitFor(30*time.Second, "xmpp:alice@localhost online")
	core.Keys("A")
	core.WaitFor(10*time.Second, "alice@localhost")

	out, stderr, code := p.run("carol-pw\n", "account", "add", "xmpp", "carol@localhost", "--server", srv.Addr(), "--ca-file", srv.CAFile())
	if code != 0 || !strings.Contains(stderr, "connects it now") {
		t.Fatalf("account add beside a TUI core: exit %d\n%s%s", code, out, stderr)
	}
	waitListed(t, p, "carol@localhost", "online")
	waitRow(t, core, "carol@localhost", "online")
	if out, stderr, code := p.run("", "account", "remove", "xmpp:carol@localhost"); code != 0 {
		t.Fatalf("account remove beside a TUI core: exit %d\n%s%s", code, out, stderr)
	}
	core.WaitGone(10*time.Second, "carol@localhost")

	// Run bare in a terminal, it asks here, then the core adds.
	cli := tmuxtest.Start(t, 120, 20, append(p.env(), "LANG=C.UTF-8"), "bash", "-c", binPath+` account add xmpp --ca-file "$0"; echo "exit=$?"`, srv.CAFile())
	cli.WaitFor(10*time.Second, "xmpp address")
	cli.Type("dave@localhost")
	cli.Keys("Enter")
	cli.WaitFor(5*time.Second, "Server override")
	cli.Type(srv.Addr())
	cli.Keys("Enter")
	cli.WaitFor(5*time.Second, "Password:")
	cli.Type("dave-pw")
	cli.Keys("Enter")
	screen, _ := cli.WaitFor(30*time.Second, "added xmpp:dave@localhost", "connects it now", "exit=0")
	if strings.Contains(screen, "dave-pw") {
		t.Fatalf("the password was echoed:\n%s", screen)
	}
	waitRow(t, core, "dave@localhost", "online")
	p.assertNoSecret("dave-pw")
}
