// Package harness runs a memory-leak soak against one target: preflight,
// baseline, workloads, sampling on an interval, early and final verdicts, and
// the run folder with its evidence. It also carries the Ginkgo and Gomega
// glue suites use (flags, progress, the Leak matcher).
package harness

import (
	"context"
	"errors"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/results"
)

// Soak runs one whole soak and returns the recorded run. The error is non-nil
// only when no run folder could be made; every other failure (target not
// ready, reboot, leak, lost link) is in the returned Run's verdict, and the
// reports are written before Soak returns.
func Soak(ctx context.Context, cfg Config) (*Run, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	s := &soak{cfg: cfg, clock: cfg.Clock}
	return s.run(ctx)
}

// Config is what one soak needs. Target is required; the rest has defaults.
type Config struct {
	// Target is the connected device. It is closed by the caller.
	Target remote.Target
	// TargetName is how the target is named in reports; Target.Name() when "".
	TargetName string
	// TargetHost is the address host-side workloads reach the target on
	// (LEAKGATE_TARGET_HOST).
	TargetHost string
	// Profile supplies workloads, timing defaults and allowlists; optional.
	Profile *Profile
	// Duration of the soak after the baseline (default 12h); Interval between
	// samples (default 10m); Warmup, when set, replaces the policy's warm-up
	// (the start of every series the judge ignores).
	Duration, Interval, Warmup time.Duration
	// FastInterval, when above zero and below Interval, adds a sample of the
	// cheap counters (the fast sources: slabinfo, meminfo, vmallocinfo,
	// allocinfo) on its own grid, taken beside the full samples (also while
	// one scans), for the early-stop test. Each is still one round trip;
	// kmemleak scans and per-process files stay on the Interval grid.
	FastInterval time.Duration
	// OutDir is where run folders are created (default out/wifi_soak).
	OutDir string
	// OwnModules are module names or symbol prefixes blamed first.
	OwnModules []string
	// Policy judges the series; nil means DefaultPolicy() with the
	// profile's overrides.
	Policy *Policy
	// Clock is the time source (default SystemClock).
	Clock Clock
	// Log receives one line per lifecycle step (default io.Discard).
	Log io.Writer
	// Progress, when set, is called after each sample with the run's state.
	Progress func(Progress)
	// Versions are recorded in run.json (leakgate, firmware, ...).
	Versions map[string]string
	// ScanTimeout bounds one kmemleak scan write (default 30m). A scan is
	// never interrupted by the sample interval.
	ScanTimeout time.Duration
	// ReadTimeout bounds one snapshot round trip (default 5m).
	ReadTimeout time.Duration
	// MaxBackoff caps the wait between reconnect attempts (default 1m).
	MaxBackoff time.Duration
	// Preflight, when set, is a preflight already done on Target (the suite's
	// own preflight spec); Soak then does not probe again.
	Preflight *PreflightResult
	// SecretEnv names environment variables holding secrets (the SSH
	// password or passphrase); they are removed from host workloads' env.
	SecretEnv []string
	// NoReclaimProbe turns off the end-of-run reclaim probe (drop_caches and
	// a shrink of each flagged slab cache, then one more read: a cache that
	// gives its growth back is reclaimable, not a leak).
	NoReclaimProbe bool
	// NoReloadProbe turns off the end-of-run reload probe of the profile's
	// reload_modules.
	NoReloadProbe bool
	// Store records the finished run in a results store and compares it
	// with a baseline run (results.AfterSoak); an empty DSN records nothing.
	// Store.Release labels the run.
	Store results.SoakOptions
	// ExtraWorkloads are target-side background commands added to the profile's
	// (the suite's --workload flag).
	ExtraWorkloads []Workload
}

// Defaults of Config.
const (
	DefaultDuration = 12 * time.Hour
	DefaultInterval = 10 * time.Minute
	// DefaultFastInterval is the suite's --fast-interval (a Config leaves
	// the fast grid off unless it sets FastInterval).
	DefaultFastInterval = time.Minute
	DefaultOutDir       = "out/wifi_soak"
	DefaultScanTimeout  = 30 * time.Minute
	DefaultReadTimeout  = 5 * time.Minute
	DefaultMaxBackoff   = time.Minute
)

