package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"polyglot/internal/tmuxtest"
)

// TestSearchCJKEndToEnd: in the demo, 山田 花子 writes
// "明日の会議、10時からで大丈夫ですか？"; the user answers a few times, so
// it scrolls out of sight. Typed into search, `/会議` — two characters
// inside a "word" of Japanese — finds it, and enter opens her conversation
// scrolled back to that message, selected.
func TestSearchCJKEndToEnd(t *testing.T) {
	const hit = "明日の会議、10時からで大丈夫ですか？"
	p := newProfile(t)
	env := append(p.env(), "POLYGLOT_DEMO_SPEED=20", "LANG=C.UTF-8")
	// A short terminal: a few messages push the hit off the screen.
	s := tmuxtest.Start(t, 100, 16, env, binPath)
	s.WaitFor(10*time.Second, "Alice Martin")
	// Her message arrives at 40 s of demo time (2 s here).
	s.WaitFor(30*time.Second, "明日の会議")

	openConversation(t, s, "山田 花子")
	s.WaitFor(5*time.Second, hit)
	for i := 1; i <= 6; i++ {
		note := fmt.Sprintf("e2e note %d", i)
		s.Type(note)
		s.Keys("Enter")
		s.WaitFor(10*time.Second, note)
	}
	s.WaitGone(10*time.Second, "明日の会議")

	pressEscape(s, 2) // composer → history → inbox
	s.Keys("/")
	s.WaitFor(5*time.Second, "type to search")
	s.Type("会議")
	screen, _ := s.WaitFor(10*time.Second, "/ 会議", hit)
	if strings.Contains(screen, "«") || strings.Contains(screen, "»") {
		t.Fatalf("the snippet markers reached the screen:\n%s", screen)
	}
	s.Keys("Enter")
	// The conversation, scrolled back to the hit, which is selected.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(selectedLine(s.Screen()), hit) {
		if time.Now().After(deadline) {
			t.Fatalf("the hit is not shown selected:\n%s", s.Screen())
		}
		time.Sleep(30 * time.Millisecond)
	}
	// The header (loaded beside the messages) names her.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(30 * time.Millisecond) {
		if lines := strings.Split(s.Screen(), "\n"); len(lines) > 1 && strings.HasPrefix(lines[1], "山田 花子") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not 山田 花子's conversation:\n%s", s.Screen())
		}
	}
	// The history has the keyboard: up selects the message before it.
	s.Keys("k")
	deadline = time.Now().Add(5 * time.Second)
	for strings.Contains(selectedLine(s.Screen()), hit) {
		if time.Now().After(deadline) {
			t.Fatalf("k did not move the selection:\n%s", s.Screen())
		}
		time.Sleep(30 * time.Millisecond)
	}
	s.Keys("C-c")
}
