package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Profanity is a real profanity 0.13.1 (Debian, OMEMO built in) logged in to
// a test Prosody in its own tmux server, with OMEMO keys generated and
// published: an OMEMO peer nobody here wrote. Every wait polls the pane (or
// the server) for the state it needs.
type Profanity struct {
	t       testing.TB
	JID     string // bare JID, user@localhost
	home    string // HOME, XDG_CONFIG_HOME and XDG_DATA_HOME live under it
	socket  string // tmux server socket, one server per instance
	session string
	exit    string // file the shell writes profanity's exit status to

	DeviceID string // OMEMO device id profanity generated
	open     string // JID of the chat window Open last focused, "" for the console
}

// ProfanityTimeout bounds every wait of the driver: long enough that a
// loaded machine never hits it, so a timeout is a real failure.
const ProfanityTimeout = 60 * time.Second

var profanitySeq atomic.Int64

// StartProfanity registers user on p (or resets its password), makes its
// OMEMO device list node exist with an open access model (profanity 0.13 on
// Prosody 0.12 never creates it itself), starts `profanity -a JID` in a
// 160×50 tmux pane with a fresh XDG_DATA_HOME/XDG_CONFIG_HOME, waits until it
// is logged in, sets `/omemo trustmode blind`, runs `/omemo gen`, and waits
// until the new device is in the device list on the server and its bundle is
// published. Everything is stopped by t.Cleanup.
//
// A contact can fetch the bundle only if it may see the account's presence
// (Prosody's default PEP access model; profanity 0.13 asks for an open one
// only when the server's own disco lists publish-options, which Prosody 0.12
// does not): call p.MakeContacts for the two accounts before starting them.
func StartProfanity(t testing.TB, p *Prosody, user, password string) *Profanity {
	t.Helper()
	bin := NeedBinary(t, "profanity")
	NeedBinary(t, "tmux")
	if out, _ := exec.Command(bin, "-v").CombinedOutput(); !strings.Contains(string(out), "OMEMO support: Enabled") {
		t.Fatalf("testserver: %s is built without OMEMO (profanity -v):\n%s", bin, out)
	}
	jid := p.Register(user, password)

	// Before profanity logs in: it reads its own device list once, at /omemo gen.
	owner := p.StartPeer(jid, password)
	defer owner.Close()
	publishEmptyDeviceList(t, owner)

	// tmux sockets live under a short directory: a unix socket path is
	// limited to 108 bytes and t.TempDir() names can be long.
	sockDir, err := os.MkdirTemp("", "prof")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	pr := &Profanity{
		t:       t,
		JID:     jid,
		home:    t.TempDir(),
		socket:  filepath.Join(sockDir, "tmux.sock"),
		session: fmt.Sprintf("profanity%d", profanitySeq.Add(1)),
	}
	pr.exit = filepath.Join(pr.home, "exit-status")
	pr.writeAccount(p, password)
	pr.launch(bin)

	pr.WaitScreen("logged in", func(s string) bool {
		if strings.Contains(s, "Login failed") || strings.Contains(s, "Connection failed") {
			t.Fatalf("testserver: profanity %s could not log in:\n%s\n%s", jid, s, pr.logTail())
		}
		return strings.Contains(s, jid+"/profanity logged in successfully")
	})
	pr.command("/omemo trustmode blind")
	pr.WaitScreen("blind trust mode", func(s string) bool {
		return strings.Contains(s, "ALL OMEMO fingerprints will be trusted automatically")
	})
	pr.command("/omemo gen")
	var id []string
	pr.WaitScreen("OMEMO keys generated", func(s string) bool {
		id = deviceIDLine.FindStringSubmatch(s)
		return id != nil
	})
	pr.DeviceID = id[1]
	waitOMEMOPublished(t, owner, jid, pr.DeviceID, pr.logTail)
	return pr
}

var deviceIDLine = regexp.MustCompile(`Your Device ID is (\d+)\.`)

