package report

import (
	_ "embed"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Chart caps keep a run with hundreds of series fast to render and to read.
const (
	// maxFindingCharts bounds the charts drawn for findings and their evidence.
	maxFindingCharts = 16
	// topN is how many caches or processes the overview charts compare.
	topN = 6
	// maxOtherRows bounds the table of series judged neither leak nor suspect.
	maxOtherRows = 100
)

//go:embed report.html.tmpl
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{"class": verdictClass}).Parse(htmlTemplateText))

// WriteHTML renders the self-contained HTML report: verdict first, each
// leak and suspect with its numbers, chart and backtrace, then overview
// charts, preflight and gaps. Every text is escaped by html/template.
func WriteHTML(w io.Writer, r Run) error {
	var b strings.Builder
	if err := htmlTemplate.Execute(&b, newPage(r)); err != nil {
		return fmt.Errorf("render report.html: %w", err)
	}
	// Names from the target may be invalid UTF-8; escaping has already made
	// them inert, this makes the page valid.
	if _, err := io.WriteString(w, strings.ToValidUTF8(b.String(), "\uFFFD")); err != nil {
		return fmt.Errorf("write report.html: %w", err)
	}
	return nil
}

// page is what the template shows.
type page struct {
	Target, Kernel, Verdict, Error string
	// Note is what the harness said about a run that did reach a verdict
	// (why it ended early, say).
	Note                     string
	Started, Ended, Duration string
	Samples                  string
	Message                  string
	Findings                 []findingView
	Others                   []findingView
	Overview                 []chartView
	Preflight                []Check
	Gaps                     []gapView
	Reboot                   *Reboot
	Meta                     [][2]string
	SeriesCount              int
	Observer                 string
	ChartsOmitted            int
	OthersOmitted            int
}

type findingView struct {
	Verdict, Kind, Title, Subject string
	Reason, AllowReason           string
	Numbers                       [][2]string
	// Growth, Slope and P are the short figures of the table rows.
	Growth, Slope, P string
	Culprit          string
	Frames           []frameView
	Chart            chartView
	Evidence         []findingView
}

type frameView struct {
	Function, Offset, Module string
	Culprit, Raw             bool
}

type chartView struct {
	Title string
	SVG   template.HTML
	Error string
}

type gapView struct {
	Index          int
	At, Reason     string
	SinceStartText string
}

// newPage builds the view of a run; charts are drawn here, within the caps.
func newPage(r Run) page {
	p := page{
		Target:      r.Target,
		Kernel:      r.Kernel,
		Verdict:     string(r.Verdict),
		Started:     stamp(r.Started),
		Ended:       stamp(r.Ended),
		Duration:    runSpan(r),
		Message:     Message(r),
		Preflight:   r.Preflight,
		Reboot:      tailReboot(r.Reboot),
		SeriesCount: len(r.Series),
	}
	if p.Verdict == "" {
		p.Verdict = "unknown"
	}
	if r.Verdict == verdict.Error {
		p.Error = r.Error
	} else {
		p.Note = r.Error
	}
	p.Samples = fmt.Sprint(r.Samples)
	if r.PlannedSamples > 0 {
		p.Samples = fmt.Sprintf("%d of %d planned", r.Samples, r.PlannedSamples)
	}
	idx := indexSeries(r.Series)
	tl := runTimeline(r)
	budget := maxFindingCharts
	leaks, suspects := split(r.Findings)
	for _, f := range append(leaks, suspects...) {
		p.Findings = append(p.Findings, findingPage(f, tl, idx, &budget))
	}
	var others []checks.Finding
	for _, f := range r.Findings {
		if f.Verdict != verdict.Leak && f.Verdict != verdict.Suspect {
			others = append(others, f)
		}
	}
	// Allowed and undecided series matter more than the many clean ones.
	sort.SliceStable(others, func(i, j int) bool { return otherRank(others[i].Verdict) < otherRank(others[j].Verdict) })
	for i, f := range others {
		if i == maxOtherRows {
			p.OthersOmitted = len(others) - i
			break
		}
		p.Others = append(p.Others, findingPage(f, tl, idx, nil))
	}
	p.ChartsOmitted = -min(budget, 0)
	p.Observer = observerText(r.Observer)
	p.Overview = overview(r)
	for _, g := range r.Gaps {
		gv := gapView{Index: g.Index, At: stamp(g.At), Reason: g.Reason}
		if !r.Started.IsZero() && !g.At.Before(r.Started) {
			gv.SinceStartText = human.Duration(g.At.Sub(r.Started))
		}
		p.Gaps = append(p.Gaps, gv)
	}
	for k, v := range r.Meta {
		p.Meta = append(p.Meta, [2]string{k, v})
	}
	sort.Slice(p.Meta, func(i, j int) bool { return p.Meta[i][0] < p.Meta[j][0] })
	return p
}

