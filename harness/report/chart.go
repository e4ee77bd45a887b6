package report

import (
	"bytes"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"html/template"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart sizes: wide and short, so a finding's numbers and chart share a screen.
const (
	chartWidth  = 7.5 * vg.Inch
	chartHeight = 2.6 * vg.Inch
	// maxLegendName keeps legends from eating the plot area.
	maxLegendName = 40
)

// palette is colour-blind friendly (Okabe–Ito), in drawing order.
var palette = [...]color.RGBA{
	{0xD5, 0x5E, 0x00, 0xff}, {0x00, 0x72, 0xB2, 0xff}, {0x00, 0x9E, 0x73, 0xff},
	{0xCC, 0x79, 0xA7, 0xff}, {0xE6, 0x9F, 0x00, 0xff}, {0x56, 0xB4, 0xE9, 0xff},
	{0x00, 0x00, 0x00, 0xff}, {0xF0, 0xE4, 0x42, 0xff},
}

// chartSVG draws the series on one chart, time since start on x (in the unit
// that fits the span shown, see chooseTimeAxis) and
// values in human units on y, and returns the inline <svg> element. All text
// reaching the SVG is cleaned here and escaped by vgsvg; a drawing failure
// (gonum/plot panics on some degenerate input) becomes an error.
func chartSVG(title string, tl timeline, series []Series, trend *trendLine) (svg template.HTML, err error) {
	return drawChart(title, tl, series, trend, chartColumns)
}

// drawChart is chartSVG with series thinned to columns (see chartPoints).
func drawChart(title string, tl timeline, series []Series, trend *trendLine, columns int) (svg template.HTML, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("draw chart %q: %v", human.Escape(title), p)
		}
	}()
	if len(series) == 0 {
		return "", fmt.Errorf("draw chart %q: no series", human.Escape(title))
	}
	title = human.Escape(title)
	if len(series) == 1 {
		if from, ok := nearlyFlat(series[0]); ok {
			// A small change on a large level (MemAvailable moving KiB
			// on hundreds of MiB) is invisible on an absolute axis.
			series = []Series{sinceStart(series[0])}
			title += " (change from " + from + ")"
		}
	}
	unit, scale := yUnit(series)
	ax := chooseTimeAxis(tl.start, chartSpan(series, tl.start))
	p := plot.New()
	sansSerif(p)
	p.Title.Text = truncate(title, 90)
	p.X.Label.Text = ax.label
	p.Y.Label.Text = unit
	p.Y.Tick.Marker = plainTicks{}
	p.X.Tick.Marker = ax
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	drawn := 0
	for i := range series {
		s := &series[i]
		xys, finite := chartPoints(s, ax, scale, columns)
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return "", fmt.Errorf("draw chart %q: %w", human.Escape(title), err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		if finite <= 100 {
			pts, err := plotter.NewScatter(xys)
			if err == nil {
				pts.GlyphStyle = draw.GlyphStyle{Color: l.Color, Radius: vg.Points(1.6), Shape: draw.CircleGlyph{}}
				p.Add(pts)
			}
		}
		if len(series) > 1 {
			p.Legend.Add(truncate(human.Escape(s.Subject), maxLegendName), l)
		}
		drawn++
	}
	if drawn == 0 {
		return "", fmt.Errorf("draw chart %q: no finite points", human.Escape(title))
	}
	markGaps(p, tl, ax)
	if trend != nil && len(series) == 1 {
		if l := trend.line(series[0], ax, scale); l != nil {
			p.Add(l)
			p.Legend.Add(trend.label, l)
		}
	}
	c := vgsvg.New(chartWidth, chartHeight)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("draw chart %q: %w", human.Escape(title), err)
	}
	return template.HTML(inlineSVG(buf.String())), nil //nolint:gosec // vgsvg escapes every text it draws.
}

// chartColumns is how many columns a chart's time axis is cut into when a
// series has more points than it can show: the chart is 7.5 in, 720 CSS
// pixels wide, and its plot area less, so a column is at most a pixel.
const chartColumns = 720

