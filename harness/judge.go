package harness

import (
	"github.com/leakgate/leakgate/checks"
)

// judge judges the run's series under its policy; final false applies the
// early-stop thresholds (only a leak beyond doubt, or the MemAvailable
// floor, ends a run early). It returns whether the run should stop now.
func (r *Run) judge(final bool) (bool, string) {
	r.judgeUnder(r.policy(), final)
	if !final && r.Judgement.Failed() {
		return true, r.Judgement.Summary()
	}
	return false, ""
}

// policy is the policy the run records, else the default.
func (r *Run) policy() Policy {
	if r.Meta.Policy != nil {
		return *r.Meta.Policy
	}
	return DefaultPolicy()
}

// judgeUnder sets the run's judgement under pol (Rejudge's policy may not
// be the one the run recorded).
func (r *Run) judgeUnder(pol Policy, final bool) {
	b := r.seriesBuilder()
	j := b.Judge(pol, checks.JudgeOptions{Final: final, ReclaimAccounted: r.Meta.ReclaimAccounted})
	if final {
		// A leak the early rule called on the full series stays one: the
		// run may have been stopped for it before it met the final floors.
		j = checks.MergeEarly(j, b.Judge(pol, checks.JudgeOptions{ReclaimAccounted: r.Meta.ReclaimAccounted}), "")
	}
	j = r.mergeEarly(j, pol)
	if final && r.Meta.Reclaim != nil {
		j = checks.ApplyReclaim(j, r.Meta.Reclaim.Results)
	}
	if final {
		for _, m := range r.Meta.Reload {
			j = checks.ApplyUnload(j, m.Held)
		}
	}
	r.Judgement = j
	nameMerged(r.Judgement.Findings, r.Meta.SlabAliases)
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
