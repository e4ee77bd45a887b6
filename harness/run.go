package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	Judgement checks.Judgement
	// Interrupted is true for a folder whose soak never finished.
	Interrupted bool
	// Unused names every record and raw snapshot of a loaded run folder
	// that could not be used, with the reason (LoadRun).
	Unused []string
	// Rejudged is the verdict of Rejudge, kept apart from Meta, which
	// stays as the soak recorded it.
	Rejudged *Rejudgement

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
	// FastGrid is what the fast grid skipped (nil without a fast grid, or
	// when the soak ended before the grid was stopped).
	FastGrid *FastGridNote `json:"fast_grid,omitempty"`
	Warmup   time.Duration `json:"warmup_ns,omitempty"`
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
	// ReclaimAccounted names the slab caches the kernel accounts as
	// reclaimable (sysfs reclaim_account), read with SlabAliases.
	ReclaimAccounted []string `json:"reclaim_accounted,omitempty"`
	// Reclaim is what the end-of-run reclaim probe did and saw (nil when it
	// did not run); a re-judgement applies the same results.
	Reclaim *ReclaimProbe `json:"reclaim_probe,omitempty"`
	// AllocCallsCaches are the caches whose sysfs alloc_calls every sample
	// read (kernels before 5.14 with owner tracking), from the preflight.
	AllocCallsCaches []string `json:"alloc_calls_caches,omitempty"`
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
func (r *Run) Failed() bool {
	status, _ := r.Outcome()
	return status != verdict.Pass
}

// Message is the whole diagnosis, as the Gomega matcher prints it.
func (r *Run) Message() string { return report.Message(r.Report()) }

// maxRunFileBytes caps run.json: it is kilobytes (the preflight table,
// the policy, slab aliases).
const maxRunFileBytes = 16 << 20

// LoadRun rebuilds a run from its folder, including one whose soak was killed:
// a torn last samples.jsonl line is dropped, and raw snapshots that never
// reached samples.jsonl are parsed again. Samples are re-parsed from raw/ with
// the current code when the raw file is readable.
//
// The folder is untrusted input: every read is capped, nothing outside the
// folder is read through a symlink, a FIFO or device is refused, the
// recorded policy is decoded over the defaults (old key names migrated) and
// validated, and every record or raw snapshot that cannot be used (bad
// line, corrupt or oversized raw, time out of index order) is named in
// Unused instead of being skipped silently. LoadRun never writes.
func LoadRun(dir string) (*Run, error) { return LoadRunContext(context.Background(), dir) }

