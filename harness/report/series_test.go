package report

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"gonum.org/v1/plot/plotter"
)

// inColumns is r with every series given as columns over one shared time
// axis, as the harness hands its series over.
func inColumns(r Run) Run {
	c := r
	c.Series = make([]Series, len(r.Series))
	var axis []float64
	for i, s := range r.Series {
		cs := Series{Kind: s.Kind, Subject: s.Subject, Unit: s.Unit, Start: start, Values: make([]float64, len(s.Points))}
		for j, p := range s.Points {
			if j == len(axis) {
				axis = append(axis, p.At.Sub(start).Seconds())
			}
			cs.Values[j] = p.Value
		}
		cs.Seconds = axis[:len(s.Points)]
		c.Series[i] = cs
	}
	return c
}

func TestSeries_InColumnsReportsExactlyWhatPointsDo(t *testing.T) {
	runs := map[string]Run{"a slab leak": slabLeakRun(), "hostile names": hostileRun(), "many series": manySeriesRun(40, 200)}
	for name, r := range runs {
		t.Run(name, func(t *testing.T) {
			c := inColumns(r)
			if &c.Series[0].Seconds[0] != &c.Series[1].Seconds[0] {
				t.Fatal("the fixture does not share its time axis")
			}

			for kind, write := range map[string]func(Run) (string, error){
				"csv": func(r Run) (string, error) {
					var b strings.Builder
					err := WriteCSV(&b, origin(r), r.Series)
					return b.String(), err
				},
				"html": func(r Run) (string, error) {
					var b strings.Builder
					err := WriteHTML(&b, r)
					return b.String(), err
				},
				"json": func(r Run) (string, error) {
					var b strings.Builder
					err := WriteJSON(&b, r)
					return b.String(), err
				},
				"message": func(r Run) (string, error) { return Message(r), nil },
			} {
				want, err := write(r)
				if err != nil {
					t.Fatal(err)
				}
				got, err := write(c)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s differs between columns and points (%d vs %d bytes)", kind, len(got), len(want))
				}
			}
		})
	}
}

func TestSeries_LenAndPointReadBothForms(t *testing.T) {
	p := ramp(checks.KindSlab, "a", "objects", 5, 10, 2)
	c := inColumns(Run{Series: []Series{p}}).Series[0]

	if p.Len() != 5 || c.Len() != 5 {
		t.Fatalf("len %d and %d, want 5", p.Len(), c.Len())
	}
	for i := range 5 {
		if c.Point(i) != p.Point(i) || c.Value(i) != p.Points[i].Value {
			t.Errorf("point %d: columns %+v, points %+v", i, c.Point(i), p.Point(i))
		}
	}
	if (&Series{}).Len() != 0 || (&Series{Seconds: []float64{1, 2}, Values: []float64{1}}).Len() != 1 {
		t.Error("an empty or uneven series has points it does not hold")
	}
}

// daySeries is 24 h at 10 s of a slow ramp with noise and a few one-sample
// spikes and dips.
func daySeries() Series {
	const n = 8641
	s := Series{Kind: checks.KindSlab, Subject: "kmalloc-64", Unit: "objects", Start: start, Seconds: make([]float64, n), Values: make([]float64, n)}
	for i := range n {
		s.Seconds[i] = float64(i) * 10
		s.Values[i] = 1000 + float64(i)/10 + 7*math.Sin(float64(i)*1.3)
	}
	for _, i := range []int{17, 2000, 2001, 5555, n - 2} {
		s.Values[i] += 400
	}
	for _, i := range []int{3, 4321, n - 9} {
		s.Values[i] -= 300
	}
	s.Values[100] = math.NaN()
	return s
}

