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
	"github.com/leakgate/leakgate/internal/human"
	"github.com/leakgate/leakgate/remote"
)

// FastRawDir holds the raw snapshots of the fast grid (raw/fast/NNNNNN.tar.gz).
// They are the only record of a fast sample: re-parsed when a run is
// loaded, they cost a few KiB each and no samples.jsonl line.
const FastRawDir = "fast"

// fastGrid is the state of the fast grid in a running soak. It belongs to
// the fast sampler's goroutine.
type fastGrid struct {
	interval time.Duration
	// base and full are the full grid (the baseline and the interval);
	// end is the last full sample's due time, after which no fast slot is
	// taken.
	base, end time.Time
	full      time.Duration
	next      time.Time
	taken     int
	// skips counts the slots missed because the previous fast read was
	// still running, and when the first and last of them were due.
	skips FastGridNote
	// lastEarly is when the early test last ran on the fast series.
	lastEarly time.Time
}

// fastEnabled reports whether a soak samples the cheap counters beside its
// full samples.
func (c *Config) fastEnabled() bool {
	return c.FastInterval > 0 && c.FastInterval < c.Interval
}

// newFastGrid starts the fast grid after the baseline sample.
func newFastGrid(cfg *Config, baseAt time.Time) *fastGrid {
	if !cfg.fastEnabled() {
		return nil
	}
	return &fastGrid{
		interval: cfg.FastInterval, base: baseAt, full: cfg.Interval,
		end:  baseAt.Add(time.Duration(cfg.PlannedSamples()) * cfg.Interval),
		next: baseAt.Add(cfg.FastInterval), lastEarly: baseAt,
	}
}

// fullSlot reports whether t is within half a fast interval of a full
// sample's due time: that slot is the full sample's (it reads the same
// counters), so the fast grid does not take it.
func (g *fastGrid) fullSlot(t time.Time) bool {
	off := t.Sub(g.base) % g.full
	return off < g.interval/2 || g.full-off <= g.interval/2
}

// slot returns the next slot to take, and false when the grid is past the
// last full sample.
func (g *fastGrid) slot() (time.Time, bool) {
	for g.fullSlot(g.next) {
		g.next = g.next.Add(g.interval)
	}
	return g.next, !g.next.After(g.end)
}

// advance moves the grid past now, after a fast sample that began at the
// current slot: the slots that passed while its read ran are skipped and
// counted, not taken in a burst. It returns how many were skipped.
func (g *fastGrid) advance(now time.Time) int {
	g.next = g.next.Add(g.interval)
	n := 0
	for !g.next.After(now) {
		if !g.fullSlot(g.next) {
			n++
			if g.skips.FirstSkipped.IsZero() {
				g.skips.FirstSkipped = g.next
			}
			g.skips.LastSkipped = g.next
		}
		g.next = g.next.Add(g.interval)
	}
	g.skips.SlotsSkipped += n
	return n
}

// FastGridNote is run.json's account of the fast grid (fast_grid): the
// slots it skipped because the fast read before them was still running
// (a target slower than the fast interval), counted and logged during
// the soak and kept here for whoever reads the run later.
type FastGridNote struct {
	// SlotsSkipped counts them; 0 on a run whose fast grid kept up.
	SlotsSkipped int `json:"slots_skipped"`
	// FirstSkipped and LastSkipped are when the first and the last of
	// them were due (zero when none was skipped).
	FirstSkipped time.Time `json:"first_skipped,omitzero"`
	LastSkipped  time.Time `json:"last_skipped,omitzero"`
}

// fact is the note as the report's facts table shows it.
func (n FastGridNote) fact() string {
	if n.SlotsSkipped == 0 {
		return "0"
	}
	return fmt.Sprintf("%d, due %s to %s: the fast read before them was still running",
		n.SlotsSkipped, n.FirstSkipped.UTC().Format(time.RFC3339), n.LastSkipped.UTC().Format(time.RFC3339))
}

// errStoppedEarly is the cause the fast sampler cancels the sampling with
// when the early test ends the run.
var errStoppedEarly = errors.New("the early test ended the soak")

