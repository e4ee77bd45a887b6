package eval

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/trend"
)

func TestGrownFloors_MedianOfTheLastHourLessMedianOfTheFirstJudgedHour(t *testing.T) {
	// 13 points at 10 min with a 1 h warm-up leave 7 judged points; an hour
	// (6 points) is more than half of them, so each end is 3 points: the
	// first (1, 1, 1) has median 1, the last (9, 9, 25) median 9, and with
	// a floor of 2 that is (9 − 1)/2 = 4 floors.
	times := make([]float64, 13)
	for i := range times {
		times[i] = float64(i) * 600
	}
	v := []float64{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 9, 9, 25}
	got := grownFloors(times, v, trend.Options{Warmup: time.Hour}, 2)
	if got != 4 {
		t.Errorf("grown %v floors, want 4", got)
	}
}

func TestEvaluate_ListsTheGrowthOfEveryMissedLeak(t *testing.T) {
	rep, err := Evaluate(context.Background(), DefaultConfig(checks.DefaultPolicy(), 3, 40, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Classes {
		if !c.Class.Leak {
			if len(c.MissedFloors) != 0 {
				t.Errorf("%s: benign class lists %d missed leaks", c.Class.Name, len(c.MissedFloors))
			}
			continue
		}
		big := 0
		for _, g := range c.MissedFloors {
			if g > 10 {
				big++
			}
		}
		if e := c.BigMissEvents; e[0]+e[1]+e[2]+e[3] != big {
			t.Errorf("%s: %d misses above 10× the floor, counted by events as %v", c.Class.Name, big, e)
		}
		if len(c.MissedFloors) != c.N-c.Flagged[Judge] || !slices.IsSorted(c.MissedFloors) {
			t.Errorf("%s: %d misses listed (sorted %v) for %d of %d flagged", c.Class.Name, len(c.MissedFloors),
				slices.IsSorted(c.MissedFloors), c.Flagged[Judge], c.N)
		}
	}
	md := rep.Markdown()
	for _, want := range []string{"## Missed leaks", "| class | missed | above 10× floor | by events 0 / 1 / 2 / ≥3 | worst miss | growth of every miss (× floor) |",
		"Worst miss in a headline class: "} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestFloorsList_KeepsTheLargestFortyOfMore(t *testing.T) {
	gs := make([]float64, 45)
	for i := range gs {
		gs[i] = float64(i)
	}
	got := floorsList(gs)
	if !strings.HasPrefix(got, "(5 smaller) 5.0 6.0 ") || !strings.HasSuffix(got, " 43.0 44.0") {
		t.Errorf("list %q, want the 40 largest after a count of the 5 smaller", got)
	}
	if floorsList(nil) != "—" {
		t.Errorf("empty list printed %q", floorsList(nil))
	}
}

func TestEveryOkOnALargeGrowthNamesTheChecksThatVetoedIt(t *testing.T) {
	// Issue 16: a person must be able to disagree with an ok verdict on a
	// series that grew many times the floor, so its reason opens with the
	// growth and names every check that could have overruled the veto,
	// the size check included, with its figures.
	cfg := DefaultConfig(checks.DefaultPolicy(), 7, 0, 0)
	opts := cfg.Options
	opts.Alpha /= 300
	times := make([]float64, cfg.Points)
	for i := range times {
		times[i] = float64(i) * cfg.IntervalSeconds
	}
	large := 0
	for ci, c := range Classes() {
		if !c.Leak {
			continue
		}
		rng := rand.New(rand.NewPCG(7, uint64(ci)))
		for range 200 {
			v := c.gen(rng, times, opts.MinGrowth)
			r, err := trend.Analyze(times, v, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != trend.OK || grownFloors(times, v, opts, opts.MinGrowth) < 4 {
				continue
			}
			large++
			for _, want := range []string{"yet ok: ", "change-point check: ", "steps check: ", "increments check: ", "size check: last hour's median "} {
				if !strings.Contains(r.Reason, want) {
					t.Errorf("%s: ok on %.0f× the floor, reason lacks %q: %s", c.Name, grownFloors(times, v, opts, opts.MinGrowth), want, r.Reason)
					break
				}
			}
			if !strings.HasPrefix(r.Reason, "grew ") {
				t.Errorf("%s: reason does not open with the growth: %s", c.Name, r.Reason)
			}
		}
	}
	// The hard classes alone leave dozens of such verdicts on 200 series.
	if large < 10 {
		t.Errorf("%d ok verdicts on a growth of 4× the floor or more; the test needs some to look at", large)
	}
}