// chartPoints are the series' finite points as the chart draws them, x in
// the time axis' unit since its start and y times scale, and how many finite points the
// series has. Past 4 points per column the points are thinned column by
// column to the first, lowest, highest and last of each (M4), in time
// order: the line drawn through them covers the same pixels, every peak
// and trough stays, and the x and y ranges are those of all the points.
func chartPoints(s *Series, ax timeAxis, scale float64, columns int) (plotter.XYs, int) {
	n := s.Len()
	finite := 0
	x0, x1 := math.NaN(), math.NaN()
	ordered := true
	for i := range n {
		x, _, ok := chartXY(s, i, ax, scale)
		if !ok {
			continue
		}
		if finite == 0 {
			x0 = x
		} else if x < x1 {
			ordered = false
		}
		x1 = x
		finite++
	}
	if finite <= 4*columns || !ordered || !(x1 > x0) || math.IsInf(x1-x0, 0) {
		xys := make(plotter.XYs, 0, finite)
		for i := range n {
			if x, y, ok := chartXY(s, i, ax, scale); ok {
				xys = append(xys, plotter.XY{X: x, Y: y})
			}
		}
		return xys, finite
	}
	xys := make(plotter.XYs, 0, 4*columns)
	var col m4
	for i := range n {
		x, y, ok := chartXY(s, i, ax, scale)
		if !ok {
			continue
		}
		c := min(int((x-x0)/(x1-x0)*float64(columns)), columns-1)
		if col.n > 0 && c != col.column {
			xys = col.flush(xys)
		}
		col.add(c, i, plotter.XY{X: x, Y: y})
	}
	return col.flush(xys), finite
}

// chartXY is point i on the chart's axes, and whether it can be drawn.
func chartXY(s *Series, i int, ax timeAxis, scale float64) (x, y float64, ok bool) {
	p := s.Point(i)
	x, y = ax.x(p.At), p.Value*scale
	return x, y, !math.IsNaN(y) && !math.IsInf(y, 0) && !math.IsNaN(x)
}

// m4 is one column's first, lowest, highest and last point, with their
// indexes in the series.
type m4 struct {
	column, n int
	idx       [4]int
	pt        [4]plotter.XY
}

func (c *m4) add(column, i int, p plotter.XY) {
	if c.n == 0 {
		*c = m4{column: column, n: 1, idx: [4]int{i, i, i, i}, pt: [4]plotter.XY{p, p, p, p}}
		return
	}
	c.n++
	if p.Y < c.pt[1].Y {
		c.idx[1], c.pt[1] = i, p
	}
	if p.Y > c.pt[2].Y {
		c.idx[2], c.pt[2] = i, p
	}
	c.idx[3], c.pt[3] = i, p
}

// flush appends the column's points in series order, each once.
func (c *m4) flush(xys plotter.XYs) plotter.XYs {
	if c.n == 0 {
		return xys
	}
	order := [4]int{0, 1, 2, 3}
	if c.idx[2] < c.idx[1] {
		order[1], order[2] = 2, 1
	}
	last := -1
	for _, k := range order {
		if c.idx[k] != last {
			xys = append(xys, c.pt[k])
			last = c.idx[k]
		}
	}
	c.n = 0
	return xys
}

