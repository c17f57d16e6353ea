package testserver

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// ProfanityOMEMOMarker is the character profanity 0.13.1 draws after the
// time of an OMEMO message with its default settings (preference omemo.char,
// "~"); a plain message gets "-". (OTR and PGP default to "~" too; the
// driver never starts them.)
const ProfanityOMEMOMarker = "~"

// ProfanityLine is one message line of profanity's screen.
type ProfanityLine struct {
	Text      string // the line as drawn, continuation lines joined with "\n"
	Marker    string // the character after the time: "~" OMEMO, "-" plain
	Encrypted bool   // Marker is ProfanityOMEMOMarker
}

// messageStart matches the first line of a message: "HH:MM:SS M ".
var messageStart = regexp.MustCompile(`^\d\d:\d\d:\d\d (\S) `)

// continuation is the indent of a wrapped message's further lines: as wide
// as "HH:MM:SS M ".
const continuation = "           "

// Open focuses the chat window with jid (`/msg JID`), opening it if needed,
// and waits until its title shows jid. Send and WaitForText then work on it.
// (Profanity titles the window with the contact's roster name instead if
// the account's roster gives one; MakeContacts gives none.)
func (pr *Profanity) Open(jid string) {
	pr.t.Helper()
	pr.command("/msg " + jid)
	pr.open = jid
	pr.WaitScreen("chat window with "+jid, func(s string) bool { return strings.HasPrefix(s, " "+jid+" ") })
}

// StartOMEMO opens the chat with jid, runs `/omemo start JID`, and waits
// until the window is in OMEMO mode and profanity knows a fingerprint of
// jid (it has fetched a bundle and built a session), so the next Send is
// encrypted to jid's devices.
func (pr *Profanity) StartOMEMO(jid string) {
	pr.t.Helper()
	pr.Open(jid)
	pr.command("/omemo start " + jid)
	pr.WaitScreen("OMEMO mode with "+jid, func(s string) bool {
		title, _, _ := strings.Cut(s, "\n")
		return strings.HasPrefix(title, " "+jid+" ") && strings.Contains(title, "[OMEMO]")
	})
	deadline := time.Now().Add(ProfanityTimeout)
	for len(pr.ContactFingerprints(jid)) == 0 {
		if time.Now().After(deadline) {
			pr.t.Fatalf("testserver: profanity %s knows no OMEMO fingerprint of %s %s after /omemo start\nlog:\n%s", pr.JID, jid, ProfanityTimeout, pr.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// EndOMEMO runs `/omemo end` in the chat with jid and waits until the
// window is out of OMEMO mode: the next Send goes in plaintext.
func (pr *Profanity) EndOMEMO(jid string) {
	pr.t.Helper()
	pr.Open(jid)
	pr.command("/omemo end")
	pr.WaitScreen("plain mode with "+jid, func(s string) bool {
		title, _, _ := strings.Cut(s, "\n")
		return strings.HasPrefix(title, " "+jid+" ") && !strings.Contains(title, "[OMEMO]")
	})
}

// Send types text into the focused window (literally) and presses Enter.
// Text starting with "/" is a profanity command.
func (pr *Profanity) Send(text string) {
	pr.t.Helper()
	pr.command(text)
}

// WaitForText waits up to timeout until a message line on the visible pane
// contains text, and returns the newest such line. Only message lines count
// (not the input line or bars); a wrapped message is matched as a whole.
// Incoming messages land in their chat window: Open it first.
func (pr *Profanity) WaitForText(text string, timeout time.Duration) ProfanityLine {
	pr.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := pr.Screen()
		if l, ok := findMessage(s, text); ok {
			return l
		}
		if time.Now().After(deadline) {
			pr.t.Fatalf("testserver: profanity %s: no message %q on screen within %s:\n%s", pr.JID, text, timeout, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findMessage returns the newest message on screen that contains text.
func findMessage(screen, text string) (ProfanityLine, bool) {
	var found ProfanityLine
	ok := false
	lines := strings.Split(screen, "\n")
	for i := 0; i < len(lines); i++ {
		m := messageStart.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		msg := strings.TrimRight(lines[i], " ")
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], continuation) {
			i++
			msg += "\n" + strings.TrimRight(lines[i], " ")
		}
		// A wrapped line breaks text where the screen does: match with the
		// continuation indents removed too.
		flat := strings.ReplaceAll(msg, "\n"+continuation, "")
		if strings.Contains(msg, text) || strings.Contains(flat, text) {
			found = ProfanityLine{Text: msg, Marker: m[1], Encrypted: m[1] == ProfanityOMEMOMarker}
			ok = true
		}
	}
	return found, ok
}

// fingerprintLine matches what `/omemo fingerprint` prints per identity.
var (
	ownFingerprint     = regexp.MustCompile(`Your OMEMO fingerprint: ([0-9a-fA-F-]+)`)
	contactFingerprint = regexp.MustCompile(`(\S+)'s OMEMO fingerprint: ([0-9a-fA-F-]+)`)
)

// OwnFingerprint is what `/omemo fingerprint` prints as "Your OMEMO
// fingerprint", normalised to lowercase hex without dashes: 64 digits, the
// 32-byte Curve25519 identity public key itself. Profanity leaves out the
// 0x05 key-type byte that XEP-0384 v0.3 bundles carry in front of it
// (<identityKey> is base64 of 33 bytes, 0x05 + these 32) — checked against
// the bundle on the server.
func (pr *Profanity) OwnFingerprint() string {
	pr.t.Helper()
	out := pr.consoleOutput("/omemo fingerprint")
	m := ownFingerprint.FindStringSubmatch(out)
	if m == nil {
		pr.t.Fatalf("testserver: profanity %s printed no own fingerprint:\n%s", pr.JID, out)
	}
	return normaliseFingerprint(pr, m[1])
}

// ContactFingerprints is every fingerprint `/omemo fingerprint JID` prints
// for jid (one per device profanity knows), normalised like OwnFingerprint.
// Empty if profanity knows none yet.
func (pr *Profanity) ContactFingerprints(jid string) []string {
	pr.t.Helper()
	out := pr.consoleOutput("/omemo fingerprint " + jid)
	var fps []string
	for _, m := range contactFingerprint.FindAllStringSubmatch(out, -1) {
		if m[1] == jid {
			fps = append(fps, normaliseFingerprint(pr, m[2]))
		}
	}
	return fps
}

func normaliseFingerprint(pr *Profanity, s string) string {
	pr.t.Helper()
	fp := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(fp) != 64 {
		pr.t.Fatalf("testserver: profanity printed a fingerprint of %d hex digits, not 64: %q", len(fp), s)
	}
	return fp
}

var consoleSeq atomic.Int64

// consoleOutput runs a command in the cleared console window and returns
// what it printed: everything above an end mark, the answer profanity gives
// to an unknown command typed right after it (commands run in order, and
// the OMEMO ones print at once from profanity's own store). The chat window
// Open focused is focused again afterwards.
func (pr *Profanity) consoleOutput(cmd string) string {
	pr.t.Helper()
	mark := fmt.Sprintf("/polyglot-end-of-output-%d", consoleSeq.Add(1))
	pr.command("/win 1")
	pr.command("/clear")
	pr.command(cmd)
	pr.command(mark)
	s := pr.WaitScreen("output of "+cmd, func(s string) bool { return strings.Contains(s, "Unknown command: "+mark) })
	out, _, _ := strings.Cut(s, "Unknown command: "+mark)
	if pr.open != "" {
		pr.Open(pr.open)
	}
	return out
}
