// Package report turns a finished (or failed) soak into what people read: the
// Gomega failure message that is the whole diagnosis, and the run folder's
// report.json, self-contained report.html and per-kind CSV series exports.
package report

import (
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Run is everything the report shows about one soak. The harness fills it;
// this package only renders it.
type Run struct {
	// Target names the rig as the user gave it (ssh alias or URL, no secrets).
	Target string `json:"target"`
	// Kernel is the target's `uname -r`.
	Kernel string `json:"kernel,omitempty"`
	// RunDir is the run folder, relative to where the suite ran, as the
	// message should print it.
	RunDir  string    `json:"run_dir,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Verdict is verdict.Pass, verdict.Fail or verdict.Error.
	Verdict verdict.Run `json:"verdict"`
	// Error says why the run could not reach a verdict (verdict.Error), or
	// what ended it early.
	Error    string           `json:"error,omitempty"`
	Findings []checks.Finding `json:"findings"`
	// Series are the sampled values, one per kind and subject. They go to
	// series/<kind>.csv, not to report.json.
	Series    []Series `json:"-"`
	Gaps      []Gap    `json:"gaps,omitempty"`
	Preflight []Check  `json:"preflight,omitempty"`
	Reboot    *Reboot  `json:"reboot,omitempty"`
	// Samples is how many samples were taken; PlannedSamples how many the
	// duration and interval asked for.
	Samples        int `json:"samples"`
	PlannedSamples int `json:"planned_samples,omitempty"`
	// SeriesJudged is how many series the judge looked at, and
	// SeriesInsufficient how many of them had too few samples to judge
	// (checks.Judgement's Series and Insufficient); 0 when unknown.
	SeriesJudged       int `json:"series_judged,omitempty"`
	SeriesInsufficient int `json:"series_insufficient,omitempty"`
	// Interval is the planned time between samples.
	Interval time.Duration `json:"interval_ns,omitempty"`
	// Observer lists the harness's own long-lived processes on the target
	// (the SSH session serving it), left out of judgement: they grow with
	// the harness's traffic, not with the firmware.
	Observer []checks.ObserverProcess `json:"observer,omitempty"`
	// Policy is the judging policy as it was applied, for the record.
	Policy any `json:"policy,omitempty"`
	// Comparison is what the comparison with the baseline run said, one line
	// per point ("" without a results store).
	Comparison string `json:"comparison,omitempty"`
	// Meta holds free-form facts worth keeping (versions, config digest).
	Meta map[string]string `json:"meta,omitempty"`
}

// Series is one sampled signal: a slab cache's objects, a kmemleak
// signature's count, a process's RSS, a meminfo field.
//
// Its points are either Points, or — when Points is empty — the columns
// Start, Seconds and Values: point i is Values[i] at Start plus Seconds[i]
// seconds. The columns let a soak hand its series over without copying
// them (several series may share one Seconds slice); the report only reads
// them. Len and Point read either form.
type Series struct {
	Kind    checks.Kind `json:"kind"`
	Subject string      `json:"subject"`
	// Unit of the values ("bytes", "objects", "kB").
	Unit   string  `json:"unit,omitempty"`
	Points []Point `json:"points"`
	// Start is time zero of Seconds.
	Start time.Time `json:"start,omitzero"`
	// Seconds are the points' times in seconds since Start, increasing.
	Seconds []float64 `json:"seconds,omitempty"`
	// Values are the points' values, one per Seconds.
	Values []float64 `json:"values,omitempty"`
}

// Len is the number of points.
func (s *Series) Len() int {
	if len(s.Points) > 0 {
		return len(s.Points)
	}
	return min(len(s.Seconds), len(s.Values))
}

// Point is the i-th point, 0 <= i < Len().
func (s *Series) Point(i int) Point {
	if len(s.Points) > 0 {
		return s.Points[i]
	}
	return Point{At: s.Start.Add(time.Duration(s.Seconds[i] * float64(time.Second))), Value: s.Values[i]}
}

// Value is the i-th point's value, 0 <= i < Len().
func (s *Series) Value(i int) float64 {
	if len(s.Points) > 0 {
		return s.Points[i].Value
	}
	return s.Values[i]
}

// Point is one sampled value.
type Point struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// Gap is a sample that could not be taken, and why.
type Gap struct {
	Index  int       `json:"index"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Check is one preflight item: what was looked at, what was seen, and the
// one line that fixes it.
type Check struct {
	Name string `json:"name"`
	// Status is verdict.CheckOK, verdict.CheckWarn or verdict.CheckFail.
	Status      verdict.Check `json:"status"`
	Seen        string        `json:"seen,omitempty"`
	Remediation string        `json:"remediation,omitempty"`
}

// Failed reports whether the check blocks the soak.
func (c Check) Failed() bool { return c.Status.Blocks() }

// Reboot records a target that rebooted during the soak.
type Reboot struct {
	AtSample  int    `json:"at_sample"`
	OldBootID string `json:"old_boot_id"`
	NewBootID string `json:"new_boot_id"`
	// Evidence is the console or dmesg tail kept from around the reboot.
	Evidence string `json:"evidence,omitempty"`
}