func (c *Config) complete() error {
	if c.Target == nil {
		return errors.New("soak: no target; pass --target")
	}
	if c.TargetName == "" {
		c.TargetName = c.Target.Name()
	}
	if c.Profile != nil {
		if c.Duration == 0 {
			c.Duration = c.Profile.Duration
		}
		if c.Interval == 0 {
			c.Interval = c.Profile.Interval
		}
		if c.Warmup == 0 {
			c.Warmup = c.Profile.Warmup
		}
		if c.FastInterval == 0 {
			c.FastInterval = c.Profile.FastInterval
		}
		if len(c.OwnModules) == 0 {
			c.OwnModules = c.Profile.OwnModules
		}
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Duration < 0 || c.Interval < 0 || c.Warmup < 0 || c.FastInterval < 0 {
		return errors.New("soak: duration, interval, fast interval and warmup must not be negative")
	}
	// The flag parser's rules (flags.go), for a caller that builds a
	// Config itself.
	if err := intervalProblem("interval", c.Interval); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	if err := fastIntervalProblem("fast interval", c.FastInterval); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	if c.Interval > c.Duration {
		return fmt.Errorf("soak: interval %s is longer than the duration %s; shorten --interval", c.Interval, c.Duration)
	}
	if c.Warmup >= c.Duration {
		return fmt.Errorf("soak: warmup %s leaves nothing of the duration %s to judge; shorten --warmup", c.Warmup, c.Duration)
	}
	if c.OutDir == "" {
		c.OutDir = DefaultOutDir
	}
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.ScanTimeout == 0 {
		c.ScanTimeout = DefaultScanTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Policy == nil {
		pol, err := profilePolicy(c.Profile)
		if err != nil {
			return err
		}
		c.Policy = &pol
	}
	if c.Warmup > 0 && c.Policy.Warmup != c.Warmup {
		// --warmup (or the profile's warmup:) is what the judge discounts.
		pol := *c.Policy
		pol.Warmup = c.Warmup
		c.Policy = &pol
	}
	return nil
}

// PlannedSamples is how many samples after the baseline the duration holds.
func (c *Config) PlannedSamples() int {
	if c.Interval <= 0 {
		return 0
	}
	return int(c.Duration / c.Interval)
}

// Progress is the state of a running soak, as the progress reporter shows it.
type Progress struct {
	Sample, Planned int
	Gaps            int
	Elapsed, ETA    time.Duration
	// TopGrowers are the subjects growing fastest so far, one line each.
	TopGrowers []string
	// Status is the latest lifecycle step ("baseline", "sampling", ...).
	Status string
}

// soak is one running soak; its fields are owned by the run goroutine,
// except while the fast sampler runs beside the full samples: then mu
// guards the run (rec), the run folder (st) and earlyWhy.
type soak struct {
	cfg   Config
	clock Clock
	st    *store
	rec   *Run
	tgt   remote.Target
	// mu serialises the full and the fast sampler's writes to the run and
	// its folder, and their judgements.
	mu sync.Mutex
	// earlyWhy is set, under mu, when the early test on the fast series
	// ended the run; no sample is recorded after it.
	earlyWhy string
	// stopping is set when either sampler's early test ended the run (with
	// earlyWhy, under mu, for the fast one): the full sampler, woken from a
	// wait, starts no sample after it, the fast one records none.
	stopping atomic.Bool
	// stoppedEarly is set when the early test ended the run.
	stoppedEarly bool
	// logMu keeps the two samplers' log lines whole.
	logMu sync.Mutex
}

// logf writes one log line. Its arguments carry names and command output
// from the target, so the message is escaped: one line, no control
// characters (see human.Escape).
func (s *soak) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, "%s leakgate: %s\n", s.clock.Now().UTC().Format(time.RFC3339), human.Escape(fmt.Sprintf(format, args...)))
}

func (s *soak) run(ctx context.Context) (*Run, error) {
	cfg := &s.cfg
	start := s.clock.Now()
	st, err := createStore(cfg.OutDir, cfg.TargetName, start)
	if err != nil {
		return nil, err
	}
	s.st = st
	s.tgt = cfg.Target
	r := &Run{Dir: st.dir, Meta: RunMeta{
		Target:         cfg.TargetName,
		Started:        start,
		Status:         verdict.Running,
		Duration:       cfg.Duration,
		Interval:       cfg.Interval,
		FastInterval:   fastInterval(cfg),
		Warmup:         cfg.Warmup,
		PlannedSamples: cfg.PlannedSamples(),
		OwnModules:     cfg.OwnModules,
		Versions:       cfg.Versions,
		Policy:         cfg.Policy,
		Release:        cfg.Store.Release,
	}}
	if cfg.Profile != nil {
		r.Meta.Profile = cfg.Profile.Name
		r.Meta.Workloads = workloadNames(s.workloads())
	}
	s.rec = r
	s.logf("run folder %s", st.dir)
	if err := st.writeJSON(RunFile, r.Meta); err != nil {
		st.close()
		return nil, fmt.Errorf("write %s: %w", RunFile, err)
	}

	s.lifecycle(ctx)

	r.Meta.Ended = s.clock.Now()
	if r.Meta.Status == verdict.Running {
		r.Meta.Status = verdict.Error
		r.Meta.Error = "the soak ended without a verdict"
	}
	if err := st.close(); err != nil && r.Meta.Error == "" {
		r.Meta.Status, r.Meta.Error = verdict.Error, fmt.Sprintf("close %s: %v", SamplesFile, err)
	}
	if err := r.writeArtifacts(); err != nil {
		s.logf("write reports: %v", err)
		if r.Meta.Status != verdict.Error {
			r.Meta.Status, r.Meta.Error = verdict.Error, fmt.Sprintf("write reports in %s: %v", r.Dir, err)
		}
	}
	s.recordResults(ctx)
	s.logf("verdict %s%s", r.Meta.Status, suffixIf(r.Meta.Error))
	return r, nil
}

