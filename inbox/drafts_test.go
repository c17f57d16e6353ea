package inbox

import (
	"path/filepath"
	"testing"
	"time"

	"polyglot/protocols"
)

// A draft is kept per conversation, replaced by the next one, dropped when
// blank, and still there when the store is opened again.
func TestDraftsPerConversationAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	in, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var convs []ConversationID
	for _, id := range []string{"ann@example.org", "bob@example.org"} {
		a := protocols.Address{Network: protocols.XMPP, Account: "xm", ID: id, Server: "example.org"}
		if err := in.Ingest("xm", protocols.ContactEvent{Contact: a}); err != nil {
			t.Fatal(err)
		}
		if err := in.Ingest("xm", protocols.MessageEvent{Message: protocols.Message{NetworkID: protocols.MessageID("m-" + id),
			Chat: protocols.Chat{ID: protocols.ChatID(id)}, Sender: a, Body: "hi", Sent: time.Unix(1_700_000_000, 0)}}); err != nil {
			t.Fatal(err)
		}
		c, err := in.FindConversation("xmpp:" + id)
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}
	ann, bob := convs[0], convs[1]
	for _, step := range []struct {
		id   ConversationID
		text string
	}{{ann, "first"}, {ann, "half a thought\nsecond line"}, {bob, "for bob"}, {bob, "  \n"}} {
		if err := in.SetDraft(step.id, step.text); err != nil {
			t.Fatal(err)
		}
	}
	in.Close()

	if in, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if d, err := in.Draft(ann); err != nil || d != "half a thought\nsecond line" {
		t.Fatalf("ann's draft after reopening = %q, %v", d, err)
	}
	if d, err := in.Draft(bob); err != nil || d != "" {
		t.Fatalf("bob's blank draft was kept: %q, %v", d, err)
	}
}
