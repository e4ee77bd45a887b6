package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks/trend"
)

const trendFixtures = "../../testdata/trend"

func runTrendCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	code, out, errs := runKmemleakCLI(t, []byte(stdin), append([]string{"trend"}, args...)...)
	return code, out, errs
}

func decodeTrendLines(t *testing.T, out string) map[string]trendLine {
	t.Helper()
	got := map[string]trendLine{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l trendLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		got[l.Series] = l
	}
	return got
}

func TestTrend_LeakingSeriesExitsOneAndNamesIt(t *testing.T) {
	code, out, errs := runTrendCLI(t, "", trendFixtures+"/soak-12h-leak.csv", "--json")
	if code != exitFindings {
		t.Fatalf("exit %d (%s), want 1", code, errs)
	}
	got := decodeTrendLines(t, out)
	if len(got) != 3 {
		t.Fatalf("%d series, want 3: %s", len(got), out)
	}
	leak := got["slab:kmalloc-128"]
	// Generated at 65 536 per hour.
	if leak.Verdict != "leak" || leak.SlopePerHour < 60000 || leak.SlopePerHour > 71000 ||
		leak.SlopeLow > leak.SlopePerHour || leak.SlopeHigh < leak.SlopePerHour || leak.SlopeLow <= 0 {
		t.Fatalf("kmalloc-128: %+v, want leak within 10 %% of 65536/h inside a positive interval", leak)
	}
	if got["slab:dentry"].Verdict != "ok" {
		t.Fatalf("dentry: %+v, want ok", got["slab:dentry"])
	}
	if ramp := got["slab:inode_cache"]; ramp.Verdict != "ok" || ramp.Growth < 1e6 {
		t.Fatalf("inode_cache warm-up ramp: %+v, want ok despite its growth", ramp)
	}
}

func TestTrend_CleanInputFromStdinExitsZero(t *testing.T) {
	in := mustRead(t, trendFixtures+"/soak-12h-clean.csv")
	code, out, errs := runTrendCLI(t, in, "-", "--json")
	if code != exitOK {
		t.Fatalf("exit %d (%s), want 0", code, errs)
	}
	for name, l := range decodeTrendLines(t, out) {
		if l.Verdict != "ok" || l.N != 67 {
			t.Fatalf("%s: %+v, want ok on 67 points", name, l)
		}
	}
}

func TestTrend_FlagsChangeTheVerdict(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a growth floor above the leak's growth", []string{"--min-growth", "1e9"}, "ok"},
		{"a slope floor above the leak's slope", []string{"--min-slope", "1e6"}, "ok"},
		{"a warm-up longer than the run leaves too few points", []string{"--warmup", "11h"}, "insufficient"},
		{"flags before the file name", nil, "leak"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"--json"}, tc.args...), trendFixtures+"/soak-12h-leak.csv")
			_, out, errs := runTrendCLI(t, "", args...)
			if got := decodeTrendLines(t, out)["slab:kmalloc-128"].Verdict; got != tc.want {
				t.Fatalf("verdict %q (%s), want %q", got, errs, tc.want)
			}
		})
	}
}

func TestTrend_ARetainedStepPastTheBudgetIsALeakUnlessTheBudgetIsOff(t *testing.T) {
	// 12 h at 10 min: flat at 100, then 40 more from sample 30 (4 h after
	// the 1 h warm-up), under an alternating ±0.1. With a floor of 1 the
	// default budget is 32: one step of 40 kept for 7 h is a leak by the
	// budget alone; without the budget one step is a benign step's shape.
	var b strings.Builder
	b.WriteString("series,t,value\n")
	for i := range 73 {
		v := 100 + 0.1*float64(1-2*(i%2))
		if i >= 30 {
			v += 40
		}
		fmt.Fprintf(&b, "step,%d,%g\n", i*600, v)
	}
	tests := []struct {
		args    []string
		code    int
		verdict string
	}{
		{[]string{"--min-growth", "1"}, exitFindings, "leak"},
		{[]string{"--min-growth", "1", "--retained-budget", "0"}, exitOK, "ok"},
		{[]string{"--min-growth", "1", "--retained-budget", "64"}, exitOK, "ok"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runTrendCLI(t, b.String(), append([]string{"--json"}, tc.args...)...)
			l := decodeTrendLines(t, out)["step"]
			if code != tc.code || l.Verdict != tc.verdict {
				t.Fatalf("exit %d, %q (%s %s), want exit %d, %q", code, l.Verdict, l.Reason, errs, tc.code, tc.verdict)
			}
			if tc.verdict == "leak" && !strings.Contains(l.Reason, "overruled by the retained-growth budget: last hour's median 40 above the first's (budget 32 floors, 32)") {
				t.Errorf("reason %q does not name the budget", l.Reason)
			}
		})
	}
	for _, bad := range []string{"-1", "0.5", "+Inf", "NaN"} {
		if code, _, _ := runTrendCLI(t, b.String(), "--retained-budget", bad); code != exitUsage {
			t.Errorf("--retained-budget %s: exit %d, want 2", bad, code)
		}
	}
}

