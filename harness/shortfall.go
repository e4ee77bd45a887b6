package harness

import (
	"fmt"

	"github.com/leakgate/leakgate/internal/human"
)

// shortfall says why a run whose samples show no leak still cannot pass,
// "" when it can: no usable sample; at most half of the planned samples
// judged (gaps, unusable records or raws and samples never taken alike); a
// warm-up that leaves nothing of the samples' span to judge; fewer judged
// samples than the policy's min_samples, or every series too short to
// judge. The live soak's final verdict and a re-judgement both apply it,
// so analyze and the soak agree: a run that could not see enough is an
// error, never a pass.
func (r *Run) shortfall(pol Policy) string {
	n := len(r.Samples)
	if n == 0 {
		return "the run has no usable sample to judge"
	}
	planned := r.Meta.PlannedSamples + 1
	if r.Meta.PlannedSamples > 0 && float64(planned-n) > maxLostFraction*float64(planned) {
		return fmt.Sprintf("lost %d of %d planned samples (%d gaps, %d unusable records or raws, the rest never taken) and judged %d; a soak that saw less than half of its samples cannot pass the gate: fix the link to the target and run it again", planned-n, planned, len(r.Gaps), len(r.Unused), n)
	}
	span := r.Samples[n-1].At.Sub(r.Samples[0].At)
	if pol.Warmup >= span {
		return fmt.Sprintf("the warm-up of %s is not shorter than the %s the samples span: nothing after it was judged; shorten warmup", human.Duration(pol.Warmup), human.Duration(span))
	}
	judged := 0
	for _, s := range r.Samples {
		if s.At.Sub(r.Samples[0].At) >= pol.Warmup {
			judged++
		}
	}
	j := r.Judgement
	if judged < pol.MinSamples || j.Series == 0 || j.Insufficient == j.Series {
		return fmt.Sprintf("%d samples after the warm-up of %s, and a verdict needs %d (min_samples); a run this short cannot pass the gate", judged, human.Duration(pol.Warmup), pol.MinSamples)
	}
	return ""
}
