package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/trend"
	"github.com/leakgate/leakgate/harness/report"
)

// Judgement is the verdict on a run's samples: every judged series as a
// finding, worst first, and whether the run may stop early.
type Judgement struct {
	findings []checks.Finding
	failed   bool
	// stop is set by an early judgement that found a leak beyond doubt or a
	// hard ceiling crossed.
	stop bool
	why  string
}

// Failed reports whether any finding is a leak (or a ceiling was crossed).
func (j Judgement) Failed() bool { return j.failed }

// Findings are the judged signals, leaks first.
func (j Judgement) Findings() []checks.Finding { return j.findings }

// Summary names the leaks in one line.
func (j Judgement) Summary() string {
	if j.why != "" {
		return j.why
	}
	var parts []string
	for _, f := range j.findings {
		if f.Verdict == checks.VerdictLeak {
			parts = append(parts, fmt.Sprintf("%s %s", f.Kind, f.Subject))
		}
	}
	if len(parts) == 0 {
		return "no leak"
	}
	return "leak: " + strings.Join(parts, ", ")
}

// judge judges the run's samples under its policy; final false applies the
// early-stop thresholds. It returns whether the run should stop now and why.
func (r *Run) judge(final bool) (bool, string) {
	pol := r.Meta.Policy
	if pol == nil {
		d := DefaultPolicy()
		pol = &d
	}
	j := judgeSamples(r.Samples, r.series(), *pol, final)
	r.Judgement = j
	if !final && j.Failed() {
		return true, j.Summary()
	}
	return false, ""
}

// judgeSamples is the interim judge: each series through trend with the
// policy's per-kind options, Benjamini–Hochberg across the run, the
// allowlist, and the MemAvailable floor as a hard ceiling.
func judgeSamples(samples []checks.Sample, series []report.Series, pol checks.Policy, final bool) Judgement {
	var j Judgement
	if n := len(samples); n > 0 && pol.MemAvailableFloorBytes > 0 {
		if avail, ok := samples[n-1].Mem["MemAvailable"]; ok && int64(avail) < pol.MemAvailableFloorBytes {
			j.failed, j.stop = true, true
			j.why = fmt.Sprintf("MemAvailable %s is below the floor %s at sample %d", humanBytes(int64(avail)), humanBytes(pol.MemAvailableFloorBytes), samples[n-1].Index)
		}
	}
	var ts []trend.Series
	var kinds []report.Series
	for _, s := range series {
		if len(s.Points) < 3 || !judged(s) {
			continue
		}
		t0 := s.Points[0].At
		tr := trend.Series{Name: string(s.Kind) + " " + s.Subject, Options: pol.TrendOptions(s.Kind, final)}
		last := -1.0
		for _, p := range s.Points {
			x := p.At.Sub(t0).Seconds()
			if x <= last {
				continue
			}
			last = x
			tr.Times = append(tr.Times, x)
			tr.Values = append(tr.Values, p.Value)
		}
		if s.Kind == checks.KindKmemleak {
			tr.Options.MinGrowth = float64(pol.KmemleakMinGrowthObjects)
			tr.Options.MinSlopePerHour = 0
		}
		ts = append(ts, tr)
		kinds = append(kinds, s)
	}
	results, err := trend.AnalyzeRun(context.Background(), ts)
	if err != nil {
		j.why = "judge: " + err.Error()
		return j
	}
	for i, res := range results {
		s := kinds[i]
		f := checks.Finding{
			Kind: s.Kind, Subject: s.Subject, Unit: s.Unit, Reason: res.Reason,
			SlopePerHour: res.SlopePerHour, SlopeLowPerHour: res.SlopeLow, SlopeHighPerHour: res.SlopeHigh,
			P: res.PAdjusted, Growth: res.Growth, Samples: res.N, Rising: res.Rising,
		}
		if s.Unit == "bytes" {
			f.GrowthBytes = int64(res.Growth)
		}
		switch res.Verdict {
		case trend.Leak:
			f.Verdict = checks.VerdictLeak
		case trend.Insufficient:
			f.Verdict = checks.VerdictInsufficient
		default:
			f.Verdict = checks.VerdictOK
		}
		if why, ok := pol.Allowed(s.Kind, s.Subject); ok && f.Verdict == checks.VerdictLeak {
			f.Verdict, f.AllowReason = checks.VerdictAllowed, why
		}
		if f.Verdict == checks.VerdictLeak {
			j.failed = true
		}
		j.findings = append(j.findings, f)
	}
	rank := map[checks.Verdict]int{checks.VerdictLeak: 0, checks.VerdictSuspect: 1, checks.VerdictAllowed: 2, checks.VerdictInsufficient: 3, checks.VerdictOK: 4}
	sort.SliceStable(j.findings, func(a, b int) bool { return rank[j.findings[a].Verdict] < rank[j.findings[b].Verdict] })
	return j
}

// judged picks the series the interim judge looks at: every slab cache,
// kmemleak signature and process, and the meminfo figures that leak.
func judged(s report.Series) bool {
	if s.Kind != checks.KindMeminfo {
		return true
	}
	switch s.Subject {
	case "SUnreclaim", "Unaccounted", "VmallocUsed", "Percpu":
		return true
	}
	return false
}
