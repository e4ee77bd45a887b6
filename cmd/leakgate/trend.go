package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/leakgate/leakgate/checks/trend"
)

func init() {
	register(command{
		name:    "trend",
		summary: "judge series from CSV (series,t,value): trend [FILE|-] [--warmup DUR] [--min-slope X] [--min-growth X] [--retained-budget FLOORS] [--alpha P] [--replay] [--json]",
		run:     runTrend,
	})
}

// Limits that keep hostile input bounded.
const (
	trendMaxSeriesName = 256
	trendMaxRows       = 50_000_000
)

// trendLine is what `trend --json` prints per series.
type trendLine struct {
	Series       string    `json:"series"`
	Verdict      string    `json:"verdict"`
	SlopePerHour jsonFloat `json:"slope_per_hour"`
	SlopeLow     jsonFloat `json:"slope_low_per_hour"`
	SlopeHigh    jsonFloat `json:"slope_high_per_hour"`
	P            jsonFloat `json:"p_value"`
	PRaw         jsonFloat `json:"p_raw"`
	Growth       jsonFloat `json:"growth"`
	FittedGrowth jsonFloat `json:"fitted_growth"`
	N            int       `json:"n"`
	Monotonic    jsonFloat `json:"monotonic"`
	Reason       string    `json:"reason"`
}

// jsonFloat is a float64 that JSON can always hold: a figure that
// overflowed (±Inf) or is undefined (NaN) is written as the string "+Inf",
// "-Inf" or "NaN" rather than failing the whole output.
type jsonFloat float64

// MarshalJSON writes f as a number, or as a string when it is not finite.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// trendRescaleAbove: a series whose values reach beyond this is judged on
// its values divided by their largest magnitude (slopes and growth scaled
// back after), so that sums of squares and differences cannot overflow and
// turn a rising ramp into "ok". The trend test is rank-based and the
// floors are scaled alike, so the verdict is the same as unscaled.
const trendRescaleAbove = 1e100

func runTrend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts := trend.DefaultOptions()
	fs := flag.NewFlagSet("trend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per series per line")
	fs.DurationVar(&opts.Warmup, "warmup", opts.Warmup, "ignore this long at the start of every series")
	fs.Float64Var(&opts.MinSlopePerHour, "min-slope", 0, "smallest leak slope, in value units per hour")
	fs.Float64Var(&opts.MinGrowth, "min-growth", 0, "smallest leak growth over the window, in value units")
	fs.Float64Var(&opts.Alpha, "alpha", opts.Alpha, "false discovery rate across the series (Benjamini–Hochberg)")
	fs.Float64Var(&opts.RetainedBudgetFloors, "retained-budget", opts.RetainedBudgetFloors, "growth kept that is a leak whatever its shape, in multiples of --min-growth (0: off)")
	replay := fs.Bool("replay", false, "judge every prefix as a soak would (early rule after each point, final at the end); print when each series stopped")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate trend [FILE|-] [--warmup DUR] [--min-slope X] [--min-growth X] [--retained-budget FLOORS] [--alpha P] [--replay] [--json]")
		fmt.Fprintln(stderr, "reads CSV with header series,t,value (t in seconds from the start); exit 1 when a series leaks")
		fs.PrintDefaults()
	}
	// Flags may come before or after the file name.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) > 1 {
		fs.Usage()
		return exitUsage
	}
	if !(opts.Alpha > 0 && opts.Alpha < 1) || opts.Warmup < 0 || math.IsNaN(opts.MinSlopePerHour) || math.IsNaN(opts.MinGrowth) ||
		!(opts.RetainedBudgetFloors == 0 || opts.RetainedBudgetFloors >= 1) || math.IsInf(opts.RetainedBudgetFloors, 0) {
		fmt.Fprintln(stderr, "leakgate trend: --alpha must be between 0 and 1, --warmup not negative and --retained-budget 0 or a finite number of at least 1")
		return exitUsage
	}
	name := "-"
	in := io.Reader(os.Stdin)
	if len(files) == 1 && files[0] != "-" {
		name = files[0]
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "leakgate trend: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		in = f
	}
	series, err := readTrendCSV(&lineCapReader{r: contextReader(ctx, in), max: trendMaxLineBytes})
	if err != nil && ctx.Err() != nil {
		fmt.Fprintf(stderr, "leakgate trend %s: %v\n", name, context.Cause(ctx))
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintf(stderr, "leakgate trend %s: %v\n", name, err)
		return exitUsage
	}
	scale := make([]float64, len(series))
	for i := range series {
		series[i].Options = opts
		scale[i] = 1
		m := 0.0
		for _, v := range series[i].Values {
			m = max(m, math.Abs(v))
		}
		if m > trendRescaleAbove {
			scale[i] = m
			vs := make([]float64, len(series[i].Values))
			for j, v := range series[i].Values {
				vs[j] = v / m
			}
			series[i].Values = vs
			series[i].Options.MinSlopePerHour /= m
			series[i].Options.MinGrowth /= m
		}
	}
	if *replay {
		return runTrendReplay(ctx, name, series, *asJSON, stdout, stderr) // trend_replay.go
	}
	results, err := trend.AnalyzeRun(ctx, series)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate trend %s: %v\n", name, err)
		return exitUsage
	}
	leak := false
	lines := make([]trendLine, len(results))
	for i, r := range results {
		leak = leak || r.Verdict == trend.Leak
		k := scale[i]
		lines[i] = trendLine{
			Series: series[i].Name, Verdict: string(r.Verdict),
			SlopePerHour: jsonFloat(r.SlopePerHour * k), SlopeLow: jsonFloat(r.SlopeLow * k), SlopeHigh: jsonFloat(r.SlopeHigh * k),
			P: jsonFloat(r.PAdjusted), PRaw: jsonFloat(r.P), Growth: jsonFloat(r.Growth * k), FittedGrowth: jsonFloat(r.FittedGrowth * k),
			N: r.N, Monotonic: jsonFloat(r.Monotonic), Reason: r.Reason,
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				fmt.Fprintf(stderr, "leakgate trend: %v\n", err)
				return exitUsage
			}
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERIES\tVERDICT\tSLOPE/h\t95% CI\tP\tGROWTH\tN\tREASON")
		for _, l := range lines {
			// Series names are the CSV's (often a target's cache or process
			// name): escaped, like the reason that may quote them.
			fmt.Fprintf(tw, "%s\t%s\t%s\t[%s, %s]\t%.3g\t%s\t%d\t%s\n",
				human.Escape(l.Series), l.Verdict, human.Count(float64(l.SlopePerHour)), human.Count(float64(l.SlopeLow)), human.Count(float64(l.SlopeHigh)),
				l.P, human.Count(float64(l.Growth)), l.N, human.Escape(l.Reason))
		}
		tw.Flush()
	}
	if leak {
		return exitFindings
	}
	return exitOK
}

