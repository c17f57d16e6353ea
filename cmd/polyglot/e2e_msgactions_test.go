package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"polyglot/internal/tmuxtest"
)

// TestMessageActionsAgainstMatrix: matrix-nio sends a file into the
// end-to-end encrypted DM (uploaded AES-CTR encrypted, its key inside the
// Megolm-encrypted event); in the terminal the user selects it and presses
// o: the decrypted bytes land in the downloads dir and $POLYGLOT_OPENER is
// called with the path. Then reply, edit, react and delete from the TUI,
// each checked on nio's side as the Matrix relation it must be.
func TestMessageActionsAgainstMatrix(t *testing.T) {
	x := startNioDM(t, "hi bob, send me the file")
	p, nio, room := x.p, x.nio, x.room

	// The opener: a script that records the path it was asked to open.
	opened := filepath.Join(p.root, "opened")
	opener := filepath.Join(p.root, "opener.sh")
	os.WriteFile(opener, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+opened+"\necho opener noise\necho opener noise >&2\n"), 0o700)
	env := append(p.env(), "LANG=C.UTF-8", "POLYGLOT_OPENER="+opener)
	s := tmuxtest.Start(t, 120, 40, env, binPath)
	s.WaitFor(30*time.Second, "@alice:localhost online")
	s.WaitFor(10*time.Second, "bob")
	openConversation(t, s, "bob")
	s.WaitFor(10*time.Second, "hi bob, send me the file")

	// nio sends binary content under a hostile name.
	content := append([]byte("PDF-ish\x00\x01\x02\xff"), bytes.Repeat([]byte("polyglot "), 500)...)
	sent := nio.MustDo(map[string]any{"op": "send_file", "room": room, "name": "../../report\u202Etxt.sh",
		"mime": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(content)})
	if sent["encrypted_file"] != true {
		t.Fatalf("nio uploaded the file unencrypted: %v", sent)
	}
	fileEvent := sent["event_id"].(string)
	s.WaitFor(20*time.Second, "📎 ../../report")
	if strings.ContainsRune(s.Screen(), '\u202E') {
		t.Fatal("the bidi override in the file name reached the screen")
	}

	// Select the newest message (the file) and open it.
	s.Keys("Escape")
	s.WaitFor(5*time.Second, "▌ 📎 ../../report")
	s.Keys("o")
	s.WaitFor(30*time.Second, "opened ")
	downloads := filepath.Join(p.data, "polyglot", "downloads")
	want := filepath.Join(downloads, "reporttxt.sh")
	var got []byte
	deadline := time.Now().Add(10 * time.Second)
	for string(got) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the opener was called with %q, want %q\n%s", got, want, s.Screen())
		}
		time.Sleep(50 * time.Millisecond)
		got, _ = os.ReadFile(opened)
	}
	data, err := os.ReadFile(want)
	if err != nil || !bytes.Equal(data, content) {
		t.Fatalf("downloaded file: %v, %d bytes, equal=%v (want the %d bytes nio sent)", err, len(data), bytes.Equal(data, content), len(content))
	}
	for path, mode := range map[string]os.FileMode{downloads: 0o700, want: 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s: %v mode %v, want %v", path, err, st.Mode().Perm(), mode)
		}
	}
	// A second o reuses the file.
	os.Remove(opened)
	s.Keys("o")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if b, _ := os.ReadFile(opened); string(b) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second o did not open the file again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ents, _ := os.ReadDir(downloads); len(ents) != 1 {
		t.Fatalf("downloads holds %d files after opening twice, want 1", len(ents))
	}

	// Reply to the file.
	s.Keys("r")
	s.WaitFor(5*time.Second, "replying to")
	s.Type("got the file")
	s.Keys("Enter")
	reply, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		return ev["ev"] == "message" && ev["body"] == "got the file" && ev["sender"] == "@alice:localhost"
	})
	if err != nil {
		t.Fatalf("nio did not get the reply: %v\n%s", err, s.Screen())
	}
	if rel, _ := reply["relates_to"].(map[string]any); rel == nil || rel["m.in_reply_to"] == nil ||
		rel["m.in_reply_to"].(map[string]any)["event_id"] != fileEvent || reply["encrypted"] != true {
		t.Fatalf("the reply does not point at the file (or is not encrypted): %v", reply)
	}
	replyEvent := reply["event_id"].(string)

	// Edit the reply: it is the newest message.
	pressEscape(s, 1)
	s.Keys("G")
	s.WaitFor(5*time.Second, "▌ got the file")
	s.Keys("e")
	s.WaitFor(5*time.Second, "editing your message")
	s.Type(", thanks")
	s.Keys("Enter")
	edit, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool {
		rel, _ := ev["relates_to"].(map[string]any)
		return ev["ev"] == "message" && rel != nil && rel["rel_type"] == "m.replace"
	})
	if err != nil {
		t.Fatalf("nio got no edit: %v\n%s", err, s.Screen())
	}
	if rel := edit["relates_to"].(map[string]any); rel["event_id"] != replyEvent || edit["body"] != "* got the file, thanks" {
		t.Fatalf("edit %v, want m.replace of %s with the new text", edit, replyEvent)
	}
	s.WaitFor(10*time.Second, "got the file, thanks", "(edited)")
	time.Sleep(time.Second) // the server's echo of the edit duplicates nothing
	if n := strings.Count(s.Screen(), "got the file"); n != 1 {
		t.Fatalf("the edited reply shows %d times:\n%s", n, s.Screen())
	}
	s.WaitFor(time.Second, "↪ bob: 📎 ../../report")

	// React to the file with the first preset.
	pressEscape(s, 1)
	s.Keys("k")
	s.WaitFor(5*time.Second, "▌ 📎 ../../report")
	s.Keys("+")
	s.WaitFor(5*time.Second, "react: 1")
	s.Keys("1")
	reaction, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "reaction" })
	if err != nil {
		t.Fatalf("nio got no reaction: %v\n%v", err, nio.Events())
	}
	if reaction["target"] != fileEvent || reaction["key"] != "👍" || reaction["sender"] != "@alice:localhost" {
		t.Fatalf("reaction %v, want 👍 on %s", reaction, fileEvent)
	}
	s.WaitFor(10*time.Second, "👍1")

	// Delete the reply for everyone.
	s.Keys("G")
	s.WaitFor(5*time.Second, "▌ got the file, thanks")
	s.Keys("d")
	s.WaitFor(5*time.Second, "delete this message for everyone? y/n")
	s.Keys("y")
	red, err := nio.WaitEvent(30*time.Second, func(ev map[string]any) bool { return ev["ev"] == "redaction" })
	if err != nil {
		t.Fatalf("nio saw no redaction: %v", err)
	}
	if red["redacts"] != replyEvent {
		t.Fatalf("redaction %v, want of %s", red, replyEvent)
	}
	s.WaitFor(10*time.Second, "message deleted")
	s.WaitGone(10*time.Second, "got the file, thanks")
	// The echoes of all this from the server duplicated nothing.
	time.Sleep(2 * time.Second)
	if n := strings.Count(s.Screen(), "👍1"); n != 1 || strings.Contains(s.Screen(), "👍2") {
		t.Fatalf("the reaction shows %d times (or doubled) after its echo:\n%s", n, s.Screen())
	}
	p.assertNoSecret("alice-pw-5e1")
}
