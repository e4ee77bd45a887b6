package harness

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/harness/report"
)

// series lays the samples out as the judge sees them (checks.BuildSeries),
// one series per subject, for the report's charts and CSV exports.
func (r *Run) series() []report.Series {
	if len(r.Samples) == 0 {
		return nil
	}
	t0 := r.Samples[0].At
	for _, smp := range r.Samples {
		if smp.At.Before(t0) {
			t0 = smp.At
		}
	}
	built := checks.BuildSeries(r.Samples)
	out := make([]report.Series, 0, len(built))
	for _, b := range built {
		s := report.Series{Kind: b.Kind, Subject: b.Subject, Unit: b.Unit, Points: make([]report.Point, len(b.Times))}
		for i := range b.Times {
			s.Points[i] = report.Point{At: t0.Add(time.Duration(b.Times[i] * float64(time.Second))), Value: b.Values[i]}
		}
		out = append(out, s)
	}
	return out
}

// topGrowers names the n subjects that grew most in bytes since the
// baseline, for the progress reporter. It is cheap: two samples compared.
func (r *Run) topGrowers(n int) []string {
	if len(r.Samples) < 2 {
		return nil
	}
	first, last := &r.Samples[0], &r.Samples[len(r.Samples)-1]
	type grower struct {
		name  string
		bytes int64
	}
	var gs []grower
	base := map[string]int64{}
	for _, c := range first.Slabs {
		base[c.Name] = c.ActiveBytes()
	}
	for _, c := range last.Slabs {
		if d := c.ActiveBytes() - base[c.Name]; d > 0 {
			gs = append(gs, grower{"slab " + c.Name, d})
		}
	}
	pbase := map[string]int64{}
	for _, p := range first.Procs {
		pbase[p.Key()] = int64(p.RSSBytes)
	}
	for _, p := range last.Procs {
		if b, ok := pbase[p.Key()]; ok && int64(p.RSSBytes) > b {
			gs = append(gs, grower{"process " + p.Name, int64(p.RSSBytes) - b})
		}
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].bytes > gs[j].bytes })
	var out []string
	for i := 0; i < len(gs) && i < n; i++ {
		out = append(out, gs[i].name+" +"+humanBytes(gs[i].bytes))
	}
	return out
}

func humanBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return itoa(b) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v := float64(b)
	i := -1
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	s := strings.TrimSuffix(strings.TrimRight(ftoa1(v), "0"), ".")
	return s + " " + units[i]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ftoa1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
