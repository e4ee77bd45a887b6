package harness

import (
	"context"
	"time"
)

// Clock is the soak's source of time. Tests inject a fake so a 12-hour soak
// runs in seconds; production uses SystemClock.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SharedClock is a Clock that more than one goroutine of a soak waits on at
// once: the full sampler and the fast sampler beside it. A simulated clock
// implements it to hand time from one goroutine to the other
// deterministically: simulated time moves only while every goroutine that
// uses the clock waits in After, and one wait ends at a time, so the order
// of full and fast samples is the same on every run. The wall clock does not
// need it.
type SharedClock interface {
	Clock
	// Join counts one more goroutine that waits on the clock (the first,
	// the soak's own, is always counted); the returned leave uncounts it
	// when the goroutine ends and may be called more than once.
	Join() (leave func())
	// Stop withdraws a wait begun with After whose channel will not be
	// read, because the goroutine woke for another reason (its context
	// ended): the goroutine is working again, not waiting.
	Stop(ch <-chan time.Time)
}

// SystemClock is the wall clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// joinClock counts one more goroutine on c when it is a SharedClock.
func joinClock(c Clock) (leave func()) {
	if sc, ok := c.(SharedClock); ok {
		return sc.Join()
	}
	return func() {}
}

// stopWait withdraws an abandoned wait on c when it is a SharedClock.
func stopWait(c Clock, ch <-chan time.Time) {
	if sc, ok := c.(SharedClock); ok {
		sc.Stop(ch)
	}
}

// sleepUntil waits on c until at, or until ctx ends; it reports whether at
// was reached.
func sleepUntil(ctx context.Context, c Clock, at time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	ch := c.After(at.Sub(c.Now()))
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		stopWait(c, ch)
		return false
	}
}
