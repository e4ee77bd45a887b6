package harness

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks/compare"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/results"
)

// Flags are a soak suite's flags: the target flags shared with the CLI, plus
// timing, profile, policy and workloads. Register them once on a FlagSet
// (flag.CommandLine in a suite's init), parse, then Validate once.
type Flags struct {
	remote.Flags
	// ProfilePath is a profile YAML file (--profile).
	ProfilePath string
	// Duration, Interval and Warmup override the profile (defaults 12h, 10m, 0).
	Duration, Interval, Warmup time.Duration
	// DB is the results store (--db): a SQLite file (default
	// <out>/results.db) or a postgres:// URL; "off" records nothing.
	DB string
	// Release labels the build soaked (--release); Baseline picks the run to
	// compare with (--baseline auto|RUN_ID|release:LABEL, "" for none).
	Release, Baseline string
	// Comparison is the effective comparison policy, set by Validate.
	Comparison compare.Policy
	// ReclaimProbe runs the end-of-run reclaim probe (--reclaim-probe, default
	// true); ReloadProbe the reload probe of the profile's reload_modules
	// (--reload-probe, default true).
	ReclaimProbe, ReloadProbe bool
	// FastInterval spaces samples of the cheap counters between the full
	// ones (--fast-interval, default 1m; 0 or not below --interval: off).
	FastInterval time.Duration
	// ReadTimeout bounds one snapshot read round trip (--read-timeout,
	// default 5m, at least MinReadTimeout).
	ReadTimeout time.Duration
	// Out is the root of run folders (--out, default out/wifi_soak).
	Out string
	// OwnModules are modules or symbol prefixes blamed first (--own-modules a,b).
	OwnModules []string
	// Workloads are extra target-side background commands (--workload, repeatable).
	Workloads []string
	// PolicyPath is a policy YAML file applied over the profile's (--policy).
	PolicyPath string
	// Targets soaks many rigs (--targets a,b,c): one ordered container per
	// rig, so ginkgo -p runs one rig per process.
	Targets []string

	// Profile is the loaded profile, set by Validate.
	Profile *Profile
	// Policy is the effective policy, set by Validate.
	Policy *Policy

	fs *flag.FlagSet
	// bothTargets is set by ForTarget when --target and --targets were given.
	bothTargets bool
	// fromProfile names the timing flags whose value the profile gave.
	fromProfile []string
	validated   bool
	err         error
}

// Register adds the soak flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	f.fs = fs
	f.Flags.Register(fs)
	fs.StringVar(&f.ProfilePath, "profile", "", "profile YAML: workloads, timing, policy and allowlists for a kind of rig")
	fs.DurationVar(&f.Duration, "duration", DefaultDuration, "how long to soak after the baseline (overrides the profile when given)")
	fs.DurationVar(&f.Interval, "interval", DefaultInterval, "time between full samples, at least "+MinInterval.String()+": each runs two kmemleak scans "+kmemleak.ScanSpacing.String()+" apart (kmemleak reports an object only once it is "+kmemleak.MinObjectAge.String()+" old at a scan's start) before its read (overrides the profile when given)")
	fs.DurationVar(&f.ReadTimeout, "read-timeout", DefaultReadTimeout, "bound on one snapshot read round trip, at least "+MinReadTimeout.String()+"; a read cut by it is retried like a lost link")
	fs.DurationVar(&f.FastInterval, "fast-interval", DefaultFastInterval, "time between samples of the cheap counters (slabinfo, meminfo, vmallocinfo, allocinfo), taken beside the full samples, for an early verdict; 0 turns it off, else at least "+MinFastInterval.String()+" and below --interval (overrides the profile when given)")
	fs.BoolVar(&f.ReclaimProbe, "reclaim-probe", true, "after the last sample, drop clean caches and shrink each flagged slab cache, then read once more: a cache that gives its growth back is reported as reclaimable, not as a leak")
	fs.BoolVar(&f.ReloadProbe, "reload-probe", true, "after the last sample, unload and load again the profile's reload_modules, recording the memory that came back and every call site the kernel reports still held at unload (a leak)")
	fs.StringVar(&f.DB, "db", "", "results store: a SQLite file (default <out>/results.db) or postgres://…; off records nothing")
	fs.StringVar(&f.Release, "release", "", "label of the build soaked (firmware release), kept in the results store")
	fs.StringVar(&f.Baseline, "baseline", "auto", "run to compare with: auto (the last passing run of this rig and profile), a run id, release:LABEL, or none")
	fs.DurationVar(&f.Warmup, "warmup", 0, "start of the soak the judge discounts (caches filling); overrides the profile when given")
	fs.StringVar(&f.Out, "out", DefaultOutDir, "folder where run folders are created")
	fs.Func("own-modules", "comma-separated modules or symbol prefixes whose frames are blamed first (adds to the profile's)", func(v string) error {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				f.OwnModules = append(f.OwnModules, m)
			}
		}
		return nil
	})
	fs.Func("workload", "target-side background command, run with sh -c for the whole soak (repeatable)", func(v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("empty --workload")
		}
		f.Workloads = append(f.Workloads, v)
		return nil
	})
	fs.StringVar(&f.PolicyPath, "policy", "", "policy YAML applied over the defaults and the profile's policy")
	fs.Func("targets", "comma-separated targets to soak, each in its own ordered container (run ginkgo -p --procs N to soak N rigs at once); instead of --target", func(v string) error {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				f.Targets = append(f.Targets, t)
			}
		}
		return nil
	})
}

