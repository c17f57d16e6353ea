package xmpp

import (
	"testing"

	"polyglot/protocols"
)

// TestFileOfAcceptsOnlyHTTPSAndEncryptedAESGCM: an OOB URL becomes an
// attachment only over https; an aesgcm:// body only inside OMEMO (in
// the clear its key would be the server's to read, and a plain sender
// could pass off any URL as a file); other schemes stay text.
func TestFileOfAcceptsOnlyHTTPSAndEncryptedAESGCM(t *testing.T) {
	key := "aesgcm://up.example/a/b/photo.jpg#00112233445566778899aabb" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cases := []struct {
		body string
		oob  []OOB
		e2ee bool
		want string // attachment URL, "" for none
		left string // body left
	}{
		{"https://up.example/f/cat.png", []OOB{{URL: "https://up.example/f/cat.png"}}, false, "https://up.example/f/cat.png", ""},
		{"look", []OOB{{URL: "https://up.example/f/cat.png"}}, false, "https://up.example/f/cat.png", "look"},
		{"http://up.example/f/cat.png", []OOB{{URL: "http://up.example/f/cat.png"}}, false, "", "http://up.example/f/cat.png"},
		{"javascript:alert(1)", []OOB{{URL: "javascript:alert(1)"}}, false, "", "javascript:alert(1)"},
		{"file:///etc/passwd", []OOB{{URL: "file:///etc/passwd"}}, false, "", "file:///etc/passwd"},
		{key, nil, true, key, ""},
		{key, nil, false, "", key},
		{"see " + key, nil, true, "", "see " + key},
	}
	for _, c := range cases {
		body, atts := fileOf(c.body, c.oob, c.e2ee)
		got := ""
		if len(atts) == 1 {
			got = atts[0].URL
		}
		if got != c.want || body != c.left {
			t.Errorf("fileOf(%q, %v, %v) = %q, %v; want %q, %q", c.body, c.oob, c.e2ee, body, atts, c.left, c.want)
		}
	}
	_, atts := fileOf(key, nil, true)
	if atts[0].Name != "photo.jpg" || atts[0].MIME != "image/jpeg" {
		t.Fatalf("attachment %+v", atts[0])
	}
	var _ protocols.Downloader = (*Connector)(nil)
}