// trendMaxLineBytes caps one CSV line: a series name is at most
// trendMaxSeriesName bytes and two numbers follow it.
const trendMaxLineBytes = 64 << 10

// lineCapReader fails once a line runs longer than max bytes, so an endless
// line is an error, not a buffer that grows until the process dies.
type lineCapReader struct {
	r    io.Reader
	max  int
	run  int // bytes since the last newline
	line int // newlines seen
}

func (l *lineCapReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			l.run, l.line = 0, l.line+1
			continue
		}
		if l.run++; l.run > l.max {
			return i, fmt.Errorf("%w: line %d: longer than %d bytes; want series,t,value", errTrendCSV, l.line+1, l.max)
		}
	}
	return n, err
}

// errTrendCSV is wrapped by every CSV problem; messages carry the line.
var errTrendCSV = errors.New("bad trend CSV")

// readTrendCSV reads "series,t,value" rows (header first, series
// interleaved) into one series per name in order of first appearance, each
// sorted by t. Every problem names its line and says what to fix.
func readTrendCSV(in io.Reader) ([]trend.Series, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = 3
	r.ReuseRecord = true
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", errTrendCSV, line, fmt.Sprintf(format, args...))
	}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, bad(1, "empty input; want a header series,t,value")
	}
	if err != nil {
		return nil, csvError(err)
	}
	if len(header) != 3 || strings.TrimPrefix(strings.TrimSpace(header[0]), "\ufeff") != "series" ||
		strings.TrimSpace(header[1]) != "t" || strings.TrimSpace(header[2]) != "value" {
		return nil, bad(1, "header is %q; want series,t,value", strings.Join(header, ","))
	}
	type point struct {
		t, v float64
		line int
	}
	index := map[string]int{}
	var names []string
	var points [][]point
	rows := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := r.FieldPos(0)
		rows++
		if rows > trendMaxRows {
			return nil, bad(line, "more than %d rows; split the file", trendMaxRows)
		}
		name := strings.TrimSpace(rec[0])
		if name == "" {
			return nil, bad(line, "empty series name")
		}
		if len(name) > trendMaxSeriesName {
			return nil, bad(line, "series name longer than %d bytes", trendMaxSeriesName)
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil || math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, bad(line, "t %q is not a finite number of seconds", rec[1])
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, bad(line, "value %q is not a finite number", rec[2])
		}
		i, ok := index[name]
		if !ok {
			i = len(names)
			index[name] = i
			names = append(names, name)
			points = append(points, nil)
		}
		points[i] = append(points[i], point{t: t, v: v, line: line})
	}
	if len(names) == 0 {
		return nil, bad(1, "no rows after the header")
	}
	out := make([]trend.Series, len(names))
	for i, name := range names {
		ps := points[i]
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].t < ps[b].t })
		s := trend.Series{Name: name, Times: make([]float64, len(ps)), Values: make([]float64, len(ps))}
		for k, p := range ps {
			if k > 0 && p.t == ps[k-1].t {
				first, second := min(p.line, ps[k-1].line), max(p.line, ps[k-1].line)
				return nil, bad(second, "series %q has t=%v twice (also line %d); keep one value per time", name, p.t, first)
			}
			s.Times[k], s.Values[k] = p.t, p.v
		}
		out[i] = s
	}
	return out, nil
}

// csvError rewords encoding/csv's errors, which already carry the line.
func csvError(err error) error {
	if errors.Is(err, errTrendCSV) {
		return err
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: line %d: %v; want three comma-separated fields", errTrendCSV, pe.StartLine, pe.Err)
	}
	return fmt.Errorf("%w: %v", errTrendCSV, err)
}