type seriesKey struct {
	kind    checks.Kind
	subject string
}

func indexSeries(ss []Series) map[seriesKey]*Series {
	m := make(map[seriesKey]*Series, len(ss))
	for i := range ss {
		m[seriesKey{ss[i].Kind, ss[i].Subject}] = &ss[i]
	}
	return m
}

// findingPage is one finding's view. budget counts the charts still allowed
// (nil: draw none); it goes negative to count the ones left out.
func findingPage(f checks.Finding, tl timeline, idx map[seriesKey]*Series, budget *int) findingView {
	v := findingView{
		Verdict:     string(f.Verdict),
		Kind:        string(f.Kind),
		Title:       subject(f),
		Subject:     human.Escape(f.Subject),
		Reason:      f.Reason,
		AllowReason: f.AllowReason,
		Numbers:     figureRows(f),
		Growth:      human.Amount(f.Growth, f.Unit),
		Slope:       human.Rate(f.SlopePerHour, f.Unit),
		P:           pValue(f.P),
	}
	if f.Kind == checks.KindKmemleak {
		v.P = "—"
	}
	if f.Culprit != nil {
		v.Culprit = frameText(*f.Culprit)
	}
	for _, fr := range f.Frames {
		v.Frames = append(v.Frames, frameView{Function: human.Escape(fr.Function), Offset: human.Escape(fr.Offset), Module: human.Escape(fr.Module),
			Raw: fr.Raw, Culprit: f.Culprit != nil && sameFrame(fr, *f.Culprit)})
	}
	if budget != nil {
		if s, ok := idx[seriesKey{f.Kind, f.Subject}]; ok {
			if *budget > 0 {
				var fit *trendLine
				if f.Unit == s.Unit || f.Unit == "" { // a slope in another unit would mislead
					fit = &trendLine{perHour: f.SlopePerHour, label: "judged slope " + human.Rate(f.SlopePerHour, s.Unit)}
				}
				v.Chart = chart(subject(f), tl, []Series{*s}, fit)
			}
			*budget--
		}
	}
	for _, e := range f.Evidence {
		v.Evidence = append(v.Evidence, findingPage(e, tl, idx, budget))
	}
	return v
}

func sameFrame(a, b kmemleak.Frame) bool { return a.Function == b.Function && a.Module == b.Module }

