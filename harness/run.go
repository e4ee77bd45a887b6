package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness/report"
)

// Run is one recorded soak: its metadata, samples, gaps and judgement.
// Soak returns it; LoadRun rebuilds it from a run folder.
//
// A run does not keep its parsed samples: each sample's points go into the
// run's series as it is taken (checks.SeriesBuilder) and only its header
// stays in Samples, so a run's memory grows by a few bytes per series point
// rather than by a whole sample. The samples themselves are in samples.jsonl
// and raw/.
type Run struct {
	// Dir is the run folder.
	Dir  string
	Meta RunMeta
	// Samples are the headers of the samples taken (index, time, boot,
	// uptime, per-file errors), in order.
	Samples []SampleInfo
	Gaps    []Gap
	// Preflight is what the preflight checked.
	Preflight []report.Check
	// Judgement is the latest verdict on the samples.
	Judgement Judgement
	// Interrupted is true for a folder whose soak never finished.
	Interrupted bool

	// FastSamples counts the samples of the fast grid (raw/fast).
	FastSamples int

	step   string
	points *checks.SeriesBuilder
	// fast holds the fast sources' series from full and fast samples alike
	// (nil when the run has no fast grid); fastLoad feeds a loaded run's
	// fast raws in time order with its full samples.
	fast     *checks.SeriesBuilder
	fastLoad *fastLoader
	// observer is every distinct long-lived observer process seen (the
	// SSH session; a reconnect adds one), without the per-sample shell.
	observer []checks.ObserverProcess
}

// maxObserverProcesses bounds Run.observer across many reconnects.
const maxObserverProcesses = 64

// SampleInfo is what a run keeps of each sample once its points are in the
// run's series.
type SampleInfo struct {
	Index  int
	At     time.Time
	BootID string
	Uptime time.Duration
	// Errors are the sample's per-file read or parse problems.
	Errors map[string]string
}

// addSample records a sample: its header in Samples, its points in the
// run's series. The sample itself is not kept.
func (r *Run) addSample(smp checks.Sample) {
	if r.points == nil {
		r.points = checks.NewSeriesBuilder()
	}
	if r.fast != nil {
		if r.fastLoad != nil {
			r.fastLoad.feedBefore(smp.At, r)
		}
		r.fast.Add(smp)
	}
	r.points.Add(smp)
	r.noteObserver(smp.Observer)
	r.Samples = append(r.Samples, SampleInfo{Index: smp.Index, At: smp.At, BootID: smp.BootID, Uptime: smp.Uptime, Errors: smp.Errors})
}

// noteObserver keeps the sample's observer processes after the reader
// shell (a new one every sample) that the run has not seen yet.
func (r *Run) noteObserver(obs []checks.ObserverProcess) {
	for i, o := range obs {
		if i == 0 || len(r.observer) >= maxObserverProcesses || slices.Contains(r.observer, o) {
			continue
		}
		r.observer = append(r.observer, o)
	}
}

// seriesBuilder is the run's series (empty when it has no sample).
func (r *Run) seriesBuilder() *checks.SeriesBuilder {
	if r.points == nil {
		r.points = checks.NewSeriesBuilder()
	}
	return r.points
}

// RunMeta is run.json: what ran, where, with which settings, and how it ended.
// It never holds secrets: no passwords, passphrases or key material.
type RunMeta struct {
	Target       string `json:"target"`
	Kernel       string `json:"kernel,omitempty"`
	ConfigSource string `json:"config_source,omitempty"`
	ConfigDigest string `json:"config_digest,omitempty"`
	// BootID and Uptime are the baseline's; BaselineAt when sample 0 was taken.
	BootID     string            `json:"boot_id,omitempty"`
	Uptime     time.Duration     `json:"uptime_ns,omitempty"`
	BaselineAt time.Time         `json:"baseline_at,omitempty"`
	Profile    string            `json:"profile,omitempty"`
	Workloads  []string          `json:"workloads,omitempty"`
	OwnModules []string          `json:"own_modules,omitempty"`
	Policy     *Policy           `json:"policy,omitempty"`
	Versions   map[string]string `json:"versions,omitempty"`
	Duration   time.Duration     `json:"duration_ns"`
	Interval   time.Duration     `json:"interval_ns"`
	// FastInterval is the fast grid's spacing (0: no fast grid).
	FastInterval time.Duration `json:"fast_interval_ns,omitempty"`
	Warmup       time.Duration `json:"warmup_ns,omitempty"`
	// PlannedSamples is how many samples after the baseline were planned.
	PlannedSamples int       `json:"planned_samples"`
	Started        time.Time `json:"started"`
	Ended          time.Time `json:"ended,omitempty"`
	// Status is running, pass, fail or error.
	Status verdict.Run `json:"status"`
	// Error says why the run failed or could not reach a verdict.
	Error     string         `json:"error,omitempty"`
	Reboot    *report.Reboot `json:"reboot,omitempty"`
	Preflight []report.Check `json:"preflight,omitempty"`
	// SlabAliases maps a slab cache to the caches merged with it, read from
	// /sys/kernel/slab at the baseline (empty when merging is off).
	SlabAliases map[string][]string `json:"slab_aliases,omitempty"`
	// Reclaim is what the end-of-run reclaim probe did and saw (nil when it
	// did not run); a re-judgement applies the same results.
	Reclaim *ReclaimProbe `json:"reclaim_probe,omitempty"`
	// Release labels the build soaked (--release), for the results store.
	Release string `json:"release,omitempty"`
	// Comparison is what the results store and the comparison with the
	// baseline run said (nil without a store).
	Comparison *ComparisonNote `json:"comparison,omitempty"`
	// Reload is what the end-of-run reload probe did and saw (nil when it
	// did not run).
	Reload []ModuleReload `json:"reload_probe,omitempty"`
	// PreflightNotes say what the preflight did to the target (mounting
	// debugfs) and what the soak restored at its end.
	PreflightNotes []string `json:"preflight_notes,omitempty"`
}

