package sshscreen

import (
	"testing"
	"time"
)

// TestFailedLoginsAreSlowedPerAddress: five free failures, then each
// answer waits twice as long (at most maxDelay), for that address only,
// until the failures are older than the window.
func TestFailedLoginsAreSlowedPerAddress(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	l := newAuthLimiter(func() time.Time { return now })
	var got []time.Duration
	for range 12 {
		got = append(got, l.delay("10.0.0.1"))
		l.failed("10.0.0.1")
	}
	want := []time.Duration{0, 0, 0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("attempt %d waits %s, want %s (all: %v)", i+1, got[i], want[i], got)
		}
	}
	for range 10 {
		l.failed("10.0.0.1")
	}
	if d := l.delay("10.0.0.1"); d != maxDelay {
		t.Fatalf("after 22 failures: %s, want the cap %s", d, maxDelay)
	}
	if d := l.delay("10.0.0.2"); d != 0 {
		t.Fatalf("another address waits %s", d)
	}
	now = now.Add(window + time.Second)
	if d := l.delay("10.0.0.1"); d != 0 {
		t.Fatalf("failures older than the window still slow: %s", d)
	}
}
