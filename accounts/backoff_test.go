package accounts

import (
	"math"
	"testing"
	"time"
)

// TestBackoffNeverWaitsMoreThanAMinute: after any number of failures the
// wait before the next attempt is at most 60 s, jitter included, and the
// jitter still spreads it (a crowd does not come back in lock-step).
func TestBackoffNeverWaitsMoreThanAMinute(t *testing.T) {
	for _, r := range []float64{0, 0.5, math.Nextafter(1, 0)} {
		b := DefaultBackoff
		b.Rand = func() float64 { return r }
		for attempt := 0; attempt <= 10_000; attempt++ {
			if d := b.Delay(attempt); d > time.Minute || d <= 0 {
				t.Fatalf("rand %v, attempt %d: delay %v, want (0, 60s]", r, attempt, d)
			}
		}
	}
	b := DefaultBackoff
	b.Rand = func() float64 { return 0 }
	lo := b.Delay(50)
	b.Rand = func() float64 { return math.Nextafter(1, 0) }
	if hi := b.Delay(50); hi-lo < 29*time.Second {
		t.Fatalf("capped delays span only [%v, %v]: the jitter is gone", lo, hi)
	}
}

func TestBackoffCeilingsAndJitterBounds(t *testing.T) {
	b := DefaultBackoff
	wantCeil := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range wantCeil {
		if got := b.Ceiling(i); got != w*time.Second {
			t.Fatalf("ceiling(%d) = %v, want %vs", i, got, int(w))
		}
	}
	if got := b.Ceiling(1000); got != time.Minute {
		t.Fatalf("huge attempt: %v", got)
	}
	for _, attempt := range []int{0, 3, 12} {
		c := b.Ceiling(attempt)
		lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
		var sum time.Duration
		const n = 5000
		for i := 0; i < n; i++ {
			d := b.Delay(attempt)
			if d < c/2 || d >= c {
				t.Fatalf("attempt %d: delay %v outside [%v, %v)", attempt, d, c/2, c)
			}
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		// Jitter really spreads over the whole half-interval.
		if lo > c/2+c/20 || hi < c-c/20 {
			t.Fatalf("attempt %d: samples only in [%v, %v] of [%v, %v)", attempt, lo, hi, c/2, c)
		}
		if mean := sum / n; mean < c*7/10 || mean > c*8/10 {
			t.Fatalf("attempt %d: mean %v, want about %v", attempt, mean, c*3/4)
		}
	}
}