func suffixIf(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// lifecycle runs preflight, baseline, workloads and the sample loop, leaving
// the outcome in s.rec.Meta.
func (s *soak) lifecycle(ctx context.Context) {
	r := s.rec
	cfg := &s.cfg

	s.status("preflight")
	pf, err := s.preflight(ctx)
	r.Preflight = pf.Checks
	r.Meta.Kernel = pf.Kernel
	r.Meta.ConfigDigest = pf.ConfigDigest
	r.Meta.ConfigSource = pf.ConfigSource
	r.Meta.PreflightNotes = pf.Notes
	r.Meta.AllocCallsCaches = pf.AllocCallsCaches
	if err != nil {
		s.fail(verdict.Error, fmt.Sprintf("preflight could not check %s: %v", cfg.TargetName, err))
		return
	}
	defer s.restoreTarget(ctx, pf)
	if !pf.Ready {
		s.fail(verdict.Error, "target not ready for leak detection: "+pf.Summary())
		return
	}

	if cfg.fastEnabled() {
		r.fast = checks.NewFastSeriesBuilder() // before the baseline sample, which it holds too
	}
	s.status("baseline")
	base, err := s.baseline(ctx)
	if err != nil {
		s.fail(verdict.Error, fmt.Sprintf("baseline on %s: %v", cfg.TargetName, err))
		return
	}
	r.Meta.BootID, r.Meta.Uptime = base.BootID, base.Uptime
	r.Meta.BaselineAt = base.At
	r.Meta.SlabAliases, r.Meta.ReclaimAccounted = s.slabAliases(ctx)
	if err := s.st.writeJSON(RunFile, r.Meta); err != nil {
		s.fail(verdict.Error, err.Error())
		return
	}

	wctx, stopWorkloads := context.WithCancel(ctx)
	wl := startWorkloads(wctx, s.workloadEnv(), s.workloads(), s.st.dir, s.tgt, s.clock, s.logf)
	defer func() {
		stopWorkloads()
		wl.stop()
	}()

	s.status("sampling")
	s.sampleLoop(ctx, base.At, wl)
}

// fastInterval is the fast grid's spacing, 0 when it is off.
func fastInterval(cfg *Config) time.Duration {
	if !cfg.fastEnabled() {
		return 0
	}
	return cfg.FastInterval
}

// restoreTarget leaves the target as the preflight found it (kmemleak's
// automatic scan, debugfs), unless it rebooted: a new boot is back to its
// own defaults, and debugfs may now be mounted by its init.
func (s *soak) restoreTarget(ctx context.Context, pf PreflightResult) {
	if s.rec.Meta.Reboot != nil {
		return
	}
	for _, n := range RestoreTarget(ctx, s.tgt, pf) {
		s.logf("after the soak: %s", n)
		s.rec.Meta.PreflightNotes = append(s.rec.Meta.PreflightNotes, "after the soak: "+n)
	}
}

func (s *soak) status(step string) {
	s.logf("%s", step)
	s.rec.step = step
}

// fail ends the run with a verdict and a reason, keeping the first reason.
func (s *soak) fail(v verdict.Run, reason string) {
	if s.rec.Meta.Status != verdict.Running {
		return
	}
	s.rec.Meta.Status = v
	s.rec.Meta.Error = reason
	s.logf("%s: %s", v, reason)
}

func (s *soak) workloads() []Workload {
	var ws []Workload
	if s.cfg.Profile != nil {
		ws = append(ws, s.cfg.Profile.Workloads...)
	}
	return append(ws, s.cfg.ExtraWorkloads...)
}

func (s *soak) workloadEnv() []string {
	host := s.cfg.TargetHost
	if host == "" {
		host = s.cfg.TargetName
	}
	abs, err := filepath.Abs(s.st.dir)
	if err != nil {
		abs = s.st.dir
	}
	env := os.Environ()[:0:0]
	for _, kv := range os.Environ() {
		secret := false
		for _, name := range s.cfg.SecretEnv {
			if name != "" && strings.HasPrefix(kv, name+"=") {
				secret = true
			}
		}
		if !secret {
			env = append(env, kv)
		}
	}
	return append(env,
		"LEAKGATE_TARGET="+s.cfg.TargetName,
		"LEAKGATE_TARGET_HOST="+host,
		"LEAKGATE_RUN_DIR="+abs,
	)
}

func workloadNames(ws []Workload) []string {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Name
	}
	return names
}