// LoadRunContext is LoadRun that stops, with ctx's cause, once ctx is done.
func LoadRunContext(ctx context.Context, dir string) (*Run, error) {
	r := &Run{Dir: dir}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("read run folder %s: %w; give the folder a soak created (it holds %s)", dir, err, RunFile)
	}
	defer root.Close()
	data, err := readCapped(root, RunFile, maxRunFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read run folder %s: %w; give the folder a soak created (it holds %s)", dir, err, RunFile)
	}
	if err := json.Unmarshal(data, &r.Meta); err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", RunFile, dir, err)
	}
	pol, err := recordedPolicy(data)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", RunFile, dir, err)
	}
	r.Meta.Policy = pol
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
	maxIndex := -1 // no bound when the plan is unknown
	if r.Meta.PlannedSamples > 0 {
		maxIndex = r.Meta.PlannedSamples
	}
	badIndex := func(i int) bool { return i < 0 || (maxIndex >= 0 && i > maxIndex) }
	if r.fastLoad, err = newFastLoader(root, r.Meta.OwnModules); err != nil {
		// The fast grid is a hint, not a promise: the run is judged without it.
		r.unused("%v; no fast sample used", err)
	}
	if r.fastLoad != nil {
		r.fast = checks.NewFastSeriesBuilder()
		defer func() { r.fastLoad.feedBefore(time.Time{}, r); r.fastLoad.close(); r.fastLoad = nil }()
	}
	var lines *os.File
	// lineOffsets are the sample lines by index, for rebuilding a sample
	// (and the samples its delta line builds on) when its raw is unusable.
	lineOffsets := map[int]int64{}
	if f, err := openRegular(root, SamplesFile); err == nil {
		lines = f
		defer f.Close()
		err = decodeRecords(f, SamplesFile, func(off int64, rec Record) {
			if rec.Delta != nil && rec.Sample == nil {
				// A compact sample line: its index and time are outside the patch.
				rec.Sample = &checks.Sample{Index: rec.Delta.Index, At: rec.Delta.At}
			}
			if rec.Sample != nil && rec.Gap != nil {
				r.unused("%s at byte %d: a record that is both a sample and a gap; its gap is not used", SamplesFile, off)
			}
			switch {
			case rec.Sample != nil && badIndex(rec.Sample.Index):
				r.unused("%s at byte %d: sample index %d is outside 0..%d", SamplesFile, off, rec.Sample.Index, maxIndex)
			case rec.Gap != nil && rec.Sample == nil && badIndex(rec.Gap.Index):
				r.unused("%s at byte %d: gap index %d is outside 0..%d", SamplesFile, off, rec.Gap.Index, maxIndex)
			case rec.Sample != nil:
				e := get(rec.Sample.Index)
				if e.sampleOffset >= 0 {
					r.unused("%s at byte %d: sample %d again (first at byte %d); the first is used", SamplesFile, off, rec.Sample.Index, e.sampleOffset)
					return
				}
				if e.gap != nil {
					r.unused("%s: the gap at sample %d is superseded by its sample at byte %d", SamplesFile, rec.Sample.Index, off)
				}
				e.sampleAt, e.sampleOffset, e.gap = rec.Sample.At, off, nil
				lineOffsets[rec.Sample.Index] = off
			case rec.Gap != nil:
				switch e := get(rec.Gap.Index); {
				case e.sampleOffset >= 0:
					r.unused("%s at byte %d: a gap at sample %d, which has a sample; the sample is used", SamplesFile, off, rec.Gap.Index)
				case e.gap != nil:
					r.unused("%s at byte %d: gap %d again; the first is used", SamplesFile, off, rec.Gap.Index)
				default:
					g := *rec.Gap
					e.gap = &g
				}
			}
		}, func(_ int, err error) { r.unused("%v", err) })
		if err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		r.unused("%s: %v", SamplesFile, err)
	}
	raws, rawRoot := r.rawIndexes(root)
	if rawRoot != nil {
		defer rawRoot.Close()
	}
	hasRaw := map[int]bool{}
	for _, i := range raws {
		if badIndex(i) {
			r.unused("%s/%s: index %d is outside 0..%d", RawDir, rawFileName(i), i, maxIndex)
			continue
		}
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
	var lastAt time.Time
	var fromLines *sampleLines
	inOrder := func(what string, i int, at time.Time) bool {
		switch {
		case at.IsZero():
			r.unused("%s: sample %d records no time", what, i)
			return false
		case !lastAt.IsZero() && !at.After(lastAt):
			r.unused("%s: sample %d taken at %s, not after the sample before it (%s); times must follow index order", what, i, at.UTC().Format(time.RFC3339Nano), lastAt.UTC().Format(time.RFC3339Nano))
			return false
		}
		return true
	}
	for _, i := range idx {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load run folder %s: %w", dir, context.Cause(ctx))
		}
		e := byIndex[i]
		delete(byIndex, i)
		if rb := r.Meta.Reboot; rb != nil && i >= rb.AtSample {
			// The run ended at the reboot; what followed belongs to another boot.
			continue
		}
		if hasRaw[i] {
			name := RawDir + "/" + rawFileName(i)
			smp, err := r.parseRaw(rawRoot, i)
			switch {
			case err != nil && e.sampleOffset >= 0:
				r.unused("%s: %v; sample %d taken from %s instead", name, err, i, SamplesFile)
			case err != nil:
				r.unused("%s: %v", name, err)
			case e.sampleOffset >= 0 && !e.sampleAt.Equal(smp.At):
				r.unused("%s: sample %d taken at %s, but %s says %s; neither is used", name, i, smp.At.UTC().Format(time.RFC3339Nano), SamplesFile, e.sampleAt.UTC().Format(time.RFC3339Nano))
				continue
			case inOrder(name, i, smp.At):
				lastAt = smp.At
				r.addSample(smp)
				if e.gap != nil {
					r.unused("%s: the gap at sample %d is superseded by %s", SamplesFile, i, name)
				}
				continue
			default:
				continue
			}
			// torn by a crash or unreadable: the samples.jsonl line, if any, stands
		}
		switch {
		case e.sampleOffset >= 0 && lines != nil:
			if fromLines == nil {
				fromLines = &sampleLines{offsets: lineOffsets, read: func(off int64) (Record, error) { return readRecordAt(lines, off) }}
			}
			smp, err := fromLines.sample(i)
			if err == nil && !smp.At.Equal(e.sampleAt) {
				err = fmt.Errorf("sample %d: its line says %s outside and %s inside", i, e.sampleAt.UTC().Format(time.RFC3339Nano), smp.At.UTC().Format(time.RFC3339Nano))
			}
			if err != nil {
				r.unused("%s: %v", SamplesFile, err)
				continue
			}
			if !inOrder(SamplesFile, i, smp.At) {
				continue
			}
			lastAt = smp.At
			r.addSample(smp)
		case e.gap != nil:
			r.Gaps = append(r.Gaps, *e.gap)
		}
	}
	return r, nil
}

