package eval

import (
	"testing"

	"github.com/leakgate/leakgate/checks/compare"
)

// A small evaluation must tell the easy classes apart: a 1 MiB/h new leak
// is always regressed, a fixed leak always improved, two flat runs never
// regressed.
func TestEvaluate_TheEasyClassesAreDecidedTheRightWay(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PerClass = 40
	rs, err := Evaluate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]compare.Verdict{
		"new leak 1 MiB/h":            compare.Regressed,
		"pool saturates 4 MiB higher": compare.Regressed,
		"leak fixed":                  compare.Improved,
	}
	for _, r := range rs {
		if v, ok := want[r.Class.Name]; ok && r.Counts[v] != r.N {
			t.Errorf("%s: %v, want all %s", r.Class.Name, r.Counts, v)
		}
		if r.Class.Name == "flat, white noise" && r.Counts[compare.Regressed] != 0 {
			t.Errorf("flat pairs called regressed %d times", r.Counts[compare.Regressed])
		}
	}
}

func TestSummarize_CountsRecallAndFalseRegressionsByLabel(t *testing.T) {
	rs := []ClassResult{
		{Class: Class{Label: Regressed}, N: 10, Counts: map[compare.Verdict]int{compare.Regressed: 8, compare.Unknown: 2}},
		{Class: Class{Label: Benign}, N: 20, Counts: map[compare.Verdict]int{compare.Regressed: 1, compare.Same: 15, compare.Unknown: 4}},
		{Class: Class{Label: Improved}, N: 10, Counts: map[compare.Verdict]int{compare.Improved: 10}},
	}
	s := Summarize(rs)
	// Recall 8/10; false regressed 1/30; unknown 2/10 and 4/30.
	if s.Recall != 0.8 || s.FalseRegressed != 1.0/30 || s.UnknownRegression != 0.2 || s.UnknownBenign != 4.0/30 {
		t.Errorf("summary %+v", s)
	}
}
