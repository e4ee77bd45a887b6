package eval

import (
	"context"
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
		if len(c.MissedFloors) != c.N-c.Flagged[Judge] || !slices.IsSorted(c.MissedFloors) {
			t.Errorf("%s: %d misses listed (sorted %v) for %d of %d flagged", c.Class.Name, len(c.MissedFloors),
				slices.IsSorted(c.MissedFloors), c.Flagged[Judge], c.N)
		}
	}
	md := rep.Markdown()
	for _, want := range []string{"## Missed leaks", "| class | missed | above 10× floor | worst miss | growth of every miss (× floor) |",
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
