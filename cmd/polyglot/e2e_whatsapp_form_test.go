package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/tmuxtest"
)

// unlinkedConfig has one WhatsApp account never linked here: the real
// client (not the demo) starts, nothing dials anywhere, and its row says
// "login needed" once the keystore is open.
const unlinkedConfig = "keystore = \"file\"\n\n[[account]]\nnetwork = \"whatsapp\"\naddress = \"+4915100000001\"\n"

// openWhatsAppForm starts the TUI in tmux and opens the add form on
// WhatsApp.
func openWhatsAppForm(t *testing.T, p *profile, extraEnv ...string) *tmuxtest.Session {
	t.Helper()
	writeConfig(t, p, unlinkedConfig)
	env := append(p.env(), "LANG=C.UTF-8")
	s := tmuxtest.Start(t, 100, 50, append(env, extraEnv...), "sh", "-c", `"$0"; echo "polyglot exited: $?"`, binPath)
	s.WaitFor(15*time.Second, "Inbox")
	s.Keys("A")
	s.WaitFor(30*time.Second, "› accounts", "[a] add", "login needed") // the keystore is open
	s.Keys("a")
	s.WaitFor(5*time.Second, "Add an account", "[XMPP]")
	s.Keys("BTab", "Right", "Right") // onto the network row, then XMPP → Matrix → WhatsApp
	s.WaitFor(5*time.Second, "[WhatsApp]", "link by", "[QR code]", "nothing is saved until the phone confirms")
	return s
}

// noLinkLeftovers fails if a link left a device store or scratch directory.
func noLinkLeftovers(t *testing.T, p *profile) {
	t.Helper()
	_ = filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), "whatsapp.db") || strings.HasPrefix(d.Name(), ".whatsapp-link-")) {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
}

// TestWhatsAppQRInTheAddForm: the TUI's add form links WhatsApp the way
// `account add whatsapp` does. The codes come through the same test seam
// (no WhatsApp server can run in tests); a QR decoder reading the pane's
// cells gets each code back, the form counts down and redraws at the
// rotation, and when no phone scanned any the form says so, keeps the
// program running and saves nothing.
func TestWhatsAppQRInTheAddForm(t *testing.T) {
	p := newProfile(t)
	first, second := fakeWhatsAppQR(t), fakeWhatsAppQR(t)
	codes := filepath.Join(p.root, "codes")
	if err := os.WriteFile(codes, []byte(first+"\n"+second+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openWhatsAppForm(t, p, testQREnv+"="+codes, testQREveryEnv+"=4s")
	s.Keys("Enter", "Enter") // network → link by; enter on the last row links

	screen, _ := s.WaitFor(10*time.Second, "Scan with the phone", "This code changes in")
	// A capture can catch the code half drawn: read until it decodes.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := decodeQR(screen)
		if err == nil && got == first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoded %q (%v), want the first code %q\n%s", got, err, first, screen)
		}
		screen = s.Screen()
	}
	s.WaitFor(4*time.Second, "This code changes in 2 s")

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
		t.Fatalf("rotation drew the code twice (%d titles):\n%s", n, screen)
	}

	// No phone scanned: the form says so and stays; nothing saved.
	s.WaitFor(10*time.Second, "no phone linked in time", "nothing was saved", "[QR code]")
	if b, _ := os.ReadFile(p.configFile()); string(b) != unlinkedConfig {
		t.Fatalf("config.toml changed by an unscanned link:\n%s", b)
	}
	noLinkLeftovers(t, p)

	// esc while a code shows cancels: the program goes on.
	s.Keys("Enter")
	s.WaitFor(10*time.Second, "Scan with the phone")
	s.Keys("Escape")
	s.WaitFor(5*time.Second, "adding cancelled: nothing was saved", "+4915100000001")
	noLinkLeftovers(t, p)
}

// TestWhatsAppFormWithNoRoute: with no route to WhatsApp's servers (the
// binary's whatsmeow dials through an HTTPS proxy that refuses, or that
// accepts and never answers), the form says within 15 s that they cannot
// be reached, for a QR code and for a pairing code, and nothing is saved.
func TestWhatsAppFormWithNoRoute(t *testing.T) {
	routes := map[string]func(t *testing.T) string{
		"refused": closedPort,
		"silent":  silentPort,
	}
	for name, route := range routes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newProfile(t)
			s := openWhatsAppForm(t, p, "HTTPS_PROXY=http://"+route(t))
			before := accountDirs(p)

			start := time.Now()
			s.Keys("Enter", "Enter")
			s.WaitFor(16*time.Second, "cannot reach WhatsApp's servers", "internet connection", "nothing was saved")
			if took := time.Since(start); took > 15*time.Second {
				t.Fatalf("QR code: took %s to say WhatsApp is unreachable, want ≤ 15 s", took)
			} else {
				t.Logf("QR code: the form said WhatsApp is unreachable after %s", took.Round(time.Millisecond))
			}

			// The pairing code, same route.
			s.Keys("Right", "Tab")
			s.WaitFor(5*time.Second, "[phone number]", "phone")
			s.Type("+491701234567")
			start = time.Now()
			s.Keys("Enter")
			s.WaitFor(16*time.Second, "cannot reach WhatsApp's servers", "internet connection", "nothing was saved")
			if took := time.Since(start); took > 15*time.Second {
				t.Fatalf("pairing code: took %s to say WhatsApp is unreachable, want ≤ 15 s", took)
			} else {
				t.Logf("pairing code: the form said WhatsApp is unreachable after %s", took.Round(time.Millisecond))
			}

			if b, _ := os.ReadFile(p.configFile()); string(b) != unlinkedConfig {
				t.Fatalf("config.toml changed by a failed link:\n%s", b)
			}
			noLinkLeftovers(t, p)
			if after := accountDirs(p); after != before {
				t.Fatalf("account directories changed by failed links: %q → %q", before, after)
			}
		})
	}
}

// accountDirs lists the profile's account directories.
func accountDirs(p *profile) string {
	entries, _ := os.ReadDir(filepath.Join(p.data, "polyglot", "accounts"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}
