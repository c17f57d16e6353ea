package main

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"polyglot/config"
	"strings"
	"sync"
	"testing"
	"time"

	"polyglot/protocols"
)

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentPort accepts connections and never answers: a route that swallows
// packets, as a captive network or a dead link does.
func silentPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestAddWhatsAppWithNoRoute: with no route to WhatsApp's servers, both
// ways of linking say so within 15 s, exit 69 and write nothing — no
// config entry, no whatsapp.db, no scratch directory. The route is taken
// away for real: the binary's whatsmeow dials through an HTTPS proxy that
// refuses or never answers (this works whether or not the machine is
// online), and, when this machine cannot resolve web.whatsapp.com, also
// without any proxy.
func TestAddWhatsAppWithNoRoute(t *testing.T) {
	routes := map[string]func(t *testing.T) []string{
		"refused": func(t *testing.T) []string { return []string{"HTTPS_PROXY=http://" + closedPort(t)} },
		"silent":  func(t *testing.T) []string { return []string{"HTTPS_PROXY=http://" + silentPort(t)} },
		"no DNS": func(t *testing.T) []string {
			if _, err := net.LookupHost("web.whatsapp.com"); err == nil {
				t.Skip("this machine resolves web.whatsapp.com: the proxy cases cover it")
			}
			return nil
		},
	}
	ways := map[string][]string{
		"QR code":      {"account", "add", "whatsapp"},
		"pairing code": {"account", "add", "whatsapp", "--phone", "+491701234567"},
	}
	for rname, route := range routes {
		for wname, args := range ways {
			t.Run(rname+"/"+wname, func(t *testing.T) {
				t.Parallel()
				p := newProfile(t)
				p.extraEnv = append(p.extraEnv, route(t)...)
				start := time.Now()
				out, stderr, code := p.run("", args...)
				took := time.Since(start)
				if code != exitUnavailable {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUnavailable, out, stderr)
				}
				if took > 15*time.Second {
					t.Fatalf("took %s to say WhatsApp is unreachable, want ≤ 15 s", took)
				}
				for _, want := range []string{"cannot reach WhatsApp's servers", "check this computer's internet connection", "nothing was saved"} {
					if !strings.Contains(stderr, want) {
						t.Fatalf("stderr lacks %q:\n%s", want, stderr)
					}
				}
				if _, err := os.Stat(p.configFile()); !os.IsNotExist(err) {
					b, _ := os.ReadFile(p.configFile())
					t.Fatalf("config.toml written (%v):\n%s", err, b)
				}
				_ = filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
					if err != nil {
						return nil
					}
					name := d.Name()
					if strings.HasPrefix(name, "whatsapp.db") || strings.HasPrefix(name, ".whatsapp-link-") || name == "accounts" || name == "secrets.age" {
						t.Errorf("left behind: %s", path)
					}
					return nil
				})
				t.Logf("%s: exit %d after %s", rname, code, took.Round(time.Millisecond))
			})
		}
	}
}

// TestWhatsAppAccountNotLinked: a WhatsApp account in config.toml whose
// device store is missing (never linked here, or deleted) shows "login
// needed" and says how to link again, without making a store.
func TestWhatsAppAccountNotLinked(t *testing.T) {
	p := newProfile(t)
	writeConfig(t, p, "keystore = \"file\"\n\n[[account]]\nnetwork = \"whatsapp\"\naddress = \"+491701234567\"\n")
	out, stderr, code := p.run("", "account", "list", "--online")
	if code != 0 || !strings.Contains(out, "login needed (link again with `polyglot account add whatsapp`") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	_ = filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "whatsapp.db") {
			t.Errorf("a store was made for an unlinked account: %s", path)
		}
		return nil
	})
}

// TestWhatsAppRouteIsE2EEWhileOffline: an offline WhatsApp account still
// ranks as end-to-end encrypted (no WhatsApp message travels otherwise),
// so the route plan does not see a downgrade that cannot happen.
func TestWhatsAppRouteIsE2EEWhileOffline(t *testing.T) {
	acc := config.Account{ID: "whatsapp:+491701234567", Network: protocols.WhatsApp, Address: "+491701234567"}
	if got := linkFloor(acc); got != protocols.EncE2EE {
		t.Fatalf("linkFloor(whatsapp) = %v, want e2ee", got)
	}
}
