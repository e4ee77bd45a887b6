package results

import (
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks/compare"
)

// WriteHTML writes the comparison as a self-contained page: the headline,
// every series' verdict and figures, and for each regressed or undecided
// series both runs' values overlaid on one chart by soak hour (baseline
// grey, candidate red). The report of a soak can link or embed it.
func (c Comparison) WriteHTML(w io.Writer) error {
	type chart struct {
		Title string
		SVG   template.HTML
	}
	var charts []chart
	index := func(ss []compare.Series) map[[2]string]compare.Series {
		m := make(map[[2]string]compare.Series, len(ss))
		for _, s := range ss {
			m[[2]string{s.Kind, s.Subject}] = s
		}
		return m
	}
	base, cand := index(c.BaselineSeries), index(c.CandidateSeries)
	for _, r := range c.Results {
		if r.Verdict != compare.Regressed && r.Verdict != compare.Unknown {
			continue
		}
		k := [2]string{r.Kind, r.Subject}
		b, okB := cand[k]
		if !okB {
			continue
		}
		charts = append(charts, chart{Title: r.Kind + " " + r.Message(c.Baseline.Label()), SVG: overlaySVG(base[k], b, c.Baseline.Label(), c.Candidate.Label())})
	}
	data := struct {
		Headline string
		Results  []compare.Result
		Charts   []chart
		Baseline string
	}{Headline: firstLine(c.Message()), Results: c.Results, Charts: charts, Baseline: c.Baseline.Label()}
	if err := comparisonPage.Execute(w, data); err != nil {
		return fmt.Errorf("write comparison page: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var comparisonPage = template.Must(template.New("compare").Funcs(template.FuncMap{
	"msg": func(r compare.Result, baseline string) string { return r.Message(baseline) },
	"hours": func(r compare.Result) string {
		if r.MoreSoak <= 0 {
			return ""
		}
		return human.Duration(r.MoreSoak)
	},
	// diff prints a difference and its interval in the one unit style.
	"diff": func(v, lo, hi float64, unit string) string {
		return signedValue(v, unit) + " [" + signedValue(lo, unit) + ", " + signedValue(hi, unit) + "]"
	},
	"at": func(h float64) string { return human.Duration(time.Duration(h * float64(time.Hour))) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>leakgate comparison</title>
<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.regressed{color:#b00}.improved{color:#070}.unknown{color:#a60}svg{border:1px solid #ddd;margin:4px 0 16px}</style></head>
<body><h1>{{.Headline}}</h1>
{{range .Charts}}<h3>{{.Title}}</h3>{{.SVG}}{{end}}
<table><tr><th>verdict</th><th>kind</th><th>series</th><th>slope difference /h [interval]</th><th>level difference [interval] at hour</th><th>more soak</th><th>why</th></tr>
{{range .Results}}<tr class="{{.Verdict}}"><td>{{.Verdict}}</td><td>{{.Kind}}</td><td>{{.Subject}}</td>
<td>{{diff .SlopeDiffPerHour .SlopeDiffLowPerHour .SlopeDiffHighPerHour .Unit}}</td>
<td>{{diff .LevelDiff .LevelDiffLow .LevelDiffHigh .Unit}} at {{at .AtHour}}</td><td>{{hours .}}</td><td>{{.Reason}}</td></tr>
{{end}}</table></body></html>
`))

// overlaySVG draws a and b against time since their start on shared axes.
func overlaySVG(a, b compare.Series, labelA, labelB string) template.HTML {
	const w, h, pad = 640.0, 220.0, 40.0
	maxT, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
	for _, s := range []compare.Series{a, b} {
		for i, t := range s.Seconds {
			maxT = math.Max(maxT, t-s.Seconds[0])
			lo, hi = math.Min(lo, s.Values[i]), math.Max(hi, s.Values[i])
		}
	}
	if maxT == 0 || math.IsInf(lo, 0) {
		return ""
	}
	if hi == lo {
		hi = lo + 1
	}
	// A margin, so a flat line does not hide in the axis.
	margin := (hi - lo) * 0.05
	lo, hi = lo-margin, hi+margin
	x := func(t float64) float64 { return pad + (w-2*pad)*t/maxT }
	y := func(v float64) float64 { return h - pad - (h-2*pad)*(v-lo)/(hi-lo) }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`, w, h, w, h)
	fmt.Fprintf(&sb, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#888"/>`, pad, h-pad, w-pad, h-pad)
	// The time axis' ends: its start and the soak's length in the one
	// duration style ("12 h", "3 min"), whatever the span.
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-size="11">0</text><text x="%.0f" y="%.0f" font-size="11" text-anchor="end">%s</text>`, pad, h-pad+14, w-pad, h-pad+14, human.Duration(time.Duration(maxT*float64(time.Second))))
	fmt.Fprintf(&sb, `<text x="2" y="%.0f" font-size="11">%s</text><text x="2" y="%.0f" font-size="11">%s</text>`, y(hi)+4, template.HTMLEscapeString(compactNumber(hi, b.Unit)), y(lo), template.HTMLEscapeString(compactNumber(lo, b.Unit)))
	for _, p := range []struct {
		s      compare.Series
		colour string
		label  string
		row    float64
	}{{a, "#888", labelA, 14}, {b, "#c00", labelB, 28}} {
		if len(p.s.Seconds) == 0 {
			continue
		}
		sb.WriteString(`<polyline fill="none" stroke-width="1.5" stroke="` + p.colour + `" points="`)
		for i, t := range p.s.Seconds {
			fmt.Fprintf(&sb, "%.1f,%.1f ", x(t-p.s.Seconds[0]), y(p.s.Values[i]))
		}
		sb.WriteString(`"/>`)
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-size="11" fill="%s">%s</text>`, pad+8, p.row, p.colour, template.HTMLEscapeString(p.label))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) //nolint:gosec // built from numbers and escaped labels above
}

// signedValue prints a signed difference of unit: sizes in binary units,
// anything else as a count.
func signedValue(v float64, unit string) string {
	if k := human.UnitBytes(unit); k > 0 {
		return human.SignedBytes(v * k)
	}
	return human.SignedCount(v)
}

// compactNumber labels a chart axis in the one unit style (internal/human).
func compactNumber(v float64, unit string) string {
	if k := human.UnitBytes(unit); k > 0 {
		return human.Bytes(v * k)
	}
	return human.Count(v)
}
