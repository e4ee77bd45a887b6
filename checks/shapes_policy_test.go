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