// Failed reports whether the run did not pass.
func (r *Run) Failed() bool { return r.Meta.Status != verdict.Pass }

// Message is the whole diagnosis, as the Gomega matcher prints it.
func (r *Run) Message() string { return report.Message(r.Report()) }

// LoadRun rebuilds a run from its folder, including one whose soak was killed:
// a torn last samples.jsonl line is dropped, and raw snapshots that never
// reached samples.jsonl are parsed again. Samples are re-parsed from raw/ with
// the current code when the raw file is readable.
func LoadRun(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, fmt.Errorf("read run folder %s: %w; give the folder a soak created (it holds %s)", dir, err, RunFile)
	}
	if err := json.Unmarshal(data, &r.Meta); err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", RunFile, dir, err)
	}
	r.Preflight = r.Meta.Preflight
	r.Interrupted = r.Meta.Status == verdict.Running
	// samples.jsonl is streamed: per index only where its sample line is
	// (or the gap), so a day of 10 s samples is never in memory at once.
	type entry struct {
		sampleAt     time.Time
		sampleOffset int64 // -1: no sample line
		gap          *Gap
	}
	byIndex := map[int]*entry{}
	get := func(i int) *entry {
		e, ok := byIndex[i]
		if !ok {
			e = &entry{sampleOffset: -1}
			byIndex[i] = e
		}
		return e
	}
	samplesPath := filepath.Join(dir, SamplesFile)
	err = scanRecords(samplesPath, func(off int64, rec Record) {
		switch {
		case rec.Sample != nil:
			e := get(rec.Sample.Index)
			e.sampleAt, e.sampleOffset, e.gap = rec.Sample.At, off, nil
		case rec.Gap != nil:
			if e := get(rec.Gap.Index); e.sampleOffset < 0 {
				g := *rec.Gap
				e.gap = &g
			}
		}
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if r.fastLoad, err = newFastLoader(dir, r.Meta.OwnModules); err != nil {
		return nil, err
	}
	if r.fastLoad != nil {
		r.fast = checks.NewFastSeriesBuilder()
		defer func() { r.fastLoad.feedBefore(time.Time{}, r); r.fastLoad = nil }()
	}
	var lines *os.File
	if f, err := os.Open(samplesPath); err == nil {
		lines = f
		defer f.Close()
	}
	raws, err := rawIndexes(filepath.Join(dir, RawDir))
	if err != nil {
		return nil, err
	}
	hasRaw := map[int]bool{}
	for _, i := range raws {
		hasRaw[i] = true
		get(i)
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	// One sample at a time, in order: its raw snapshot re-parsed (else its
	// samples.jsonl line) and its points put into the series at once.
	for _, i := range idx {
		e := byIndex[i]
		delete(byIndex, i)
		if rb := r.Meta.Reboot; rb != nil && i >= rb.AtSample {
			// The run ended at the reboot; what followed belongs to another boot.
			continue
		}
		if hasRaw[i] {
			if smp, ok := r.parseRaw(i, e.sampleAt); ok {
				r.addSample(smp)
				continue
			}
			// torn by a crash: the samples.jsonl line, if any, stands
		}
		switch {
		case e.sampleOffset >= 0 && lines != nil:
			rec, err := readRecordAt(lines, e.sampleOffset)
			if err != nil {
				return nil, err
			}
			r.addSample(*rec.Sample)
		case e.gap != nil:
			r.Gaps = append(r.Gaps, *e.gap)
		}
	}
	return r, nil
}

// parseRaw re-parses raw snapshot i with the current code (at is the time
// to use when the raw does not record one); false when it is torn (a crash
// mid-write).
func (r *Run) parseRaw(i int, at time.Time) (checks.Sample, bool) {
	snap, meta, err := readRawMeta(filepath.Join(r.Dir, RawDir, fmt.Sprintf("%04d.tar.gz", i)))
	if err != nil {
		return checks.Sample{}, false
	}
	if !meta.At.IsZero() {
		at = meta.At
	}
	return newSample(i, at, snap, r.Meta.OwnModules), true
}

var rawName = regexp.MustCompile(`^([0-9]{4,9})\.tar\.gz$`)

func rawIndexes(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []int
	for _, e := range ents {
		m := rawName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// Rejudge judges the run's samples again under pol (nil: the recorded
// policy, else the default) and sets its verdict, as analyze does. A run
// that ended in preflight, a reboot or an error keeps that outcome.
func (r *Run) Rejudge(pol *Policy) {
	if pol == nil {
		pol = r.Meta.Policy
	}
	if pol == nil {
		d := DefaultPolicy()
		pol = &d
	}
	r.Meta.Policy = pol
	if r.Meta.Ended.IsZero() && len(r.Samples) > 0 {
		r.Meta.Ended = r.Samples[len(r.Samples)-1].At // killed: the last sample is the last sign of life
	}
	r.judge(true)
	switch {
	case r.Meta.Reboot != nil:
		r.Meta.Status = verdict.Fail
	case r.Interrupted:
		if r.Judgement.Failed() {
			r.Meta.Status, r.Meta.Error = verdict.Fail, fmt.Sprintf("interrupted after %d samples; %s", len(r.Samples), r.Judgement.Summary())
		} else {
			r.Meta.Status, r.Meta.Error = verdict.Error, fmt.Sprintf("the soak was interrupted after %d of %d samples and no leak is certain yet; re-run it for the full duration", max(len(r.Samples)-1, 0), r.Meta.PlannedSamples)
		}
	case len(r.Samples) == 0 || r.Meta.BaselineAt.IsZero():
		// preflight or baseline never completed: keep the recorded outcome.
	case r.Judgement.Failed():
		r.Meta.Status = verdict.Fail
	case r.Meta.Status == verdict.Error:
		// a broken run stays broken.
	default:
		r.Meta.Status, r.Meta.Error = verdict.Pass, ""
	}
}

// WriteReports writes run.json and the reports (report.json, report.html,
// CSV series) into the run folder.
func (r *Run) WriteReports() error { return r.writeArtifacts() }

func (r *Run) writeArtifacts() error {
	r.Meta.Preflight = r.Preflight
	if err := writeJSONFile(filepath.Join(r.Dir, RunFile), r.Meta); err != nil {
		return err
	}
	return report.Write(r.Dir, r.Report())
}

// Report converts the run into what harness/report renders.
func (r *Run) Report() report.Run {
	rr := report.Run{
		Target:         r.Meta.Target,
		Kernel:         r.Meta.Kernel,
		RunDir:         r.Dir,
		Started:        r.Meta.Started,
		Ended:          r.Meta.Ended,
		Verdict:        r.Meta.Status,
		Error:          r.Meta.Error,
		Findings:       r.Judgement.Findings(),
		Series:         r.series(),
		Preflight:      r.Preflight,
		Reboot:         r.Meta.Reboot,
		Samples:        len(r.Samples),
		PlannedSamples: r.Meta.PlannedSamples + 1,
		Interval:       r.Meta.Interval,
		Observer:       r.observer,
		Meta:           map[string]string{},
	}
	if rr.Verdict == verdict.Running {
		rr.Verdict = verdict.Error
		if rr.Error == "" {
			rr.Error = "the soak was interrupted before its verdict"
		}
	}
	if r.Meta.Policy != nil {
		rr.Policy = r.Meta.Policy
	}
	for _, g := range r.Gaps {
		rr.Gaps = append(rr.Gaps, report.Gap{Index: g.Index, At: g.At, Reason: g.Reason})
	}
	for k, v := range r.Meta.Versions {
		rr.Meta["version."+k] = v
	}
	if r.Meta.Comparison != nil {
		rr.Comparison = r.Meta.Comparison.Message
	}
	for k, v := range map[string]string{"config_digest": r.Meta.ConfigDigest, "config_source": r.Meta.ConfigSource, "boot_id": r.Meta.BootID, "profile": r.Meta.Profile, "release": r.Meta.Release} {
		if v != "" {
			rr.Meta[k] = v
		}
	}
	return rr
}

func (s *store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}
