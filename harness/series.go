package harness

import (
	"sort"
	"strconv"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/harness/report"
)

// series lays the samples out as one series per subject, as the report's
// charts and CSV exports want them.
func (r *Run) series() []report.Series {
	type key struct {
		kind    checks.Kind
		subject string
	}
	idx := map[key]int{}
	var out []report.Series
	add := func(kind checks.Kind, subject, unit string, smp *checks.Sample, v float64) {
		k := key{kind, subject}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, report.Series{Kind: kind, Subject: subject, Unit: unit})
		}
		out[i].Points = append(out[i].Points, report.Point{At: smp.At, Value: v})
	}
	for si := range r.Samples {
		smp := &r.Samples[si]
		for _, c := range smp.Slabs {
			add(checks.KindSlab, c.Name, "bytes", smp, float64(c.ActiveBytes()))
		}
		for _, g := range smp.Leaks {
			subject := g.Signature
			if g.Culprit != nil {
				subject = g.Culprit.Function + " " + g.Signature
			}
			add(checks.KindKmemleak, subject, "objects", smp, float64(g.Count))
		}
		for _, p := range smp.Procs {
			add(checks.KindProcess, p.Key(), "bytes", smp, float64(p.RSSBytes))
		}
		fields := make([]string, 0, len(smp.Mem))
		for f := range smp.Mem {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			add(checks.KindMeminfo, f, "bytes", smp, float64(smp.Mem[f]))
		}
		add(checks.KindMeminfo, "Unaccounted", "bytes", smp, float64(smp.UnaccountedBytes))
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