// TargetList is every target to soak: --targets, else --target (which may
// be empty; Validate then says it is required).
func (f *Flags) TargetList() []string {
	if len(f.Targets) > 0 {
		return f.Targets
	}
	return []string{f.Target}
}

// ForTarget is a copy of the flags aimed at one target of --targets.
func (f *Flags) ForTarget(target string) *Flags {
	c := *f
	c.Targets = nil
	c.validated, c.err = false, nil
	if len(f.Targets) > 0 {
		c.bothTargets = f.Target != ""
		c.Target = target
	}
	return &c
}

// Validate checks the flags and loads the profile and policy files, once:
// later calls return the first answer. Every problem is reported, each with
// what to do.
func (f *Flags) Validate() error {
	if !f.validated {
		f.validated = true
		f.err = f.validate()
	}
	return f.err
}

func (f *Flags) validate() error {
	var errs []error
	if f.bothTargets {
		errs = append(errs, errors.New("--target and --targets: give one of them, not both"))
	}
	if err := f.Flags.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.ProfilePath != "" {
		p, err := LoadProfile(f.ProfilePath)
		if err != nil {
			errs = append(errs, fmt.Errorf("--profile: %w", err))
		} else {
			f.Profile = p
		}
	}
	set := map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	}
	if p := f.Profile; p != nil {
		for _, o := range []struct {
			flag    string
			dst     *time.Duration
			profile time.Duration
		}{{"duration", &f.Duration, p.Duration}, {"interval", &f.Interval, p.Interval}, {"warmup", &f.Warmup, p.Warmup}, {"fast-interval", &f.FastInterval, p.FastInterval}} {
			if !set[o.flag] && o.profile > 0 {
				*o.dst = o.profile
				f.fromProfile = append(f.fromProfile, o.flag)
			}
		}
	}
	errs = append(errs, f.timingProblems()...)
	if f.Out == "" {
		errs = append(errs, errors.New("--out must name a folder"))
	}
	if err := validDB(f.DB); err != nil {
		errs = append(errs, err)
	}
	pol, err := profilePolicy(f.Profile)
	if err != nil {
		errs = append(errs, fmt.Errorf("--profile policy: %w", err))
	} else if f.PolicyPath != "" {
		pol, err = LoadPolicyFile(f.PolicyPath, pol)
		if err != nil {
			errs = append(errs, fmt.Errorf("--policy: %w", err))
		}
	}
	f.Comparison = compare.DefaultPolicy()
	f.Comparison.Warmup = pol.Warmup
	if f.Warmup > 0 {
		f.Comparison.Warmup = f.Warmup
	}
	if f.Profile != nil && !f.Profile.Comparison.IsZero() {
		if err := f.Profile.Comparison.Decode(&f.Comparison); err != nil {
			errs = append(errs, fmt.Errorf("--profile comparison: %w", err))
		}
	}
	switch {
	case f.Baseline == "none":
		f.Baseline = ""
	case f.Baseline == "" || f.Baseline == "auto" || strings.HasPrefix(f.Baseline, "release:") && len(f.Baseline) > len("release:"):
	case f.Baseline == "release:" || strings.ContainsAny(f.Baseline, "/ \t\n"):
		errs = append(errs, fmt.Errorf("--baseline %q: want auto, none, a run id or release:LABEL", f.Baseline))
	}
	f.Policy = &pol
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{Problems: errs}
}

