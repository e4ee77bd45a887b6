package compare

import (
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"math"
	"sort"
	"time"
)

// Runs compares every series of the candidate b with the same (kind,
// subject) of the baseline a. A series only in b is judged against a flat
// baseline at its own first value (a new cache that grows is a regression);
// a series only in a is reported as same with OnlyInBaseline set. Results
// are sorted worst first (regressed, unknown, improved, same), then by kind
// and subject.
//
// pol.ConfidenceLevel holds for the run as a family (Bonferroni): each of
// the m series is compared at 1 − (1 − level)/m, so a release with
// hundreds of unchanged caches is not failed by one of them by chance.
func Runs(a, b []Series, pol Policy) ([]Result, error) {
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	if m := len(b); m > 1 {
		pol.ConfidenceLevel = 1 - (1-pol.ConfidenceLevel)/float64(m)
	}
	type key struct{ kind, subject string }
	base := make(map[key]Series, len(a))
	for _, s := range a {
		base[key{s.Kind, s.Subject}] = s
	}
	seen := make(map[key]bool, len(b))
	out := make([]Result, 0, len(b))
	for _, s := range b {
		k := key{s.Kind, s.Subject}
		seen[k] = true
		sa, ok := base[k]
		if !ok {
			sa = flatLike(s)
		}
		r, err := Compare(sa, s, pol)
		if err != nil {
			return nil, err
		}
		r.OnlyInCandidate = !ok
		if !ok {
			r.Reason = "new in the candidate; " + r.Reason
		}
		out = append(out, r)
	}
	for _, s := range a {
		if seen[key{s.Kind, s.Subject}] {
			continue
		}
		out = append(out, Result{Kind: s.Kind, Subject: s.Subject, Unit: s.Unit, Verdict: Same, SlopeVerdict: Same, LevelVerdict: Same,
			OnlyInBaseline: true, Reason: "only in the baseline (gone in the candidate)"})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Verdict), rank(out[j].Verdict); ri != rj {
			return ri < rj
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Subject < out[j].Subject
	})
	return out, nil
}

// flatLike is a baseline that stayed at s's first value on s's own grid.
func flatLike(s Series) Series {
	f := s
	f.Values = make([]float64, len(s.Values))
	if len(s.Values) > 0 {
		for i := range f.Values {
			f.Values[i] = s.Values[0]
		}
	}
	return f
}

func rank(v Verdict) int {
	switch v {
	case Regressed:
		return 0
	case Unknown:
		return 1
	case Improved:
		return 2
	}
	return 3
}

// AnyFails reports whether a result regressed under a failing policy.
func AnyFails(rs []Result) bool {
	for _, r := range rs {
		if r.Fails {
			return true
		}
	}
	return false
}

// AnyRegressed reports whether a result regressed, failing or warning.
func AnyRegressed(rs []Result) bool {
	for _, r := range rs {
		if r.Verdict == Regressed {
			return true
		}
	}
	return false
}

// Message is the one line a release manager reads, naming the baseline as
// given (e.g. "release r41"): "kmalloc-512 grows 3.1 MiB/h, release r41
// grew 0.02 MiB/h on the same rig".
func (r Result) Message(baseline string) string {
	// Subjects and the baseline's name come from run folders and targets.
	r.Subject, baseline = human.Escape(r.Subject), human.Escape(baseline)
	if r.OnlyInBaseline {
		return fmt.Sprintf("%s %s: only in %s", r.Kind, r.Subject, baseline)
	}
	bRate, aRate := r.SlopeBPerHour, r.SlopeAPerHour
	switch r.Verdict {
	case Regressed:
		if r.SlopeVerdict == Regressed {
			return fmt.Sprintf("%s grows %s, %s grew %s on the same rig", r.Subject, rate(bRate, r.Unit), baseline, rate(aRate, r.Unit))
		}
		return fmt.Sprintf("%s sits at %s after %s, %s sat at %s on the same rig", r.Subject, amount(r.LevelB, r.Unit), atHours(r.AtHour), baseline, amount(r.LevelA, r.Unit))
	case Improved:
		return fmt.Sprintf("%s grows %s, %s grew %s on the same rig (improved)", r.Subject, rate(bRate, r.Unit), baseline, rate(aRate, r.Unit))
	case Unknown:
		if r.MoreSoak > 0 {
			return fmt.Sprintf("%s grows %s, %s grew %s: undecided, about %s more soak would decide", r.Subject, rate(bRate, r.Unit), baseline, rate(aRate, r.Unit), hours(r.MoreSoak))
		}
		return fmt.Sprintf("%s grows %s, %s grew %s: undecided", r.Subject, rate(bRate, r.Unit), baseline, rate(aRate, r.Unit))
	}
	return fmt.Sprintf("%s grows %s, %s grew %s on the same rig (same)", r.Subject, rate(bRate, r.Unit), baseline, rate(aRate, r.Unit))
}

// reason explains the verdict with both intervals.
func reason(r Result, minSlope, minLevel float64) string {
	return fmt.Sprintf("slope %s: %s/h [%s/h, %s/h], minimum %s; level at %s %s: %s [%s, %s], minimum %s",
		r.SlopeVerdict, signedAmount(r.SlopeDiffPerHour, r.Unit), signedAmount(r.SlopeDiffLowPerHour, r.Unit), signedAmount(r.SlopeDiffHighPerHour, r.Unit), rate(minSlope, r.Unit),
		atHours(r.AtHour), r.LevelVerdict, signedAmount(r.LevelDiff, r.Unit), signedAmount(r.LevelDiffLow, r.Unit), signedAmount(r.LevelDiffHigh, r.Unit), amount(minLevel, r.Unit))
}

// rate prints a slope per hour in the one unit style (internal/human):
// "3.1 MiB/h", "20.5 KiB/h", "4/h".
func rate(perHour float64, unit string) string { return amount(perHour, unit) + "/h" }

// amount prints a value of unit: sizes in binary units, objects and other
// counts as numbers.
func amount(v float64, unit string) string { return amountIn(v, unit, human.Bytes, human.Count) }

// signedAmount is amount with an explicit sign on growth, for differences.
func signedAmount(v float64, unit string) string {
	return amountIn(v, unit, human.SignedBytes, human.SignedCount)
}

func amountIn(v float64, unit string, size, count func(float64) string) string {
	if k := human.UnitBytes(unit); k > 0 {
		return size(v * k)
	}
	if unit == "objects" {
		return count(v) + " objects"
	}
	return count(v)
}

// atHours prints a time since the start given in hours, in the one
// duration style: "4 h", "3 h 30 min".
func atHours(h float64) string { return human.Duration(time.Duration(h * float64(time.Hour))) }

// hours prints a duration as whole hours ("7 h") or minutes below an hour.
func hours(d time.Duration) string {
	if d >= MaxMoreSoak {
		return "30+ days"
	}
	if d < time.Hour {
		return fmt.Sprintf("%d min", int(d.Minutes()+0.5))
	}
	return fmt.Sprintf("%.0f h", math.Ceil(d.Hours()))
}
