package testserver

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestProfanityOMEMO proves the profanity driver against real profanity,
// tmux and Prosody: two profanity users exchange OMEMO messages both ways,
// each sees the other's fingerprint as the other sees its own (the
// identity key in its bundle on the server), a message sent after
// `/omemo end` shows as plain, and the server stores the OMEMO messages
// only as <encrypted> elements.
func TestProfanityOMEMO(t *testing.T) {
	p := StartProsody(t)
	p.MakeContacts("alice", "alice-pw", "bob", "bob-pw")
	alice := StartProfanity(t, p, "alice", "alice-pw")
	bob := StartProfanity(t, p, "bob", "bob-pw")

	alice.StartOMEMO(bob.JID)
	bob.Open(alice.JID)
	alice.Send("secret from alice")
	if l := bob.WaitForText("secret from alice", ProfanityTimeout); !l.Encrypted {
		t.Errorf("bob shows alice's OMEMO message as not encrypted: %q", l.Text)
	}
	if l := alice.WaitForText("secret from alice", ProfanityTimeout); !l.Encrypted || !strings.Contains(l.Text, "me: ") {
		t.Errorf("alice shows her own OMEMO message as %q", l.Text)
	}

	bob.StartOMEMO(alice.JID)
	bob.Send("secret from bob")
	if l := alice.WaitForText("secret from bob", ProfanityTimeout); !l.Encrypted {
		t.Errorf("alice shows bob's OMEMO message as not encrypted: %q", l.Text)
	}

	// The marker is not a constant: a plain message shows "-".
	alice.EndOMEMO(bob.JID)
	alice.Send("plain from alice")
	if l := bob.WaitForText("plain from alice", ProfanityTimeout); l.Encrypted || l.Marker != "-" {
		t.Errorf("bob shows alice's plain message as %q (marker %q)", l.Text, l.Marker)
	}

	aliceFP, bobFP := alice.OwnFingerprint(), bob.OwnFingerprint()
	if aliceFP == bobFP {
		t.Fatalf("alice and bob have the same fingerprint %s", aliceFP)
	}
	if got := alice.ContactFingerprints(bob.JID); !slices.Equal(got, []string{bobFP}) {
		t.Errorf("alice knows bob as %v; bob's own fingerprint is %s", got, bobFP)
	}
	if got := bob.ContactFingerprints(alice.JID); !slices.Equal(got, []string{aliceFP}) {
		t.Errorf("bob knows alice as %v; alice's own fingerprint is %s", got, aliceFP)
	}
	if got := bob.ContactFingerprints("nobody@localhost"); len(got) != 0 {
		t.Errorf("bob knows fingerprints of a stranger: %v", got)
	}

	// The fingerprint is the bundle's identity key without its 0x05 type byte.
	peer := p.StartPeer(alice.JID, "alice-pw")
	typ, bundle := peer.IQ("get", bob.JID, itemsQuery(OMEMOBundles+bob.DeviceID))
	m := regexp.MustCompile(`<identityKey[^>]*>([^<]+)<`).FindStringSubmatch(bundle)
	if typ != "result" || m == nil {
		t.Fatalf("bob's bundle as alice fetches it: %s", bundle)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(m[1]))
	if err != nil || len(key) != 33 || key[0] != 0x05 || hex.EncodeToString(key[1:]) != bobFP {
		t.Errorf("bob's bundle identity key %x (%v) is not 05 || his fingerprint %s", key, err, bobFP)
	}
	peer.Close()

	// At rest on the server: the OMEMO messages only as <encrypted>.
	var items []StoredItem
	deadline := time.Now().Add(ProfanityTimeout)
	for {
		items = append(p.StoredItems("alice"), p.StoredItems("bob")...)
		if countContaining(items, "plain from alice") == 2 && countContaining(items, `<encrypted xmlns="`+OMEMONamespace+`">`) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the archives lack the messages after %s:\n%v", ProfanityTimeout, items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, secret := range []string{"secret from alice", "secret from bob"} {
		if n := countContaining(items, secret); n != 0 {
			t.Errorf("%q stored in plaintext %d times", secret, n)
		}
	}

	alice.Quit()
	bob.Quit()
}

func countContaining(items []StoredItem, s string) int {
	n := 0
	for _, it := range items {
		if strings.Contains(it.XML, s) {
			n++
		}
	}
	return n
}
