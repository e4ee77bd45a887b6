package harness

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is simulated time (a SharedClock). It moves only when every
// goroutine using it waits in After, straight to the earliest wait, and
// ends one wait at a time (ties in the order they began), so a 12-hour
// soak runs in milliseconds and its full and fast samplers take turns in
// the same order on every run. With one goroutine, After moves time by d at
// once.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	// joined counts the goroutines besides the soak's own (Join).
	joined int
	waits  []*fakeWait
	seq    int
}

type fakeWait struct {
	at  time.Time
	seq int
	ch  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeWait{at: c.now.Add(max(d, 0)), seq: c.seq, ch: make(chan time.Time, 1)}
	c.seq++
	c.waits = append(c.waits, w)
	c.release()
	return w.ch
}

func (c *fakeClock) Join() func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joined++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.joined--
			c.release()
		})
	}
}

func (c *fakeClock) Stop(ch <-chan time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waits {
		if w.ch == ch {
			c.waits = append(c.waits[:i], c.waits[i+1:]...)
			return
		}
	}
}

// release ends the earliest wait once every goroutine waits. Called with
// c.mu held. It loops for a wait its goroutine abandoned without Stop (a
// wait counted for no goroutine), so such a wait cannot hold time still.
func (c *fakeClock) release() {
	for len(c.waits) > 0 && len(c.waits) >= 1+c.joined {
		first := 0
		for i, w := range c.waits {
			if w.at.Before(c.waits[first].at) || (w.at.Equal(c.waits[first].at) && w.seq < c.waits[first].seq) {
				first = i
			}
		}
		w := c.waits[first]
		c.waits = append(c.waits[:first], c.waits[first+1:]...)
		if w.at.After(c.now) {
			c.now = w.at
		}
		w.ch <- c.now
	}
}

var _ SharedClock = (*fakeClock)(nil)

func TestFakeClock_TimeMovesOnlyWhenEveryJoinedGoroutineWaits(t *testing.T) {
	c := newFakeClock()
	t0 := c.Now()
	leave := c.Join()

	first := c.After(3 * time.Minute)
	select {
	case at := <-first:
		t.Fatalf("a wait ended at %s while the joined goroutine was still working", at)
	default:
	}
	second := c.After(time.Minute) // the joined goroutine waits too: the earlier wait ends
	if at := <-second; !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("the 1-minute wait ended at %s, want %s", at, t0.Add(time.Minute))
	}
	select {
	case at := <-first:
		t.Fatalf("the 3-minute wait ended at %s while the other goroutine was working", at)
	default:
	}
	leave() // the joined goroutine ends: the soak's own wait is the only one left
	if at := <-first; !at.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("the 3-minute wait ended at %s, want %s", at, t0.Add(3*time.Minute))
	}
	leave() // a second leave changes nothing
	if at := <-c.After(time.Second); !at.Equal(t0.Add(3*time.Minute + time.Second)) {
		t.Errorf("alone, a wait ends at once %s later; got %s", time.Second, at)
	}
}

func TestFakeClock_AWithdrawnWaitNeitherEndsNorHoldsTime(t *testing.T) {
	c := newFakeClock()
	t0 := c.Now()
	leave := c.Join()
	defer leave()

	abandoned := c.After(time.Minute)
	c.Stop(abandoned) // its goroutine woke for another reason and works on
	later := c.After(5 * time.Minute)
	select {
	case at := <-later:
		t.Fatalf("a wait ended at %s while the other goroutine was working", at)
	default:
	}
	again := c.After(10 * time.Minute)
	if at := <-later; !at.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("the 5-minute wait ended at %s, want %s (the withdrawn 1-minute wait skipped)", at, t0.Add(5*time.Minute))
	}
	select {
	case <-abandoned:
		t.Error("a withdrawn wait ended")
	case <-again:
		t.Error("the 10-minute wait ended while the other goroutine was working")
	default:
	}
}
