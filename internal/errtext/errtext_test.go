package errtext

import (
	"errors"
	"testing"
)

func TestOfDropsPackagePrefixes(t *testing.T) {
	for in, want := range map[string]string{
		"inbox: Eve: message request not accepted yet":         "Eve: message request not accepted yet",
		"open store: inbox: create store directory: denied":    "open store: create store directory: denied",
		"keystore: wrong passphrase":                           "wrong passphrase",
		"not sent: matrix: send to @b:x: forbidden":            "not sent: send to @b:x: forbidden",
		`no route to bob@example.org: xmpp:bob@example.org ok`: `no route to bob@example.org: xmpp:bob@example.org ok`,
	} {
		if got := Of(errors.New(in)); got != want {
			t.Errorf("Of(%q) = %q, want %q", in, got, want)
		}
	}
}