// ConfigError is a configuration problem: flag or profile values no soak can
// run with. It lists every problem found, one line each naming the flag and
// what it accepts. A suite reports it as a configuration error, never as a
// preflight failure: the target was not looked at.
type ConfigError struct {
	Problems []error
}

func (e *ConfigError) Error() string { return errors.Join(e.Problems...).Error() }

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error { return e.Problems }

// Minimum timings of a soak.
const (
	// MinInterval is the shortest --interval. Every full sample runs
	// kmemleak's scan protocol before its read: scan, wait
	// kmemleak.ScanSpacing (6 s: the 5 s minimum object age, measured from
	// the start of the last scan, plus 1 s of link latency and jiffies
	// rounding) from that scan's start, scan again, then read the snapshot.
	// A new leak is reported only by the second scan, so the spacing cannot
	// shrink; sampleTail is room for the second scan and the read. A
	// shorter interval makes every sample late for the next one, and the
	// soak overruns its duration.
	MinInterval = kmemleak.ScanSpacing + sampleTail
	// sampleTail is the second scan and the snapshot read: 1.1 s and 0.8 s
	// on the reference rig (docs/benchmarks/rig.md, docs/rig.md), doubled.
	sampleTail = 4 * time.Second
	// MinFastInterval is the shortest --fast-interval other than 0 (off).
	// A fast sample runs no kmemleak scan (the scan protocol stays on the
	// full grid) and is one read round trip (0.3 s on the reference rig),
	// so its floor is not the scan protocol's: a second keeps it from
	// spinning. It must also be below --interval, or the fast grid is off.
	MinFastInterval = time.Second
	// MinReadTimeout is the shortest --read-timeout: one round trip of a
	// whole snapshot (the reference rig's expensive reads take 0.8 s).
	MinReadTimeout = time.Second
)

// timingProblems lists every problem of the effective timing (flags over
// the profile), one error each naming the flag and its accepted range.
func (f *Flags) timingProblems() []error {
	var errs []error
	name := func(flag string) string {
		if slices.Contains(f.fromProfile, flag) {
			return "--" + flag + " (the profile's " + strings.ReplaceAll(flag, "-", "_") + ":)"
		}
		return "--" + flag
	}
	if f.Duration <= 0 {
		errs = append(errs, fmt.Errorf("%s %s: want a positive duration of at least --interval (e.g. 12h)", name("duration"), f.Duration))
	}
	if err := intervalProblem(name("interval"), f.Interval); err != nil {
		errs = append(errs, err)
	} else if f.Duration > 0 && f.Interval > f.Duration {
		errs = append(errs, fmt.Errorf("%s %s: want at most --duration %s; shorten it", name("interval"), f.Interval, f.Duration))
	}
	if err := fastIntervalProblem(name("fast-interval"), f.FastInterval); err != nil {
		errs = append(errs, err)
	}
	if f.Warmup < 0 || (f.Duration > 0 && f.Warmup >= f.Duration) {
		errs = append(errs, fmt.Errorf("%s %s: want at least 0 and shorter than --duration %s", name("warmup"), f.Warmup, f.Duration))
	}
	if f.ReadTimeout < MinReadTimeout {
		errs = append(errs, fmt.Errorf("--read-timeout %s: want at least %s", f.ReadTimeout, MinReadTimeout))
	}
	return errs
}

