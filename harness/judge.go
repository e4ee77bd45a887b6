package harness

import (
	"fmt"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Judgement is the verdict on a run's samples (checks.Judge's answer).
type Judgement struct {
	checks.Judgement
}

// Failed reports whether the judge found a leak or a ceiling was crossed.
func (j Judgement) Failed() bool { return j.Verdict == verdict.Fail }

// Findings are the leak, suspect and allowed series, leaks first.
func (j Judgement) Findings() []checks.Finding { return j.Judgement.Findings }

// Summary names the leaks in one line.
func (j Judgement) Summary() string {
	var parts []string
	for _, f := range j.Judgement.Findings {
		if f.Verdict == verdict.Leak {
			parts = append(parts, fmt.Sprintf("%s %s", f.Kind, f.Subject))
		}
	}
	if len(parts) == 0 {
		return "no leak"
	}
	return "leak: " + strings.Join(parts, ", ")
}

// judge judges the run's series under its policy; final false applies the
// early-stop thresholds (only a leak beyond doubt, or the MemAvailable
// floor, ends a run early). It returns whether the run should stop now.
func (r *Run) judge(final bool) (bool, string) {
	pol := r.Meta.Policy
	if pol == nil {
		d := DefaultPolicy()
		pol = &d
	}
	j := r.mergeEarly(r.seriesBuilder().Judge(*pol, checks.JudgeOptions{Final: final}), *pol)
	if final && r.Meta.Reclaim != nil {
		j = checks.ApplyReclaim(j, r.Meta.Reclaim.Results)
	}
	if final {
		for _, m := range r.Meta.Reload {
			j = checks.ApplyUnload(j, m.Held)
		}
	}
	r.Judgement = Judgement{j}
	nameMerged(r.Judgement.Judgement.Findings, r.Meta.SlabAliases)
	if !final && r.Judgement.Failed() {
		return true, r.Judgement.Summary()
	}
	return false, ""
}

// nameMerged gives each slab finding, and each slab finding folded into
// another, the caches merged with it.
func nameMerged(findings []checks.Finding, aliases map[string][]string) {
	if len(aliases) == 0 {
		return
	}
	for i := range findings {
		f := &findings[i]
		if f.Kind == checks.KindSlab {
			f.MergedWith = aliases[f.Subject]
		}
		nameMerged(f.Evidence, aliases)
	}
}
