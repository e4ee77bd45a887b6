package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
		summary: "judge series from CSV (series,t,value): trend [FILE|-] [--warmup DUR] [--min-slope X] [--min-growth X] [--alpha P] [--replay] [--json]",
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
	Series       string  `json:"series"`
	Verdict      string  `json:"verdict"`
	SlopePerHour float64 `json:"slope_per_hour"`
	SlopeLow     float64 `json:"slope_low_per_hour"`
	SlopeHigh    float64 `json:"slope_high_per_hour"`
	P            float64 `json:"p_value"`
	PRaw         float64 `json:"p_raw"`
	Growth       float64 `json:"growth"`
	FittedGrowth float64 `json:"fitted_growth"`
	N            int     `json:"n"`
	Monotonic    float64 `json:"monotonic"`
	Reason       string  `json:"reason"`
}

func runTrend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts := trend.DefaultOptions()
	fs := flag.NewFlagSet("trend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per series per line")
	fs.DurationVar(&opts.Warmup, "warmup", opts.Warmup, "ignore this long at the start of every series")
	fs.Float64Var(&opts.MinSlopePerHour, "min-slope", 0, "smallest leak slope, in value units per hour")
	fs.Float64Var(&opts.MinGrowth, "min-growth", 0, "smallest leak growth over the window, in value units")
	fs.Float64Var(&opts.Alpha, "alpha", opts.Alpha, "false discovery rate across the series (Benjamini–Hochberg)")
	replay := fs.Bool("replay", false, "judge every prefix as a soak would (early rule after each point, final at the end); print when each series stopped")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate trend [FILE|-] [--warmup DUR] [--min-slope X] [--min-growth X] [--alpha P] [--replay] [--json]")
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
	if !(opts.Alpha > 0 && opts.Alpha < 1) || opts.Warmup < 0 || math.IsNaN(opts.MinSlopePerHour) || math.IsNaN(opts.MinGrowth) {
		fmt.Fprintln(stderr, "leakgate trend: --alpha must be between 0 and 1 and --warmup not negative")
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
	series, err := readTrendCSV(in)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate trend %s: %v\n", name, err)
		return exitUsage
	}
	for i := range series {
		series[i].Options = opts
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
		lines[i] = trendLine{
			Series: series[i].Name, Verdict: string(r.Verdict),
			SlopePerHour: r.SlopePerHour, SlopeLow: r.SlopeLow, SlopeHigh: r.SlopeHigh,
			P: r.PAdjusted, PRaw: r.P, Growth: r.Growth, FittedGrowth: r.FittedGrowth,
			N: r.N, Monotonic: r.Monotonic, Reason: r.Reason,
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
			fmt.Fprintf(tw, "%s\t%s\t%.4g\t[%.4g, %.4g]\t%.3g\t%.4g\t%d\t%s\n",
				l.Series, l.Verdict, l.SlopePerHour, l.SlopeLow, l.SlopeHigh, l.P, l.Growth, l.N, l.Reason)
		}
		tw.Flush()
	}
	if leak {
		return exitFindings
	}
	return exitOK
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
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: line %d: %v; want three comma-separated fields", errTrendCSV, pe.StartLine, pe.Err)
	}
	return fmt.Errorf("%w: %v", errTrendCSV, err)
}
