package results

import (
	"context"
	"errors"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/compare"
)

// DefaultFile is the SQLite store's name under a suite's output folder when
// no --db is given: the runs a runner made stay comparable with no setup.
const DefaultFile = "results.db"

// SoakTimeout bounds what the end of a soak spends on the store when its
// context has no deadline of its own: the store must never hold a soak.
const SoakTimeout = 60 * time.Second

// RecordRun is what a soak calls once its run folder is complete: open the
// store at dsn, record the folder (labelled release when not empty), close.
// It returns an error for the report and never panics; an unreachable or
// full store is an *UnavailableError, and `leakgate import` catches up.
func RecordRun(ctx context.Context, dsn, runDir, release string) error {
	ctx, cancel := soakContext(ctx)
	defer cancel()
	s, err := Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Record(ctx, runDir, WithRelease(release))
	return err
}

// Comparison is a run compared with its baseline.
type Comparison struct {
	Baseline  Run              `json:"baseline"`
	Candidate Run              `json:"candidate"`
	Results   []compare.Result `json:"results"`
	// BaselineSeries and CandidateSeries are what was compared, for charts.
	BaselineSeries  []compare.Series `json:"-"`
	CandidateSeries []compare.Series `json:"-"`
}

// Failed reports whether a series regressed under a failing policy.
func (c Comparison) Failed() bool { return compare.AnyFails(c.Results) }

// Regressed lists the regressed series.
func (c Comparison) Regressed() []compare.Result {
	var out []compare.Result
	for _, r := range c.Results {
		if r.Verdict == compare.Regressed {
			out = append(out, r)
		}
	}
	return out
}

// Message is the comparison as a release manager reads it: a headline,
// then one line per regressed or undecided series ("kmalloc-512 grows 3.1
// MiB/h, release r41 grew 20.5 KiB/h on the same rig").
func (c Comparison) Message() string {
	var b strings.Builder
	counts := map[compare.Verdict]int{}
	for _, r := range c.Results {
		counts[r.Verdict]++
	}
	fmt.Fprintf(&b, "%s against %s (%s) on %s: %d regressed, %d unknown, %d improved, %d same\n",
		// Labels, ids and the rig come from run folders and targets: escaped.
		human.Escape(c.Candidate.Label()), human.Escape(c.Baseline.Label()), human.Escape(c.Baseline.ID), human.Escape(c.Candidate.Rig),
		counts[compare.Regressed], counts[compare.Unknown], counts[compare.Improved], counts[compare.Same])
	for _, r := range c.Results {
		if r.Verdict != compare.Regressed && r.Verdict != compare.Unknown {
			continue
		}
		tag := string(r.Verdict)
		if r.Verdict == compare.Regressed && !r.Fails {
			tag = "regressed (warn)"
		}
		fmt.Fprintf(&b, "  %s: %s %s\n", tag, r.Kind, r.Message(c.Baseline.Label()))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// CompareWithBaseline compares the run folder runDir with its baseline in
// the store at dsn (spec as Store.Baseline: auto, RUN_ID or release:LABEL),
// under pol. The candidate's series come from its folder, every point; the
// baseline's from the store. It is bounded by SoakTimeout and only returns
// errors: a store that is down is an *UnavailableError, no baseline yet
// wraps ErrNotFound.
func CompareWithBaseline(ctx context.Context, dsn, runDir, spec string, pol compare.Policy) (Comparison, error) {
	ctx, cancel := soakContext(ctx)
	defer cancel()
	s, err := Open(ctx, dsn)
	if err != nil {
		return Comparison{}, err
	}
	defer s.Close()
	return s.CompareWithBaseline(ctx, runDir, spec, pol)
}

// CompareWithBaseline compares the run folder runDir with its baseline in
// the store (spec as Baseline).
func (s *Store) CompareWithBaseline(ctx context.Context, runDir, spec string, pol compare.Policy) (Comparison, error) {
	cand, err := ReadFolder(runDir)
	if err != nil {
		return Comparison{}, err
	}
	candRun := folderRun(cand)
	if rec, err := s.Run(ctx, cand.ID); err == nil {
		// Recorded already (RecordRun with --release): its label names it.
		candRun.Release = firstNonEmpty(candRun.Release, rec.Release)
		candRun.Firmware = firstNonEmpty(candRun.Firmware, rec.Firmware)
	}
	base, err := s.Baseline(ctx, candRun, spec)
	if err != nil {
		return Comparison{}, err
	}
	baseSeries, err := s.Series(ctx, base.ID)
	if err != nil {
		return Comparison{}, err
	}
	sa, sb := StoredSeries(baseSeries), FolderSeriesList(cand.Series)
	rs, err := compare.Runs(sa, sb, pol)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{Baseline: base, Candidate: candRun, Results: rs, BaselineSeries: sa, CandidateSeries: sb}, nil
}

// CompareRuns compares two runs given as run folders or run ids in the
// store s (nil when no store: then both must be folders).
func CompareRuns(ctx context.Context, s *Store, a, b Source, pol compare.Policy) (Comparison, error) {
	runA, seriesA, err := a.load(ctx, s)
	if err != nil {
		return Comparison{}, err
	}
	runB, seriesB, err := b.load(ctx, s)
	if err != nil {
		return Comparison{}, err
	}
	rs, err := compare.Runs(seriesA, seriesB, pol)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{Baseline: runA, Candidate: runB, Results: rs, BaselineSeries: seriesA, CandidateSeries: seriesB}, nil
}

// Source is one side of a comparison: a run folder (Dir) or a run id in the
// store (ID).
type Source struct {
	Dir string
	ID  string
}

func (src Source) load(ctx context.Context, s *Store) (Run, []compare.Series, error) {
	if src.Dir != "" {
		f, err := ReadFolder(src.Dir)
		if err != nil {
			return Run{}, nil, err
		}
		return folderRun(f), FolderSeriesList(f.Series), nil
	}
	if s == nil {
		return Run{}, nil, fmt.Errorf("run %q is not a run folder, and no --db store was given to look it up in", src.ID)
	}
	r, err := s.Run(ctx, src.ID)
	if err != nil {
		return Run{}, nil, err
	}
	ss, err := s.Series(ctx, src.ID)
	if err != nil {
		return Run{}, nil, err
	}
	return r, StoredSeries(ss), nil
}

func folderRun(f Folder) Run {
	return Run{ID: f.ID, Release: f.Release, Firmware: f.Firmware, Kernel: f.Kernel, Rig: f.Rig, Profile: f.Profile,
		ConfigDigest: f.ConfigDigest, Policy: f.Policy, Started: f.Started, Ended: f.Ended, Verdict: f.Verdict, RunDir: f.Dir}
}

// FolderSeriesList converts a folder's series for the comparison.
func FolderSeriesList(ss []FolderSeries) []compare.Series {
	out := make([]compare.Series, len(ss))
	for i, s := range ss {
		out[i] = compare.Series{Kind: s.Kind, Subject: s.Subject, Unit: s.Unit, Seconds: s.Seconds, Values: s.Values, Decreasing: decreasing(s.Kind, s.Subject)}
	}
	return out
}

// StoredSeries converts stored series for the comparison.
func StoredSeries(ss []Series) []compare.Series {
	out := make([]compare.Series, len(ss))
	for i, s := range ss {
		out[i] = compare.Series{Kind: s.Kind, Subject: s.Subject, Unit: s.Unit, Seconds: s.Seconds, Values: s.Values, Decreasing: decreasing(s.Kind, s.Subject)}
	}
	return out
}

// decreasing marks the series whose fall is the leak (checks.SeriesBuilder's
// MemAvailable).
func decreasing(kind, subject string) bool {
	return checks.Kind(kind) == checks.KindMeminfo && subject == checks.SubjectMemAvailable
}

func soakContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, SoakTimeout)
}