func TestTrend_TextOutputHasAHeaderAndARowPerSeries(t *testing.T) {
	_, out, _ := runTrendCLI(t, "", trendFixtures+"/soak-12h-leak.csv")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SERIES") || !strings.Contains(out, "slab:kmalloc-128  leak") {
		t.Fatalf("text output:\n%s", out)
	}
}

func TestTrend_BadInputExitsTwoWithTheLine(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"an empty input", "", "line 1: empty input"},
		{"a wrong header", "name,time,value\n", "line 1: header"},
		{"a value that is not a number", "series,t,value\na,0,1\na,600,lots\n", "line 3: value"},
		{"a NaN value", "series,t,value\na,0,NaN\n", "line 2: value"},
		{"an infinite time", "series,t,value\na,+Inf,1\n", "line 2: t"},
		{"a row with two fields", "series,t,value\na,0,1\na,600\n", "line 3"},
		{"a repeated time", "series,t,value\na,0,1\nb,0,1\na,0,2\n", "line 4: series \"a\" has t=0 twice (also line 2)"},
		{"an empty series name", "series,t,value\n,0,1\n", "line 2: empty series name"},
		{"only a header", "series,t,value\n", "no rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runTrendCLI(t, tc.input, "-")
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d stderr %q, want 2 and %q", code, errs, tc.want)
			}
		})
	}
}

func TestTrend_BadFlagsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"--alpha", "2", "-"}, {"--warmup", "soon", "-"}, {"a.csv", "b.csv"}} {
		if code, _, _ := runTrendCLI(t, "series,t,value\na,0,1\n", args...); code != exitUsage {
			t.Fatalf("args %v: exit %d, want 2", args, code)
		}
	}
}