// unused names a record or raw snapshot that could not be used.
func (r *Run) unused(format string, args ...any) {
	if len(r.Unused) == maxUnusedNotes {
		r.Unused = append(r.Unused, "… and more: the folder holds too many unusable records to list")
	}
	if len(r.Unused) > maxUnusedNotes {
		return
	}
	r.Unused = append(r.Unused, fmt.Sprintf(format, args...))
}

// maxUnusedNotes bounds Run.Unused for a folder that is mostly garbage.
const maxUnusedNotes = 1000

// readCapped reads a regular file inside root, refusing one beyond limit.
func readCapped(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := openRegular(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a file leakgate wrote", name, limit)
	}
	return data, nil
}

func rawFileName(i int) string { return fmt.Sprintf("%04d.tar.gz", i) }

// parseRaw re-parses raw snapshot i with the current code. The raw must
// record the time it was taken and the index it is named after.
func (r *Run) parseRaw(rawRoot *os.Root, i int) (checks.Sample, error) {
	f, err := openRegular(rawRoot, rawFileName(i))
	if err != nil {
		return checks.Sample{}, err
	}
	defer f.Close()
	snap, meta, err := decodeRaw(f, RawDir+"/"+rawFileName(i))
	if err != nil {
		return checks.Sample{}, err
	}
	if meta.Index != i {
		return checks.Sample{}, fmt.Errorf("records index %d, not the %d of its name", meta.Index, i)
	}
	if meta.At.IsZero() {
		return checks.Sample{}, errors.New("records no time")
	}
	return newSample(i, meta.At, snap, r.Meta.OwnModules, r.Meta.AllocCallsCaches...), nil
}

// probeRawPrefix starts the names of the end-of-run probes' raw snapshots
// in run folders written before they moved to raw/probes (ProbeRawDir).
const probeRawPrefix = "probe-"

var rawName = regexp.MustCompile(`^([0-9]{4,9})\.tar\.gz$`)

