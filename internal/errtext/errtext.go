// Package errtext turns an error into text for a person. Our packages
// prefix their errors with "pkg: " (Go convention, useful in the log);
// shown to a user that reads as a chain ("inbox: Eve: …"), so the
// command line and the TUI both drop the prefixes here.
package errtext

import (
	"regexp"
)

var ourPrefixes = regexp.MustCompile(`(^|: )(inbox|accounts|keystore|themes|tui|protocols|matrix|xmpp|whatsapp|demo): `)

// Plain is s without our packages' prefixes.
func Plain(s string) string { return ourPrefixes.ReplaceAllString(s, "$1") }

// Of is err's message for a person; empty for nil.
func Of(err error) string {
	if err == nil {
		return ""
	}
	return Plain(err.Error())
}