// figureRows are a finding's numbers as label/value rows.
func figureRows(f checks.Finding) [][2]string {
	var rows [][2]string
	add := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	if f.Kind == checks.KindKmemleak && digest(f.Subject) != f.Subject {
		add("signature", human.Escape(f.Subject))
	}
	if f.Samples == 0 && f.Growth == 0 && f.SlopePerHour == 0 {
		return rows // a hard ceiling: the reason says it all
	}
	growth := human.Amount(f.Growth, f.Unit)
	if f.Kind == checks.KindSlab && human.UnitBytes(f.Unit) > 0 && f.ObjectSizeBytes > 0 {
		objects := math.Round(f.Growth * human.UnitBytes(f.Unit) / float64(f.ObjectSizeBytes))
		growth += fmt.Sprintf(" (%s objects of %s)", human.SignedCount(objects), human.Bytes(float64(f.ObjectSizeBytes)))
	}
	add("growth", growth)
	if f.GrowthBytes != 0 && human.UnitBytes(f.Unit) == 0 {
		add("growth in bytes", human.SignedBytes(float64(f.GrowthBytes)))
	}
	slope := human.Rate(f.SlopePerHour, f.Unit)
	if f.SlopeLowPerHour != 0 || f.SlopeHighPerHour != 0 {
		slope += fmt.Sprintf(" (confidence interval %s … %s)", human.Rate(f.SlopeLowPerHour, f.Unit), human.Rate(f.SlopeHighPerHour, f.Unit))
	}
	add("slope", slope)
	if f.Kind != checks.KindKmemleak { // kmemleak's rule is not a test: no p
		sig := pValue(f.P)
		if f.PRaw != 0 && f.PRaw != f.P {
			sig += " after adjusting across the run's series (" + pValue(f.PRaw) + " alone)"
		}
		add("significance", sig)
	}
	if f.Monotonic != 0 {
		add("steadiness", fmt.Sprintf("Kendall τ %.2f (1 is a steady rise)", f.Monotonic))
	}
	if f.Samples > 0 {
		dir := "rising"
		if f.SlopePerHour < 0 {
			dir = "falling"
		}
		add("samples judged", fmt.Sprintf("%d (%d/%d intervals %s)", f.Samples, f.Rising, max(f.Samples-1, 0), dir))
	}
	if f.TimeToExhaustion > 0 {
		add("MemAvailable exhausted in", human.Approx(f.TimeToExhaustion)+" at this rate")
	}
	if f.ObjectSizeBytes > 0 {
		add("object size", human.Bytes(float64(f.ObjectSizeBytes)))
	}
	if len(f.SizesBytes) > 0 {
		var sizes []string
		for i, b := range f.SizesBytes {
			if i == 8 {
				sizes = append(sizes, "…")
				break
			}
			sizes = append(sizes, human.Bytes(float64(b)))
		}
		add("object sizes", strings.Join(sizes, ", "))
	}
	if len(f.AllocCallers) > 0 {
		callers := f.AllocCallers
		more := ""
		if len(callers) > 8 {
			callers, more = callers[:8], fmt.Sprintf(" and %d more", len(f.AllocCallers)-8)
		}
		cleaned := make([]string, len(callers))
		for i, c := range callers {
			cleaned[i] = human.Escape(c)
		}
		add("allocation sites", strings.Join(cleaned, ", ")+more)
	}
	return rows
}

func chart(title string, tl timeline, ss []Series, trend *trendLine) chartView {
	svg, err := chartSVG(title, tl, ss, trend)
	if err != nil {
		return chartView{Title: title, Error: err.Error()}
	}
	return chartView{Title: title, SVG: svg}
}

// overview draws the run-wide charts: each source's overview subjects
// (MemAvailable, Slab, SUnreclaim) and, for sources that chart them, the
// subjects that grew most.
func overview(r Run) []chartView {
	idx := indexSeries(r.Series)
	tl := runTimeline(r)
	var out []chartView
	for _, src := range checks.Sources() {
		for _, f := range src.Overview {
			if s, ok := idx[seriesKey{src.Kind, f}]; ok {
				out = append(out, chart(src.Noun+" "+f, tl, []Series{*s}, nil))
			}
		}
	}
	for _, src := range checks.Sources() {
		if !src.TopGrowers {
			continue
		}
		if top := topGrowers(r.Series, src.Kind, topN); len(top) > 0 {
			out = append(out, chart(fmt.Sprintf("top %d %s by growth (change since start)", len(top), plural(src.Noun)), tl, top, nil))
		}
	}
	return out
}

