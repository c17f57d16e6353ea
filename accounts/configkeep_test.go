package accounts

import (
	"context"
	"os"
	"strings"
	"testing"

	"polyglot/config"
	"polyglot/protocols"
)

// handWritten is a config with the user's comments and spacing.
const handWritten = `# Work XMPP; reachability tightened
[[account]]
id = "work"   # the short name I use
network = "xmpp"
address = "me@work.example"
reachability = "contacts"
# display_name = "Work"
`

// Through the Manager, as `polyglot account add/disable/remove` use it.
func TestManagerKeepsHandWrittenConfig(t *testing.T) {
	sc := &script{}
	m, cfgFile, _, _ := realManager(t, sc)
	if err := os.WriteFile(cfgFile, []byte(handWritten), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add(context.Background(), config.Account{Network: protocols.XMPP, Address: "new@x.org"}, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	added := handWritten + "\n[[account]]\nnetwork = \"xmpp\"\naddress = \"new@x.org\"\n"
	if got, _ := os.ReadFile(cfgFile); string(got) != added {
		t.Fatalf("after add:\n%s", got)
	}
	if err := m.Disable("work"); err != nil {
		t.Fatal(err)
	}
	disabled := strings.Replace(added, "reachability = \"contacts\"\n", "reachability = \"contacts\"\nenabled = false\n", 1)
	if got, _ := os.ReadFile(cfgFile); string(got) != disabled {
		t.Fatalf("after disable:\n%s", got)
	}
	if err := m.Remove("xmpp:new@x.org"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(cfgFile); string(got) != strings.TrimSuffix(disabled, added[len(handWritten):]) {
		t.Fatalf("after remove:\n%s", got)
	}
}
