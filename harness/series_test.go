package harness

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
)

func TestReport_HandsTheJudgedSeriesOverWithoutCopyingThem(t *testing.T) {
	run, err := Soak(context.Background(), Config{Target: newStaticTarget(t), Duration: time.Hour, Interval: 5 * time.Minute,
		OutDir: t.TempDir(), Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}

	rr := run.Report()

	b := run.seriesBuilder()
	built := b.Series()
	if len(rr.Series) != len(built) || len(built) == 0 {
		t.Fatalf("%d report series, %d judged", len(rr.Series), len(built))
	}
	slabPoints := 0
	for i, s := range built {
		got := &rr.Series[i]
		if got.Kind != s.Kind || got.Subject != s.Subject || got.Unit != s.Unit || got.Len() != len(s.Values) {
			t.Fatalf("series %d is %s %q (%d points), judged %s %q (%d)", i, got.Kind, got.Subject, got.Len(), s.Kind, s.Subject, len(s.Values))
		}
		for j := range s.Values {
			want := b.Start().Add(time.Duration(s.Times[j] * float64(time.Second)))
			if p := got.Point(j); !p.At.Equal(want) || p.Value != s.Values[j] {
				t.Fatalf("%s point %d is %+v, judged %v at %v", s.Subject, j, p, s.Values[j], want)
			}
		}
		if &got.Values[0] != &s.Values[0] || &got.Seconds[0] != &s.Times[0] {
			t.Errorf("%s: the report copied the run's points", s.Subject)
		}
		if s.Kind == checks.KindSlab {
			slabPoints += len(s.Values)
		}
	}
	f, err := os.Open(filepath.Join(run.Dir, "series", "slab.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+slabPoints {
		t.Errorf("slab.csv has %d rows, want a header and %d points", len(rows), slabPoints)
	}
}
