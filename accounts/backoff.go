package accounts

import (
	"math/rand/v2"
	"time"
)

// Clock is the time source of supervisors; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After delivers once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// Backoff is capped exponential backoff with "equal jitter": the ceiling
// for attempt n is min(Cap, Base·Factor^n); the delay is half the ceiling
// plus a uniformly random part of the other half. Unlike full jitter this
// never retries almost at once, and unlike no jitter many clients that went
// down together (a server restart) do not come back in lock-step.
type Backoff struct {
	Base    time.Duration // first ceiling (default 1 s)
	Factor  float64       // growth per attempt (default 2)
	Cap     time.Duration // largest ceiling (default 60 s)
	Healthy time.Duration // a connection up this long resets the attempt count (default 30 s)
	// Rand returns a float in [0,1); nil uses math/rand/v2.
	Rand func() float64
}

// DefaultBackoff: 1 s, ×2, capped at 60 s, reset after 30 s online. A chat
// client is waited on: once the server is back the user should not wait
// minutes for messages, and a minute between attempts of one client is no
// load on a server (the jitter still spreads a crowd out).
var DefaultBackoff = Backoff{Base: time.Second, Factor: 2, Cap: time.Minute, Healthy: 30 * time.Second}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoff.Base
	}
	if b.Factor < 1 {
		b.Factor = DefaultBackoff.Factor
	}
	if b.Cap <= 0 {
		b.Cap = DefaultBackoff.Cap
	}
	if b.Cap < b.Base {
		b.Cap = b.Base
	}
	if b.Healthy <= 0 {
		b.Healthy = DefaultBackoff.Healthy
	}
	if b.Rand == nil {
		b.Rand = rand.Float64
	}
	return b
}

// Ceiling is the upper bound of the delay before retry number attempt
// (0-based).
func (b Backoff) Ceiling(attempt int) time.Duration {
	b = b.withDefaults()
	c := float64(b.Base)
	for i := 0; i < attempt && c < float64(b.Cap); i++ {
		c *= b.Factor
	}
	return time.Duration(min(c, float64(b.Cap)))
}

// Delay is the jittered wait before retry number attempt: in
// [Ceiling/2, Ceiling).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	c := b.Ceiling(attempt)
	half := c / 2
	return half + time.Duration(b.Rand()*float64(c-half))
}