// intervalProblem is the rule for the full grid's interval, shared by the
// flag parser and Config.complete (a suite may build a Config without
// flags): nil, or an error naming it as name and saying why MinInterval.
func intervalProblem(name string, interval time.Duration) error {
	if interval >= MinInterval {
		return nil
	}
	return fmt.Errorf("%s %s: want at least %s, because each full sample runs two kmemleak scans %s apart (kmemleak reports an object only once it is %s old at the start of a scan) and then reads the snapshot", name, interval, MinInterval, kmemleak.ScanSpacing, kmemleak.MinObjectAge)
}

// fastIntervalProblem is the rule for the fast grid's interval, shared as
// intervalProblem is: 0 (off) or at least MinFastInterval.
func fastIntervalProblem(name string, fast time.Duration) error {
	if fast == 0 || fast >= MinFastInterval {
		return nil
	}
	return fmt.Errorf("%s %s: want 0 (off) or at least %s", name, fast, MinFastInterval)
}

// validDB checks --db: "" (the default file), off, a file path, or a
// postgres:// or postgresql:// URL.
func validDB(dsn string) error {
	scheme, _, isURL := strings.Cut(dsn, "://")
	switch {
	case !isURL:
		if strings.ContainsRune(dsn, 0) {
			return errors.New("--db: a file path cannot hold a NUL byte; want a SQLite file, postgres://USER@HOST:PORT/DB or off")
		}
		return nil
	case scheme == "postgres" || scheme == "postgresql":
		if _, err := url.Parse(dsn); err != nil {
			return errors.New("--db: the postgres URL does not parse; want postgres://USER@HOST:PORT/DB (password in PGPASSWORD, not in the URL)")
		}
		return nil
	}
	return fmt.Errorf("--db: scheme %q is not a results store; want a SQLite file, postgres://USER@HOST:PORT/DB or off", scheme)
}

// Config turns validated flags and a connected target into a soak Config.
func (f *Flags) Config(tgt remote.Target) Config {
	cfg := Config{
		Target:         tgt,
		TargetName:     f.Target,
		TargetHost:     TargetHost(f.Target),
		Profile:        f.Profile,
		Duration:       f.Duration,
		Interval:       f.Interval,
		Warmup:         f.Warmup,
		OutDir:         f.Out,
		FastInterval:   f.FastInterval,
		ReadTimeout:    f.ReadTimeout,
		NoReclaimProbe: !f.ReclaimProbe,
		Store:          f.store(),
		NoReloadProbe:  !f.ReloadProbe,
		Policy:         f.Policy,
		SecretEnv:      []string{f.PasswordEnv, f.PassphraseEnv},
	}
	if f.Profile != nil {
		cfg.OwnModules = append(cfg.OwnModules, f.Profile.OwnModules...)
	}
	cfg.OwnModules = append(cfg.OwnModules, f.OwnModules...)
	for i, w := range f.Workloads {
		cfg.ExtraWorkloads = append(cfg.ExtraWorkloads, Workload{
			Name: fmt.Sprintf("workload-%d", i+1), Side: SideTarget, Command: []string{"sh", "-c", w}, OnExit: OnExitRestart,
		})
	}
	return cfg
}

// SpecTimeout is how long the soak spec may run: the duration plus room for
// preflight, baseline, one late sample and the reports.
func (f *Flags) SpecTimeout() time.Duration {
	return f.Duration + f.Interval + 15*time.Minute
}

// TargetHost extracts the host name host-side workloads should reach from a
// target spec ("ssh://user@host:22" → "host", "user@alias" → "alias").
func TargetHost(spec string) string {
	if sp, err := remote.ParseSpec(spec); err == nil && sp.Host != "" {
		return sp.Host
	}
	return spec
}

// store is the results store's options: the --db DSN (default a SQLite
// file in --out), the release label, the baseline and the comparison policy.
func (f *Flags) store() results.SoakOptions {
	dsn := f.DB
	switch dsn {
	case "off":
		dsn = ""
	case "":
		dsn = filepath.Join(f.Out, results.DefaultFile)
	}
	return results.SoakOptions{DSN: dsn, Release: f.Release, Baseline: f.Baseline, Policy: f.Comparison}
}