func TestReadTrendCSV_InterleavedAndUnsortedRows(t *testing.T) {
	in := "series,t,value\nb,600,5\na,0,1\nb,0,4\na,600,2\n"
	series, err := readTrendCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 || series[0].Name != "b" || series[1].Name != "a" {
		t.Fatalf("series %+v, want b then a", series)
	}
	if series[0].Times[0] != 0 || series[0].Values[0] != 4 || series[0].Values[1] != 5 {
		t.Fatalf("b not sorted by t: %+v", series[0])
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("series,t,value\na,0,1\na,600,2\nb,0,3\n")
	f.Add("series,t,value\n\"a,b\",1e3,-2.5\n")
	f.Add("\ufeffseries,t,value\na,0,1\n")
	f.Add("series,t,value\na,0,1\na,0,1\n")
	f.Add("series,t,value\na,\"1\n2\",3\n")
	f.Fuzz(func(t *testing.T, in string) {
		series, err := readTrendCSV(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, errTrendCSV) || !strings.Contains(err.Error(), "line") {
				t.Fatalf("error without the CSV kind or a line: %v", err)
			}
			return
		}
		for _, s := range series {
			if s.Name == "" || len(s.Times) != len(s.Values) || len(s.Times) == 0 {
				t.Fatalf("malformed series %+v", s)
			}
			for i := range s.Times {
				if math.IsNaN(s.Values[i]) || math.IsInf(s.Values[i], 0) || (i > 0 && s.Times[i] <= s.Times[i-1]) {
					t.Fatalf("series %q: bad point %d", s.Name, i)
				}
			}
		}
		// Whatever was read can be judged without an error.
		for i := range series {
			series[i].Options = trend.DefaultOptions()
		}
		if _, err := trend.AnalyzeRun(context.Background(), series); err != nil {
			t.Fatalf("judging read series: %v", err)
		}
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTrend_ExtremeValuesKeepTheVerdictAndTheExitStatus(t *testing.T) {
	var b strings.Builder
	b.WriteString("series,t,value\n")
	for i := range 48 {
		// From -1.7e308 to +1.7e308: its growth overflows to +Inf.
		fmt.Fprintf(&b, "ramp,%d,%g\n", i*600, -1.7e308*(1-float64(i)/47)+1.7e308*(float64(i)/47))
		fmt.Fprintf(&b, "flat,%d,%g\n", i*600, 8e307*float64(1+i%2))
	}
	p := filepath.Join(t.TempDir(), "extreme.csv")
	os.WriteFile(p, []byte(b.String()), 0o600)

	code, out, errOut := runCLI("trend", p, "--json")

	if code != exitFindings {
		t.Fatalf("exit %d, want 1 (the ramp leaks); stderr %q\n%s", code, errOut, out)
	}
	verdicts := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l struct {
			Series, Verdict string
			Slope           any `json:"slope_per_hour"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		verdicts[l.Series] = l.Verdict
	}
	if verdicts["ramp"] != "leak" || verdicts["flat"] == "leak" {
		t.Errorf("verdicts %v, want the ramp a leak and the alternating series not", verdicts)
	}
}

func TestJSONFloat_WritesWhatJSONCannotHoldAsAString(t *testing.T) {
	b, err := json.Marshal([]jsonFloat{1.5, jsonFloat(math.Inf(1)), jsonFloat(math.Inf(-1)), jsonFloat(math.NaN())})
	if err != nil || string(b) != `[1.5,"+Inf","-Inf","NaN"]` {
		t.Errorf("got %s, %v", b, err)
	}
}

func TestTrend_EscapesSeriesNamesInTheTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("series,t,value\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "%q,%d,%d\n", "evil\x1b[2J\nleak", i*600, 1000+i*100)
	}
	p := filepath.Join(t.TempDir(), "hostile.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"trend", p}, {"trend", p, "--replay"}} {
		_, out, errOut := runCLI(args...)
		if strings.Contains(out, "\x1b") || !strings.Contains(out, `evil\x1b[2J\nleak`) {
			t.Errorf("%v: the series name is not escaped (stderr %q):\n%q", args, errOut, out)
		}
		if n := strings.Count(out, "\n"); n != 2 {
			t.Errorf("%v: %d lines, want a header and one row:\n%q", args, n, out)
		}
	}
}

func TestTrend_TheShapesIssue16FoundMissedAreLeaksAtItsFloorsAndTheBenignOnesAreNot(t *testing.T) {
	// 12 h at 10 min, judged as issue 16 judged them: --min-growth 512 KiB
	// --min-slope 64 KiB/h. Noise from a fixed seed; every figure below is
	// of the generated series, not of the judge.
	const floor = 512 << 10
	rng := rand.New(rand.NewPCG(16, 16))
	shapes := map[string]func(i int, h float64) float64{
		// Flat for 4 h, then 60 floors by the end, under noise of half
		// the growth per sample.
		"leak:starts-mid-run": func(i int, h float64) float64 {
			return 60 * floor * math.Max(0, h-4) / 8
		},
		// Five allocations of 8 MiB (80 floors in all), the last at 8 h.
		"leak:bursts": func(i int, h float64) float64 {
			n := 0
			for _, at := range []float64{2.5, 4, 5.5, 6, 8} {
				if h >= at {
					n++
				}
			}
			return float64(n) * (8 << 20)
		},
		// kmemleak-style: whole 4 KiB objects at 30 a sample, falling to
		// 10 after 6 h: 1440 objects (5.6 MiB, 11 floors) in all.
		"leak:counts": func(i int, h float64) float64 {
			if h <= 6 {
				return 4096 * 30 * float64(i)
			}
			return 4096 * (30*36 + 10*float64(i-36))
		},
		// A pool filled once by 10 MiB (20 floors) 3 h in.
		"benign:step": func(i int, h float64) float64 {
			if h >= 3 {
				return 10 << 20
			}
			return 0
		},
		// A warm-up ramp of 10 MiB with a time constant of 1 h.
		"benign:warm-up": func(i int, h float64) float64 { return 10 << 20 * (1 - math.Exp(-h)) },
		// A saw-tooth of 5 MiB every 2 h.
		"benign:saw-tooth": func(i int, h float64) float64 { return 5 << 20 * math.Mod(h, 2) / 2 },
	}
	var b strings.Builder
	b.WriteString("series,t,value\n")
	for _, name := range []string{"leak:starts-mid-run", "leak:bursts", "leak:counts", "benign:step", "benign:warm-up", "benign:saw-tooth"} {
		noise := 50.0 * 1024
		if name == "leak:starts-mid-run" {
			noise = 0.5 * 60 * floor / 48
		}
		for i := range 73 {
			h := float64(i) / 6
			fmt.Fprintf(&b, "%s,%d,%.0f\n", name, i*600, 64<<20+shapes[name](i, h)+noise*rng.NormFloat64())
		}
	}
	code, out, errs := runTrendCLI(t, b.String(), "--json", "--min-growth", "524288", "--min-slope", "65536")
	if code != exitFindings {
		t.Fatalf("exit %d (%s), want 1", code, errs)
	}
	got := decodeTrendLines(t, out)
	for name, l := range got {
		want := "ok"
		if strings.HasPrefix(name, "leak:") {
			want = "leak"
		}
		if l.Verdict != want {
			t.Errorf("%s: %s, want %s (%s)", name, l.Verdict, want, l.Reason)
		}
	}
	if len(got) != 6 {
		t.Fatalf("%d series judged, want 6: %s", len(got), out)
	}
}
