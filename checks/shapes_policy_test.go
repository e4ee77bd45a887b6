package checks

import "testing"

func TestPolicyTrendOptions_ShapeChecksAreOnForTheFinalJudgementByDefault(t *testing.T) {
	o := DefaultPolicy().TrendOptions(KindSlab, true)
	if !o.ShapeChecks || !o.Bytes || o.WholeWindowOnly {
		t.Fatalf("final options: shape checks %v, bytes %v, whole window only %v; want true, true, false",
			o.ShapeChecks, o.Bytes, o.WholeWindowOnly)
	}
	// Early judging keeps its own rules: trend ignores the shape checks
	// when it judges the whole window only.
	if e := DefaultPolicy().TrendOptions(KindSlab, false); !e.WholeWindowOnly {
		t.Fatalf("early options judge more than the whole window: %+v", e)
	}
}

func TestLoadPolicy_ShapeChecksCanBeTurnedOff(t *testing.T) {
	p, err := LoadPolicy([]byte("shape_checks: false\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if p.TrendOptions(KindProcess, true).ShapeChecks {
		t.Fatal("shape_checks: false left the shape checks on")
	}
}

func TestPolicyTrendOptions_TheRetainedBudgetIsInFloorsOfEachKind(t *testing.T) {
	// 32 floors: 32 × 1 MiB for a slab cache, 32 × 2 MiB for a process.
	for kind, want := range map[Kind]float64{KindSlab: 32 << 20, KindProcess: 64 << 20} {
		if o := DefaultPolicy().TrendOptions(kind, true); o.RetainedBudgetFloors*o.MinGrowth != want {
			got := o.RetainedBudgetFloors * o.MinGrowth
			t.Errorf("%s: budget %v, want %v", kind, got, want)
		}
	}
	p, err := LoadPolicy([]byte("retained_budget_floors: 0\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.TrendOptions(KindSlab, true).RetainedBudgetFloors; got != 0 {
		t.Errorf("retained_budget_floors: 0 left a budget of %v", got)
	}
}