func TestChartPoints_ThinADaysSeriesKeepingEachColumnsFirstLastAndExtremes(t *testing.T) {
	s := daySeries()
	const columns = 720

	got, finite := chartPoints(&s, timeAxis{start: start, unit: time.Hour}, 1, columns)

	all, _ := chartPoints(&s, timeAxis{start: start, unit: time.Hour}, 1, s.Len())
	if finite != s.Len()-1 || len(all) != finite {
		t.Fatalf("%d finite points, %d unthinned; want %d (one NaN)", finite, len(all), s.Len()-1)
	}
	if len(got) > 4*columns || len(got) < 2*columns {
		t.Fatalf("%d points, want between 2 and 4 per column", len(got))
	}
	if got[0] != all[0] || got[len(got)-1] != all[len(all)-1] {
		t.Error("the first or last point is gone: the time axis would change")
	}
	x0, x1 := all[0].X, all[len(all)-1].X
	column := func(p plotter.XY) int { return min(int((p.X-x0)/(x1-x0)*columns), columns-1) }
	type span struct {
		first, last, lo, hi plotter.XY
		n                   int
	}
	summarize := func(xys plotter.XYs) map[int]*span {
		m := map[int]*span{}
		for _, p := range xys {
			c := column(p)
			sp, ok := m[c]
			if !ok {
				m[c] = &span{p, p, p, p, 1}
				continue
			}
			sp.last, sp.n = p, sp.n+1
			if p.Y < sp.lo.Y {
				sp.lo = p
			}
			if p.Y > sp.hi.Y {
				sp.hi = p
			}
		}
		return m
	}
	want, have := summarize(all), summarize(got)
	if len(want) != len(have) {
		t.Fatalf("%d columns drawn, want %d", len(have), len(want))
	}
	for c, w := range want {
		h := have[c]
		if h.first != w.first || h.last != w.last || h.lo.Y != w.lo.Y || h.hi.Y != w.hi.Y || h.n > 4 {
			t.Errorf("column %d: drawn %+v, want first, last and extremes of %+v", c, *h, *w)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].X <= got[i-1].X {
			t.Fatalf("point %d is out of time order", i)
		}
	}
}

func TestChartPoints_KeepEveryPointOfASeriesTheChartCanShow(t *testing.T) {
	s := ramp(checks.KindSlab, "a", "objects", 4*chartColumns, 10, 1)

	got, finite := chartPoints(&s, timeAxis{start: start, unit: time.Hour}, 2, chartColumns)

	if finite != len(s.Points) || len(got) != len(s.Points) {
		t.Fatalf("%d of %d points", len(got), len(s.Points))
	}
	for i, p := range s.Points {
		if want := (plotter.XY{X: float64(p.At.Sub(start)) / float64(time.Hour), Y: 2 * p.Value}); got[i] != want {
			t.Fatalf("point %d is %+v, want %+v", i, got[i], want)
		}
	}
}

func TestChartSVG_DrawsADaysSeriesWithTheAxesOfAllItsPoints(t *testing.T) {
	s := daySeries()
	tl := timeline{start: start, gaps: []time.Time{start.Add(time.Hour)}}
	fit := &trendLine{perHour: 36, label: "judged slope"}

	thinned, err := chartSVG("kmalloc-64", tl, []Series{s}, fit)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := drawChart("kmalloc-64", tl, []Series{s}, fit, s.Len())
	if err != nil {
		t.Fatal(err)
	}

	labels := regexp.MustCompile(`>[^<>\s][^<>]*<`)
	got, want := labels.FindAllString(string(thinned), -1), labels.FindAllString(string(whole), -1)
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("texts (title, ticks, legend) %v, want those of the chart of every point %v", got, want)
	}
	if !strings.Contains(string(thinned), ">2250<") { // the top spike is 2271; without spikes the data stop at 1871
		t.Errorf("the y axis does not reach the spikes: %v", got)
	}
	if len(thinned) > len(whole)/2 {
		t.Errorf("a chart of %d bytes, %d unthinned: the series is not thinned to what the chart shows", len(thinned), len(whole))
	}
}

func FuzzChartPoints(f *testing.F) {
	f.Add([]byte{0, 10, 20, 5, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(2), int64(10))
	f.Add([]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, uint8(1), int64(-3))
	f.Fuzz(func(t *testing.T, values []byte, columns uint8, stepSec int64) {
		cols := int(columns%8) + 1
		s := Series{Kind: checks.KindSlab, Subject: "a", Start: start}
		for i, v := range values {
			s.Seconds = append(s.Seconds, float64(int64(i)*stepSec))
			y := float64(v)
			if v == 255 {
				y = math.NaN()
			}
			s.Values = append(s.Values, y)
		}

		got, finite := chartPoints(&s, timeAxis{start: start, unit: time.Hour}, 1, cols)

		all, _ := chartPoints(&s, timeAxis{start: start, unit: time.Hour}, 1, len(values)+1)
		if len(all) != finite || len(got) > finite {
			t.Fatalf("%d points drawn, %d unthinned, %d finite", len(got), len(all), finite)
		}
		if finite > 4*cols && stepSec > 0 && len(got) > 4*cols {
			t.Errorf("%d points for %d columns", len(got), cols)
		}
		if finite > 0 && (got[0] != all[0] || got[len(got)-1] != all[len(all)-1]) {
			t.Errorf("first or last point lost: %v of %v", got, all)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range all {
			lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		}
		glo, ghi := math.Inf(1), math.Inf(-1)
		for _, p := range got {
			glo, ghi = math.Min(glo, p.Y), math.Max(ghi, p.Y)
		}
		if glo != lo || ghi != hi {
			t.Errorf("range %v…%v drawn, the points span %v…%v", glo, ghi, lo, hi)
		}
	})
}
