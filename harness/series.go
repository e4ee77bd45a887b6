package harness

import (
	"github.com/leakgate/leakgate/internal/human"
	"sort"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/harness/report"
)

// series lays the run's series out as the judge sees them, one per
// subject, for the report's charts and CSV exports. They share the
// builder's time axis and values (no copy): the report only reads them,
// and a later sample appends past their ends.
func (r *Run) series() []report.Series {
	b := r.seriesBuilder()
	built := b.Series()
	t0 := b.Start()
	out := make([]report.Series, 0, len(built))
	for _, s := range built {
		out = append(out, report.Series{Kind: s.Kind, Subject: s.Subject, Unit: s.Unit, Start: t0, Seconds: s.Times, Values: s.Values})
	}
	return out
}

// topGrowers names the n slab caches and processes that grew most in bytes
// since their first point, for the progress reporter. It is cheap: the
// series share the builder's storage and only their ends are read.
func (r *Run) topGrowers(n int) []string {
	if len(r.Samples) < 2 {
		return nil
	}
	type grower struct {
		name  string
		bytes int64
	}
	var gs []grower
	for _, s := range r.seriesBuilder().Series() {
		if len(s.Values) < 2 {
			continue
		}
		d := int64(s.Values[len(s.Values)-1] - s.Values[0])
		if d <= 0 {
			continue
		}
		if src, _ := checks.SourceOf(s.Kind); src.TopGrowers {
			name := s.Subject
			if s.Kind == checks.KindProcess {
				name = processName(name)
			}
			gs = append(gs, grower{src.Noun + " " + name, d})
		}
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].bytes > gs[j].bytes })
	var out []string
	for i := 0; i < len(gs) && i < n; i++ {
		// The name is the target's (a cache, a process): escaped for the log.
		out = append(out, human.Escape(gs[i].name)+" "+human.SignedBytes(float64(gs[i].bytes)))
	}
	return out
}

// processName is the name in a process series' subject (name/pid/start).
func processName(key string) string {
	for range 2 {
		if i := strings.LastIndexByte(key, '/'); i >= 0 {
			key = key[:i]
		}
	}
	return key
}