// writeAccount writes profanity's accounts file: the whole of a cold
// account. tls.policy=trust accepts this run's self-signed certificate.
func (pr *Profanity) writeAccount(p *Prosody, password string) {
	for _, d := range []string{"data/profanity", "config/profanity"} {
		if err := os.MkdirAll(filepath.Join(pr.home, d), 0o700); err != nil {
			pr.t.Fatal(err)
		}
	}
	port := strings.TrimPrefix(p.Addr(), "127.0.0.1:")
	acct := "[" + pr.JID + "]\nenabled=true\njid=" + pr.JID + "\nserver=127.0.0.1\nport=" + port +
		"\nresource=profanity\npassword=" + password + "\ntls.policy=trust\n"
	if err := os.WriteFile(filepath.Join(pr.home, "data/profanity/accounts"), []byte(acct), 0o600); err != nil {
		pr.t.Fatal(err)
	}
}

// launch starts profanity in a detached 160×50 session of a tmux server of
// its own; the shell records its exit status so Quit can wait for it.
func (pr *Profanity) launch(bin string) {
	env := []string{"env", "-i",
		"HOME=" + pr.home,
		"XDG_CONFIG_HOME=" + filepath.Join(pr.home, "config"),
		"XDG_DATA_HOME=" + filepath.Join(pr.home, "data"),
		"TERM=xterm-256color", "LANG=C.UTF-8", "PATH=" + os.Getenv("PATH"),
		bin, "-a", pr.JID, "-l", "DEBUG"}
	cmdline := shellQuote(env...) + "; echo $? > " + shellQuote(pr.exit) + "; exec sleep 3600"
	pr.tmux("-f", "/dev/null", "new-session", "-d", "-s", pr.session, "-x", "160", "-y", "50", cmdline)
	pr.t.Cleanup(func() { _ = exec.Command("tmux", "-S", pr.socket, "kill-server").Run() })
}

func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// target addresses the session's pane exactly ("=name:"), never by prefix.
func (pr *Profanity) target() string { return "=" + pr.session + ":" }

func (pr *Profanity) tmux(args ...string) string {
	pr.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", pr.socket}, args...)...).CombinedOutput()
	if err != nil {
		pr.t.Fatalf("testserver: tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// command types a line literally (send-keys -l) and presses Enter apart,
// so nothing in it is read as a tmux key name.
func (pr *Profanity) command(line string) {
	pr.t.Helper()
	pr.tmux("send-keys", "-t", pr.target(), "-l", line)
	pr.tmux("send-keys", "-t", pr.target(), "Enter")
}

// Screen is the visible pane as plain text: capture-pane without -e drops
// every colour and attribute sequence.
func (pr *Profanity) Screen() string {
	pr.t.Helper()
	return pr.tmux("capture-pane", "-p", "-t", pr.target())
}

// WaitScreen polls the pane until ok accepts it and returns that screen,
// failing the test with the screen and profanity's log after
// ProfanityTimeout; what names the awaited state in that message.
func (pr *Profanity) WaitScreen(what string, ok func(string) bool) string {
	pr.t.Helper()
	deadline := time.Now().Add(ProfanityTimeout)
	for {
		s := pr.Screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			pr.t.Fatalf("testserver: profanity %s: no %s within %s; screen:\n%s\nlog:\n%s", pr.JID, what, ProfanityTimeout, s, pr.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail is the end of profanity's own log (debug level, with the XMPP
// traffic), for failures: 40 lines, each cut at 300 bytes.
func (pr *Profanity) logTail() string {
	b, _ := os.ReadFile(filepath.Join(pr.home, "data/profanity/logs/profanity.log"))
	lines := strings.Split(dendriteLastLines(string(b), 40), "\n")
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = strings.ToValidUTF8(l[:300], "") + "…"
		}
	}
	return strings.Join(lines, "\n")
}

// Quit sends /quit and waits until the process has exited.
func (pr *Profanity) Quit() {
	pr.t.Helper()
	pr.command("/quit")
	deadline := time.Now().Add(ProfanityTimeout)
	for {
		if _, err := os.Stat(pr.exit); err == nil {
			return
		}
		if time.Now().After(deadline) {
			pr.t.Fatalf("testserver: profanity %s still running %s after /quit:\n%s", pr.JID, ProfanityTimeout, pr.Screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