// rawIndexes lists the raw snapshots of the run folder, naming every entry
// of raw/ that is not one (and raw/ itself when it is not a folder).
func (r *Run) rawIndexes(root *os.Root) ([]int, *os.Root) {
	st, err := root.Lstat(RawDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err == nil && !st.IsDir() {
		err = fmt.Errorf("is a %s, not a folder", st.Mode().Type())
	}
	if err != nil {
		r.unused("%s: %v; no raw snapshot used", RawDir, err)
		return nil, nil
	}
	rawRoot, err := root.OpenRoot(RawDir)
	if err != nil {
		r.unused("%s: %v; no raw snapshot used", RawDir, err)
		return nil, nil
	}
	d, err := rawRoot.Open(".")
	if err != nil {
		rawRoot.Close()
		r.unused("%s: %v; no raw snapshot used", RawDir, err)
		return nil, nil
	}
	defer d.Close()
	var out []int
	for {
		ents, err := d.ReadDir(1024)
		for _, e := range ents {
			if e.Name() == FastRawDir && e.IsDir() {
				continue // the fast grid's raws (fast.go)
			}
			if e.Name() == ProbeRawDir && e.IsDir() {
				continue // the end-of-run probes' raws (probe.go), not samples
			}
			if strings.HasPrefix(e.Name(), probeRawPrefix) && e.Type().IsRegular() {
				continue // a probe's raw as folders before raw/probes kept it
			}
			m := rawName.FindStringSubmatch(e.Name())
			if m == nil || !e.Type().IsRegular() {
				r.unused("%s/%s: not a raw snapshot (a regular file named NNNN.tar.gz)", RawDir, e.Name())
				continue
			}
			n, err := strconv.Atoi(m[1])
			if err != nil {
				r.unused("%s/%s: %v", RawDir, e.Name(), err)
				continue
			}
			out = append(out, n)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.unused("%s: %v; the rest of its entries not read", RawDir, err)
			}
			break
		}
	}
	sort.Ints(out)
	return out, rawRoot
}

// writeArtifacts writes a soak's run.json and its reports into the run
// folder; only the soak that recorded the run calls it.
func (r *Run) writeArtifacts() error {
	r.Meta.Preflight = r.Preflight
	if err := writeJSONFile(filepath.Join(r.Dir, RunFile), r.Meta); err != nil {
		return err
	}
	return report.Write(r.Dir, r.Report())
}

// Report converts the run into what harness/report renders.
func (r *Run) Report() report.Run {
	status, reason := r.Outcome()
	ended := r.Meta.Ended
	if ended.IsZero() && len(r.Samples) > 0 {
		ended = r.Samples[len(r.Samples)-1].At // killed: the last sample is the last sign of life
	}
	rr := report.Run{
		Target:         r.Meta.Target,
		Kernel:         r.Meta.Kernel,
		RunDir:         r.Dir,
		Started:        r.Meta.Started,
		Ended:          ended,
		Verdict:        status,
		Error:          reason,
		Findings:       r.Judgement.Findings,
		Series:         r.series(),
		Preflight:      r.Preflight,
		Reboot:         r.Meta.Reboot,
		Samples:        len(r.Samples),
		PlannedSamples: r.Meta.PlannedSamples + 1,
		Interval:       r.Meta.Interval,
		Observer:       r.observer,
		// The judge's counts, so the message can say what it looked at.
		SeriesJudged:       r.Judgement.Series,
		SeriesInsufficient: r.Judgement.Insufficient,
		Meta:               map[string]string{},
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
	if rj := r.Rejudged; rj != nil {
		rr.Policy = rj.Policy
		rr.RunDir = r.RejudgedReportDir()
		rr.Rejudged = &report.Rejudged{PolicyDigest: rj.PolicyDigest, PolicySource: rj.PolicySource, RecordedVerdict: r.Meta.Status, RecordedError: r.Meta.Error, Unused: r.Unused}
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
	if r.Meta.FastGrid != nil {
		rr.Meta["fast_slots_skipped"] = r.Meta.FastGrid.fact()
	}
	if r.Meta.BaselineAt.IsZero() && r.Dir != "" {
		// A run that ended before its baseline (preflight, connection) has
		// no samples: what the target showed is in the evidence folder.
		rr.Meta["evidence"] = filepath.Join(r.Dir, EvidenceDir)
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