// fastSampler is the fast grid's goroutine, beside the full samples.
type fastSampler struct {
	grid   *fastGrid
	cancel context.CancelFunc
	done   chan struct{}
}

// startFast starts the fast sampler for a soak whose sampling runs under
// sctx; it cancels sctx with errStoppedEarly when the early test on the
// fast series ends the run. It returns nil when the fast grid is off.
func (s *soak) startFast(sctx context.Context, stopSampling context.CancelCauseFunc, baseAt time.Time) *fastSampler {
	g := newFastGrid(&s.cfg, baseAt)
	if g == nil {
		return nil
	}
	fctx, cancel := context.WithCancel(sctx)
	f := &fastSampler{grid: g, cancel: cancel, done: make(chan struct{})}
	leave := joinClock(s.clock)
	go func() {
		defer close(f.done)
		defer leave()
		for {
			at, ok := g.slot()
			if !ok || !sleepUntil(fctx, s.clock, at) {
				return
			}
			if s.fastSample(fctx, g) {
				// Leave the clock before cancelling: a simulated clock then
				// ends the full sampler's wait first, the same on every run.
				leave()
				stopSampling(errStoppedEarly)
				return
			}
			if n := g.advance(s.clock.Now()); n > 0 && g.skips.SlotsSkipped == n {
				// The first time only: a target slower than the fast grid
				// would repeat it on every read. The total is logged at the end.
				s.logf("fast grid: %d slot(s) skipped after fast sample %d: its read outlasted the fast interval %s; later skips are counted, not logged", n, g.taken, human.Duration(g.interval))
			}
		}
	}()
	return f
}

// stop ends the fast sampler and waits for it; a fast sample in flight is
// abandoned without a write. It returns how many fast samples the grid
// took and the slots it skipped.
func (f *fastSampler) stop() (taken int, skips FastGridNote) {
	if f == nil {
		return 0, FastGridNote{}
	}
	f.cancel()
	<-f.done
	return f.grid.taken, f.grid.skips
}

// fastSample takes one sample of the cheap counters: one round trip, then,
// under the soak's lock, the raw snapshot stored and the points added to
// the run's fast series. A failed fast sample is logged and costs nothing
// else: the full grid's samples and gaps are what the run promises. It
// returns whether the early test says the run should stop; the reason is
// left in s.earlyWhy.
func (s *soak) fastSample(ctx context.Context, g *fastGrid) bool {
	g.taken++
	n := g.taken
	opts := sampleOptions(s.cfg.OwnModules)
	opts.Fast = true
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	snap, err := s.tgt.ReadFiles(rctx, checks.SnapshotPaths(opts), remote.ReadOptions{})
	cancel()
	if ctx.Err() != nil {
		return false // the sampling is over: write nothing
	}
	if err != nil {
		s.logf("fast sample %d: skipped: %v", n, err)
		return false
	}
	at := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil || s.stopping.Load() {
		return false
	}
	name := filepath.Join(s.st.dir, RawDir, FastRawDir, fmt.Sprintf("%06d.tar.gz", n))
	if err := os.MkdirAll(filepath.Dir(name), dirMode); err != nil {
		s.logf("fast sample %d: skipped: %v", n, err)
		return false
	}
	if _, err := s.st.writeRawAs(name, n, at, snap); err != nil {
		s.logf("fast sample %d: skipped: %v", n, err)
		return false
	}
	opts.ReaderPID = snap.ReaderPID
	s.rec.addFastSample(checks.ParseSnapshot(n, at, snap.Files, snap.Errors, opts))
	if at.Sub(g.lastEarly) < earlyFastJudgeEvery(s.cfg.Interval, g.interval) {
		return false
	}
	g.lastEarly = at
	stop, why := s.rec.judge(false)
	if stop {
		s.earlyWhy = fmt.Sprintf("ended early after fast sample %d: %s", n, why)
		s.stopping.Store(true)
	}
	return stop
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
	early := r.fast.Judge(pol, checks.JudgeOptions{ReclaimAccounted: r.Meta.ReclaimAccounted})
	return checks.MergeEarly(j, early, "on the fast counters: ")
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
