package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

// FastRawDir holds the raw snapshots of the fast grid (raw/fast/NNNNNN.tar.gz).
// They are the only record of a fast sample: re-parsed when a run is
// loaded, they cost a few KiB each and no samples.jsonl line.
const FastRawDir = "fast"

// fastGrid is the state of the fast grid in a running soak.
type fastGrid struct {
	interval time.Duration
	next     time.Time
	taken    int
	// lastEarly is when the early test last ran on the fast series.
	lastEarly time.Time
}

// fastEnabled reports whether a soak samples the cheap counters between its
// full samples.
func (c *Config) fastEnabled() bool {
	return c.FastInterval > 0 && c.FastInterval < c.Interval
}

// newFastGrid starts the fast grid after the baseline sample.
func newFastGrid(cfg *Config, baseAt time.Time) *fastGrid {
	if !cfg.fastEnabled() {
		return nil
	}
	return &fastGrid{interval: cfg.FastInterval, next: baseAt.Add(cfg.FastInterval), lastEarly: baseAt}
}

// due returns when the next fast sample is due, or false when the full
// sample due at slow comes first or too soon after it to be worth one.
func (g *fastGrid) due(slow time.Time) (time.Time, bool) {
	if g == nil {
		return time.Time{}, false
	}
	// A tick within half a fast interval of the full sample is that
	// sample's: skip it.
	for !g.next.Before(slow.Add(-g.interval/2)) && g.next.Before(slow.Add(g.interval/2)) {
		g.next = g.next.Add(g.interval)
	}
	if !g.next.Before(slow) {
		return time.Time{}, false
	}
	return g.next, true
}

// advance moves the grid past now (fast samples that fell behind are
// skipped, not taken in a burst).
func (g *fastGrid) advance(now time.Time) {
	for !g.next.After(now) {
		g.next = g.next.Add(g.interval)
	}
}

// fastSample takes one sample of the cheap counters: one round trip, raw
// snapshot stored first, points added to the run's fast series. A failed
// fast sample is logged and costs nothing else: the full grid's samples and
// gaps are what the run promises. It returns whether the early test says
// the run should stop, and why.
func (s *soak) fastSample(ctx context.Context) (bool, string) {
	g := s.fast
	g.taken++
	opts := sampleOptions(s.cfg.OwnModules)
	opts.Fast = true
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	snap, err := s.tgt.ReadFiles(rctx, checks.SnapshotPaths(opts), remote.ReadOptions{})
	cancel()
	if err != nil {
		s.logf("fast sample %d: skipped: %v", g.taken, err)
		return false, ""
	}
	at := s.clock.Now()
	name := filepath.Join(s.st.dir, RawDir, FastRawDir, fmt.Sprintf("%06d.tar.gz", g.taken))
	if err := os.MkdirAll(filepath.Dir(name), dirMode); err != nil {
		s.logf("fast sample %d: skipped: %v", g.taken, err)
		return false, ""
	}
	if _, err := s.st.writeRawAs(name, g.taken, at, snap); err != nil {
		s.logf("fast sample %d: skipped: %v", g.taken, err)
		return false, ""
	}
	opts.ReaderPID = snap.ReaderPID
	s.rec.addFastSample(checks.ParseSnapshot(g.taken, at, snap.Files, snap.Errors, opts))
	if at.Sub(g.lastEarly) < earlyFastJudgeEvery(s.cfg.Interval, g.interval) {
		return false, ""
	}
	g.lastEarly = at
	return s.rec.judge(false)
}

// earlyFastJudgeEvery spaces the early test on the fast series: twice per
// full interval (every 5 min at the defaults), and never more often than
// the fast grid itself.
func earlyFastJudgeEvery(interval, fast time.Duration) time.Duration {
	return max(fast, interval/2)
}

// addFastSample puts a fast sample's points into the run's fast series.
func (r *Run) addFastSample(smp checks.Sample) {
	if r.fast == nil {
		r.fast = checks.NewFastSeriesBuilder()
	}
	r.fast.Add(smp)
	r.FastSamples++
}