// SoakOptions are the suite's results flags: --db, --release, --baseline,
// and the comparison policy.
type SoakOptions struct {
	// DSN is the store; empty records nothing.
	DSN     string
	Release string
	// Baseline is auto, RUN_ID or release:LABEL; empty compares nothing.
	Baseline string
	Policy   compare.Policy
}

// SoakOutcome is what the end of a soak learned from the store. Errors are
// for the report: an unavailable store never changes the soak's verdict.
type SoakOutcome struct {
	// Recorded is true when the run's rows were written.
	Recorded  bool
	RecordErr error
	// Comparison is set when a baseline was found and compared.
	Comparison *Comparison
	// NoBaseline is true when auto found no earlier passing run.
	NoBaseline bool
	CompareErr error
}

// AfterSoak is the whole end-of-soak step: record the finished run folder
// (labelled opts.Release), then, when opts.Baseline is set, compare it with
// its baseline. Each step is bounded by SoakTimeout (when ctx has no
// deadline) and only reports its error; the caller decides from Failed
// whether a regression fails the gate.
func AfterSoak(ctx context.Context, runDir string, opts SoakOptions) SoakOutcome {
	var out SoakOutcome
	if opts.DSN == "" {
		return out
	}
	out.RecordErr = RecordRun(ctx, opts.DSN, runDir, opts.Release)
	out.Recorded = out.RecordErr == nil
	if opts.Baseline == "" {
		return out
	}
	c, err := CompareWithBaseline(ctx, opts.DSN, runDir, opts.Baseline, opts.Policy)
	switch {
	case err == nil:
		out.Comparison = &c
	case errors.Is(err, ErrNotFound) && opts.Baseline == "auto":
		out.NoBaseline = true
	default:
		out.CompareErr = err
	}
	return out
}

// Failed reports whether the comparison found a regression the policy fails.
func (o SoakOutcome) Failed() bool { return o.Comparison != nil && o.Comparison.Failed() }

// Message is what the report and the failure message say about the store
// and the comparison, one line each; empty when there is nothing to say.
func (o SoakOutcome) Message() string {
	var lines []string
	if o.RecordErr != nil {
		lines = append(lines, "results store: not recorded: "+o.RecordErr.Error())
	}
	if o.NoBaseline {
		lines = append(lines, "comparison: no baseline yet (no earlier passing run of this rig and profile)")
	}
	if o.CompareErr != nil {
		lines = append(lines, "comparison: not made: "+o.CompareErr.Error())
	}
	if o.Comparison != nil {
		lines = append(lines, o.Comparison.Message())
	}
	return strings.Join(lines, "\n")
}
