package resultstest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness/report"
)

// RunFolder describes a soak's run folder to write: what report.json,
// run.json and series/<kind>.csv say, in the harness's formats.
type RunFolder struct {
	// Name is the folder's name (the run id); default from Started and Target.
	Name     string
	Target   string
	Profile  string
	Release  string
	Kernel   string
	Verdict  string
	Started  time.Time
	Interval time.Duration
	// Series are sampled every Interval from Started.
	Series   []SeriesValues
	Findings []checks.Finding
}

// SeriesValues is one series' values, one per interval.
type SeriesValues struct {
	Kind    checks.Kind
	Subject string
	Unit    string
	Values  []float64
}

// WriteRunFolder writes the folder under root and returns its path.
func WriteRunFolder(t testing.TB, root string, f RunFolder) string {
	t.Helper()
	if f.Interval == 0 {
		f.Interval = 10 * time.Minute
	}
	if f.Verdict == "" {
		f.Verdict = string(verdict.Pass)
	}
	if f.Name == "" {
		f.Name = f.Started.UTC().Format("20060102T150405Z") + "-" + f.Target
	}
	dir := filepath.Join(root, f.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r := report.Run{Target: f.Target, Kernel: f.Kernel, RunDir: dir, Started: f.Started, Verdict: verdict.Run(f.Verdict),
		Findings: f.Findings, Interval: f.Interval, Meta: map[string]string{}}
	var n int
	for _, sv := range f.Series {
		s := report.Series{Kind: sv.Kind, Subject: sv.Subject, Unit: sv.Unit, Start: f.Started}
		for i, v := range sv.Values {
			s.Seconds = append(s.Seconds, (time.Duration(i) * f.Interval).Seconds())
			s.Values = append(s.Values, v)
		}
		n = max(n, len(sv.Values))
		r.Series = append(r.Series, s)
	}
	r.Ended = f.Started.Add(time.Duration(max(n-1, 0)) * f.Interval)
	r.Samples = n
	if err := os.MkdirAll(filepath.Join(dir, "series"), 0o700); err != nil {
		t.Fatal(err)
	}
	byKind := map[checks.Kind][]report.Series{}
	for _, s := range r.Series {
		byKind[s.Kind] = append(byKind[s.Kind], s)
	}
	for kind, ss := range byKind {
		out, err := os.Create(filepath.Join(dir, "series", string(kind)+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if err := report.WriteCSV(out, f.Started, ss); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(out, r); err != nil {
		t.Fatal(err)
	}
	out.Close()
	meta := map[string]any{
		"target": f.Target, "kernel": f.Kernel, "profile": f.Profile, "started": f.Started, "ended": r.Ended,
		"status": f.Verdict, "versions": map[string]string{"release": f.Release}, "interval_ns": f.Interval,
		"policy": map[string]any{"Warmup": time.Hour},
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), js, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Line is n values from start growing perHour every interval of 10 min.
func Line(n int, start, perHour float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = start + perHour*float64(i)/6
	}
	return v
}