// mergeEarly adds to the final judgement the leaks the early test finds on
// the fast series (the cheap counters sampled between the full samples):
// the early test is stricter than the final one, so what it calls a leak
// is one, and a run it stopped early keeps the findings that stopped it.
func (r *Run) mergeEarly(j checks.Judgement, pol Policy) checks.Judgement {
	if r.fast == nil || r.fast.Samples() <= r.seriesBuilder().Samples() {
		return j
	}
	early := r.fast.Judge(pol, checks.JudgeOptions{})
	return checks.MergeEarly(j, early)
}

// fastLoader feeds a loaded run's fast raw snapshots into its fast series,
// in time order with the full samples.
type fastLoader struct {
	// root is raw/fast: every read goes through it, so nothing outside
	// the run folder is read through a symlink.
	root  *os.Root
	names []string
	next  int
	own   []string
	held  *checks.Sample
}

var fastRawName = regexp.MustCompile(`^([0-9]{6,9})\.tar\.gz$`)

// newFastLoader lists raw/fast inside the run folder's root; nil when the
// run has no fast samples. raw/fast must be a folder, not a symlink (a run
// folder is untrusted input); the caller closes the loader.
func newFastLoader(root *os.Root, own []string) (*fastLoader, error) {
	dir := filepath.Join(RawDir, FastRawDir)
	st, err := root.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err == nil && !st.IsDir() {
		err = fmt.Errorf("is a %s, not a folder", st.Mode().Type())
	}
	if err == nil {
		if st, err = root.Lstat(RawDir); err == nil && !st.IsDir() {
			err = fmt.Errorf("%s is a %s, not a folder", RawDir, st.Mode().Type())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	fr, err := root.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	d, err := fr.Open(".")
	if err != nil {
		fr.Close()
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	ents, err := d.ReadDir(maxFastRaws + 1)
	d.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		fr.Close()
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(ents) > maxFastRaws {
		fr.Close()
		return nil, fmt.Errorf("list %s: more than %d entries; not a folder leakgate wrote", dir, maxFastRaws)
	}
	l := &fastLoader{root: fr, own: own}
	for _, e := range ents {
		if e.Type().IsRegular() && fastRawName.MatchString(e.Name()) {
			l.names = append(l.names, e.Name())
		}
	}
	sort.Slice(l.names, func(i, j int) bool {
		a, _ := strconv.Atoi(fastRawName.FindStringSubmatch(l.names[i])[1])
		b, _ := strconv.Atoi(fastRawName.FindStringSubmatch(l.names[j])[1])
		return a < b
	})
	if len(l.names) == 0 {
		fr.Close()
		return nil, nil
	}
	return l, nil
}

// maxFastRaws bounds raw/fast: a day at the smallest fast interval (1 s)
// is 86 400 raws; a folder with many more was not written by a soak.
const maxFastRaws = 1 << 20

// close releases raw/fast.
func (l *fastLoader) close() { l.root.Close() }

// feedBefore adds every fast sample taken before t (all when t is zero).
// A torn raw (a crash mid-write) is skipped, and named in the run's Unused:
// a fast sample is a hint, not a promise.
func (l *fastLoader) feedBefore(t time.Time, r *Run) {
	for {
		if l.held == nil {
			if l.next >= len(l.names) {
				return
			}
			name := l.names[l.next]
			l.next++
			snap, meta, err := l.readRaw(name)
			if err == nil && meta.At.IsZero() {
				err = errors.New("records no time")
			}
			if err != nil {
				r.unused("%s/%s/%s: %v; fast sample not used", RawDir, FastRawDir, name, err)
				continue
			}
			i, _ := strconv.Atoi(fastRawName.FindStringSubmatch(name)[1])
			opts := sampleOptions(l.own)
			opts.Fast = true
			opts.ReaderPID = snap.ReaderPID
			smp := checks.ParseSnapshot(i, meta.At, snap.Files, snap.Errors, opts)
			l.held = &smp
		}
		if !t.IsZero() && !l.held.At.Before(t) {
			return
		}
		r.addFastSample(*l.held)
		l.held = nil
	}
}

// readRaw decodes one fast raw through raw/fast's root: a regular file
// only, with decodeRaw's per-entry and total caps.
func (l *fastLoader) readRaw(name string) (*remote.Snapshot, snapshotMeta, error) {
	f, err := openRegular(l.root, name)
	if err != nil {
		return nil, snapshotMeta{}, fmt.Errorf("open raw snapshot: %w", err)
	}
	defer f.Close()
	return decodeRaw(f, RawDir+"/"+FastRawDir+"/"+name)
}
