package protocols

import (
	"testing"
	"time"
)

// A history page stamped to the second still sorts before the oldest
// message held, in its own order; stamps already older stay as they are.
func TestOlderThanKeepsPageOrderBeforeFloor(t *testing.T) {
	sec := time.Unix(1_700_000_000, 0)
	floor := sec.Add(500 * time.Millisecond) // the oldest held message, same second
	page := []time.Time{sec.Add(-time.Minute), sec, sec, sec.Add(time.Second)}
	got, next := OlderThan(page, floor)
	if !got[0].Equal(page[0]) {
		t.Errorf("an older stamp was moved: %v", got[0])
	}
	for i := 1; i < len(got); i++ {
		if !got[i-1].Before(got[i]) {
			t.Fatalf("page order lost at %d: %v", i, got)
		}
	}
	if !got[len(got)-1].Before(floor) || !next.Equal(got[0]) {
		t.Fatalf("page %v not before floor %v (next floor %v)", got, floor, next)
	}
}