// nearlyFlat reports whether a series moves by less than 2 % of its level,
// and its first value in human units.
func nearlyFlat(s Series) (string, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	first := math.NaN()
	for i := range s.Len() {
		v := s.Value(i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if math.IsNaN(first) {
			first = v
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	level := math.Max(math.Abs(lo), math.Abs(hi))
	if math.IsNaN(first) || hi-lo >= 0.02*level || hi == lo {
		return "", false
	}
	if k := human.UnitBytes(s.Unit); k > 0 {
		return human.Bytes(first * k), true
	}
	return strings.TrimSpace(human.Count(first) + " " + human.Escape(s.Unit)), true
}

// plainTicks are gonum/plot's default ticks labelled without exponents,
// with as many decimals as the tick step needs.
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	step := math.Inf(1)
	prev := math.NaN()
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		if !math.IsNaN(prev) {
			step = math.Min(step, t.Value-prev)
		}
		prev = t.Value
	}
	decimals := 0
	if step > 0 && !math.IsInf(step, 0) {
		decimals = int(math.Max(0, math.Min(6, math.Ceil(-math.Log10(step)))))
	}
	for i, t := range ticks {
		if t.Label != "" && math.Abs(t.Value) < 1e12 {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', decimals, 64)
		}
	}
	return ticks
}

// yUnit picks the y-axis unit for the series (the first one's unit decides)
// and the factor from series values to it.
func yUnit(series []Series) (string, float64) {
	unit := series[0].Unit
	k := human.UnitBytes(unit)
	if k == 0 {
		if unit == "" {
			return "value", 1
		}
		return human.Escape(unit), 1
	}
	maxAbs := 0.0
	for i := range series {
		s := &series[i]
		for j := range s.Len() {
			if v := math.Abs(s.Value(j) * k); v > maxAbs && !math.IsInf(v, 0) {
				maxAbs = v
			}
		}
	}
	switch {
	case maxAbs >= 4<<30:
		return "GiB", k / (1 << 30)
	case maxAbs >= 4<<20:
		return "MiB", k / (1 << 20)
	case maxAbs >= 4<<10:
		return "KiB", k / (1 << 10)
	}
	return "bytes", k
}

// sansSerif sets every text of the plot to Liberation Sans, without touching
// gonum/plot's package-level defaults.
func sansSerif(p *plot.Plot) {
	f := func(size vg.Length) font.Font {
		return font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, size)
	}
	p.Title.TextStyle.Font = f(11)
	p.X.Label.TextStyle.Font = f(9)
	p.Y.Label.TextStyle.Font = f(9)
	p.X.Tick.Label.Font = f(8)
	p.Y.Tick.Label.Font = f(8)
	p.Legend.TextStyle.Font = f(8)
}

// inlineSVG drops the XML prologue so the SVG can sit inside HTML.
func inlineSVG(s string) string {
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return s
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// timeline is the run's time axis: its start and the samples it missed.
type timeline struct {
	start time.Time
	gaps  []time.Time
}

// maxGapMarks bounds the gap markers per chart; past it the chart would be
// all markers.
const maxGapMarks = 50

// markGaps draws a faint vertical line where a sample is missing, so a
// straight stretch reads as an outage, not as a steady value.
func markGaps(p *plot.Plot, tl timeline, ax timeAxis) {
	if len(tl.gaps) == 0 || len(tl.gaps) > maxGapMarks {
		return
	}
	ymin, ymax := p.Y.Min, p.Y.Max
	if math.IsInf(ymin, 0) || math.IsInf(ymax, 0) || math.IsNaN(ymin) || math.IsNaN(ymax) {
		return
	}
	for _, g := range tl.gaps {
		x := ax.x(g)
		if x < p.X.Min || x > p.X.Max {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
		if err != nil {
			continue
		}
		l.Color = color.NRGBA{R: 0xcf, G: 0x22, B: 0x2e, A: 0x60}
		l.Width = vg.Points(4)
		p.Add(l)
	}
}

// trendLine is a finding's fitted slope, drawn over its series.
type trendLine struct {
	// perHour is the slope in the series' unit per hour.
	perHour float64
	label   string
}

// line is the dashed fit: the judged slope through the median intercept
// (Theil–Sen's), over the series' time range; nil when it cannot be drawn.
func (t *trendLine) line(s Series, ax timeAxis, scale float64) *plotter.Line {
	slope := t.perHour * scale * ax.unit.Hours() // per unit of the x axis
	icepts := make([]float64, 0, s.Len())
	x0, x1 := math.Inf(1), math.Inf(-1)
	for i := range s.Len() {
		pt := s.Point(i)
		x, y := ax.x(pt.At), pt.Value*scale
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		icepts = append(icepts, y-slope*x)
		x0, x1 = math.Min(x0, x), math.Max(x1, x)
	}
	if len(icepts) < 2 || x1 <= x0 || math.IsNaN(slope) || math.IsInf(slope, 0) {
		return nil
	}
	sort.Float64s(icepts)
	b := icepts[len(icepts)/2]
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: b + slope*x0}, {X: x1, Y: b + slope*x1}})
	if err != nil {
		return nil
	}
	l.Color = color.RGBA{0x55, 0x55, 0x55, 0xff}
	l.Width = vg.Points(1)
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return l
}