// plural is "slab caches", "processes".
func plural(noun string) string {
	if strings.HasSuffix(noun, "s") {
		return noun + "es"
	}
	return noun + "s"
}

// topGrowers returns the n series of a kind that grew most (last minus
// first, in bytes where the unit is a size), sharing the first one's unit,
// each shifted to start at zero so small and large series compare.
func topGrowers(ss []Series, kind checks.Kind, n int) []Series {
	type grown struct {
		s Series
		g float64
	}
	var all []grown
	for _, s := range ss {
		if s.Kind != kind || s.Len() == 0 {
			continue
		}
		g := s.Value(s.Len()-1) - s.Value(0)
		if k := human.UnitBytes(s.Unit); k > 0 {
			g *= k
		}
		if math.IsNaN(g) {
			continue
		}
		all = append(all, grown{s, g})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].g > all[j].g })
	var out []Series
	for _, a := range all {
		if len(out) == n {
			break
		}
		if len(out) > 0 && a.s.Unit != out[0].Unit {
			continue
		}
		out = append(out, sinceStart(a.s))
	}
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// verdictClass maps verdicts (of any of package verdict's types) to the CSS classes of the template.
func verdictClass(v any) string {
	switch strings.ToLower(fmt.Sprint(v)) {
	case string(verdict.Pass), string(verdict.OK), string(verdict.Allowed), string(verdict.Reclaimable):
		return "ok"
	case string(verdict.Fail), string(verdict.Leak):
		return "bad"
	case string(verdict.Suspect), string(verdict.Error), string(verdict.CheckWarn):
		return "warn"
	}
	return "bad"
}

// sinceStart is the series minus its first value; a series in columns
// keeps sharing its times.
func sinceStart(s Series) Series {
	d := s
	if len(s.Points) == 0 {
		d.Values = make([]float64, s.Len())
		for i := range d.Values {
			d.Values[i] = s.Values[i] - s.Values[0]
		}
		return d
	}
	d.Points = make([]Point, len(s.Points))
	for i, p := range s.Points {
		d.Points[i] = Point{At: p.At, Value: p.Value - s.Points[0].Value}
	}
	return d
}

func otherRank(v verdict.Finding) int {
	switch v {
	case verdict.Allowed:
		return 0
	case verdict.Insufficient:
		return 1
	case verdict.OK:
		return 3
	}
	return 2
}

func runTimeline(r Run) timeline {
	tl := timeline{start: origin(r)}
	for _, g := range r.Gaps {
		tl.gaps = append(tl.gaps, g.At)
	}
	return tl
}

// origin is time zero of the charts and CSV exports: the run's start, or
// its first sample when that came earlier (the baseline is taken before the
// soak's clock starts).
func origin(r Run) time.Time {
	t := r.Started
	for i := range r.Series {
		s := &r.Series[i]
		if s.Len() == 0 {
			continue
		}
		if at := s.Point(0).At; t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t
}

// maxEvidenceBytes bounds the console tail the page shows; the whole of it
// stays in the run folder.
const maxEvidenceBytes = 64 << 10

// tailReboot keeps the last maxEvidenceBytes of a reboot's evidence, from a
// line start.
func tailReboot(rb *Reboot) *Reboot {
	if rb == nil || len(rb.Evidence) <= maxEvidenceBytes {
		return rb
	}
	c := *rb
	tail := c.Evidence[len(c.Evidence)-maxEvidenceBytes:]
	if i := strings.IndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	c.Evidence = "… (earlier lines in the run folder)\n" + tail
	return &c
}

// observerText lists the observer's processes as "dropbear (pid 812), …".
func observerText(obs []checks.ObserverProcess) string {
	parts := make([]string, 0, len(obs))
	for _, o := range obs {
		parts = append(parts, fmt.Sprintf("%s (pid %d)", o.Name, o.PID))
	}
	return strings.Join(parts, ", ")
}
