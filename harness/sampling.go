package harness

import (
	"context"
	"errors"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/remote"
)

// sampleLoop takes samples 1..N on the interval grid that starts at the
// baseline, judging after each, until the duration is over or the run ends.
// The fast sampler, when on, runs beside it on its own grid (fast.go).
func (s *soak) sampleLoop(ctx context.Context, baseAt time.Time, wl *workloadSet) {
	cfg := &s.cfg
	r := s.rec
	planned := cfg.PlannedSamples()
	sched := newSchedule(periodicWorkloads(s.workloads()), baseAt)
	// The fast sampler cancels sctx when its early test ends the run: a full
	// sample in flight is then abandoned before any of it is written.
	sctx, stopSampling := context.WithCancelCause(ctx)
	defer stopSampling(nil)
	fast := s.startFast(sctx, stopSampling, baseAt)
	var lastEarly time.Time
	for i := 1; i <= planned; i++ {
		due := baseAt.Add(time.Duration(i) * cfg.Interval)
		if !s.waitUntil(sctx, due, wl, sched) {
			break
		}
		read, err := s.readWithRetry(sctx, i, due.Add(cfg.Interval))
		if !s.recordFull(ctx, i, planned, read, err, &lastEarly) {
			break
		}
	}
	if taken, skips := fast.stop(); fast != nil {
		s.logf("fast grid: %d fast samples, %d slots skipped (a read still running)", taken, skips.SlotsSkipped)
		s.mu.Lock()
		r.Meta.FastGrid = &skips // run.json, written at the end
		s.mu.Unlock()
	}
	if s.earlyWhy != "" {
		// The findings and the sample count say it all; Error is for broken runs.
		s.fail(verdict.Fail, "")
		s.stoppedEarly = true
		s.logf("%s", s.earlyWhy)
	}
	if r.Meta.Status == verdict.Running || r.Meta.Status == verdict.Fail {
		s.finish(ctx)
		return
	}
	// An interrupted or broken run still gets judged on what it has, for the report.
	r.judge(true)
}

// recordFull records full sample i (or its gap), judges, and reports
// progress, under the soak's lock: the fast sampler's writes and
// judgements never interleave with it. A sample whose read ended after the
// early test stopped the run is dropped whole. It returns whether the
// sample loop goes on.
func (s *soak) recordFull(ctx context.Context, i, planned int, read fullRead, err error, lastEarly *time.Time) bool {
	cfg := &s.cfg
	r := s.rec
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.earlyWhy != "" {
		s.logf("sample %d of %d: abandoned: the early test ended the soak while it was taken", i, planned)
		return false
	}
	if err == nil {
		err = s.storeFull(read)
	}
	if err != nil {
		if ctx.Err() != nil {
			s.fail(verdict.Error, fmt.Sprintf("interrupted at sample %d of %d: %v", i, planned, context.Cause(ctx)))
			return false
		}
		if errors.Is(err, ErrDiskFull) {
			s.fail(verdict.Error, fmt.Sprintf("sample %d: %v", i, err))
			return false
		}
		gap := Gap{Index: i, At: s.clock.Now(), Reason: err.Error()}
		r.Gaps = append(r.Gaps, gap)
		s.logf("sample %d of %d: gap: %s", i, planned, gap.Reason)
		if werr := s.st.appendRecord(Record{Gap: &gap}); werr != nil {
			s.fail(verdict.Error, fmt.Sprintf("record gap %d: %v", i, werr))
			return false
		}
		if !remote.IsRetryable(err) && !isSampleError(err) {
			s.fail(verdict.Error, fmt.Sprintf("sample %d of %d on %s: %v", i, planned, cfg.TargetName, err))
			return false
		}
		s.reportProgress(i, planned)
		return true
	}
	smp := read.smp
	if s.checkReboot(ctx, i, smp) {
		return false
	}
	r.addSample(smp)
	s.logf("sample %d of %d taken", i, planned)
	if i < planned && (lastEarly.IsZero() || smp.At.Sub(*lastEarly) >= earlyJudgeEvery(cfg.Interval)) {
		*lastEarly = smp.At
		if stop, why := r.judge(false); stop {
			// The findings and the sample count say it all; Error is for broken runs.
			s.fail(verdict.Fail, "")
			s.stoppedEarly = true
			s.stopping.Store(true) // the fast sampler records nothing more
			s.logf("ended early at sample %d of %d: %s", i, planned, why)
			s.reportProgress(i, planned)
			return false
		}
	}
	s.reportProgress(i, planned)
	return true
}

// earlyJudgeEvery spaces early judgements: after every sample at the usual
// 10 min interval, at most every 10 min when sampling faster (a judgement
// costs O(samples), so judging every 10 s sample of a day-long run would
// cost more than the sampling).
func earlyJudgeEvery(interval time.Duration) time.Duration {
	return max(interval, 10*time.Minute)
}

// finish gives the final verdict on a run that took its samples.
func (s *soak) finish(ctx context.Context) {
	r := s.rec
	r.judge(true)
	if r.Meta.Status != verdict.Running && !s.stoppedEarly {
		return
	}
	reclaimed := s.reclaimProbe(ctx)
	reloaded := s.reloadProbe(ctx)
	if reclaimed || reloaded {
		r.judge(true)
	}
	if s.stoppedEarly {
		if !r.Judgement.Failed() {
			// What stopped the run gave its memory back: it was a cache. The
			// soak did not run its length, so it cannot pass.
			r.Meta.Status = verdict.Error
			var gave []string
			if r.Meta.Reclaim != nil {
				for _, res := range r.Meta.Reclaim.Results {
					if res.Reclaimable {
						gave = append(gave, res.Subject)
					}
				}
			}
			r.Meta.Error = fmt.Sprintf("the soak stopped early after %d samples for growth the reclaim probe then found reclaimable (%s); it did not run its full length, so it cannot pass: allow the cache in the profile or run it again", len(r.Samples), strings.Join(gave, ", "))
		}
		return
	}
	if r.Judgement.Failed() {
		// The findings are the diagnosis; Error stays for what ended a run otherwise.
		r.Meta.Status = verdict.Fail
		s.logf("fail: %s", r.Judgement.Summary())
		return
	}
	// The rules analyze applies (shortfall): too few samples, a warm-up
	// beyond the run, or more than half of the planned samples lost.
	if why := r.shortfall(r.policy()); why != "" {
		r.Meta.Status = verdict.Error
		r.Meta.Error = why
		return
	}
	r.Meta.Status = verdict.Pass
}

// maxLostFraction is the share of planned samples a soak may lose to gaps
// and still pass: beyond it the run is an error, not a pass, because a
// gate that could not watch must not let a release through. A leak found
// in what was sampled fails the run whatever was lost.
const maxLostFraction = 0.5

// waitUntil waits for due, running periodic actions that fall before it and
// watching workloads. It returns false when the run must end: ctx (the
// sampling's) ended, because the run was interrupted or because the fast
// sampler's early test stopped it, or a workload failed.
func (s *soak) waitUntil(ctx context.Context, due time.Time, wl *workloadSet, sched *schedule) bool {
	for {
		if ctx.Err() != nil || s.stopping.Load() {
			s.interrupted(ctx)
			return false
		}
		now := s.clock.Now()
		next := due
		w, at, ok := sched.next()
		if ok && at.Before(next) {
			next = at
		}
		if !now.Before(next) {
			if ok && !at.After(now) {
				sched.advance(w)
				wl.runPeriodic(ctx, w)
				continue
			}
			return true
		}
		timer := s.clock.After(next.Sub(now))
		select {
		case <-ctx.Done():
			stopWait(s.clock, timer)
			s.interrupted(ctx)
			return false
		case why := <-wl.failed:
			stopWait(s.clock, timer)
			s.fail(verdict.Error, "workload failed: "+why)
			return false
		case <-timer:
		}
	}
}

// interrupted fails a run whose sampling context ended, unless the early
// test ended it (the sample loop records that).
func (s *soak) interrupted(ctx context.Context) {
	if s.stopping.Load() || errors.Is(context.Cause(ctx), errStoppedEarly) {
		return
	}
	s.fail(verdict.Error, fmt.Sprintf("interrupted after %d samples: %v", len(s.rec.Samples), context.Cause(ctx)))
}

// sampleError marks a sample lost for a reason other than the link (a kmemleak
// write refused, a command failing): the run goes on.
type sampleError struct{ err error }

func (e *sampleError) Error() string { return e.err.Error() }
func (e *sampleError) Unwrap() error { return e.err }

func isSampleError(err error) bool {
	var se *sampleError
	return errors.As(err, &se)
}

// fullRead is a full sample read from the target and parsed, not yet
// stored.
type fullRead struct {
	smp  checks.Sample
	snap *remote.Snapshot
}

// sampleWithRetry takes sample i (readWithRetry) and stores it.
func (s *soak) sampleWithRetry(ctx context.Context, i int, deadline time.Time) (checks.Sample, error) {
	read, err := s.readWithRetry(ctx, i, deadline)
	if err != nil {
		return checks.Sample{}, err
	}
	if err := s.storeFull(read); err != nil {
		return checks.Sample{}, err
	}
	return read.smp, nil
}

// readWithRetry reads sample i, retrying a lost link with backoff until
// deadline (the next sample's slot), or for one interval after the first
// failure when that is later: a soak running behind its grid (a scan slower
// than the interval, a loaded host) must not turn a brief outage into gaps
// after one attempt each. The last error is returned when the window
// passes, and becomes a gap.
func (s *soak) readWithRetry(ctx context.Context, i int, deadline time.Time) (fullRead, error) {
	backoff := time.Second
	first := true
	for {
		read, err := s.readOnce(ctx, i)
		if err == nil {
			return read, nil
		}
		if !remote.IsRetryable(err) || ctx.Err() != nil {
			return fullRead{}, err
		}
		now := s.clock.Now()
		if late := now.Add(s.cfg.Interval); first && late.After(deadline) {
			deadline = late
		}
		first = false
		if !now.Add(backoff).Before(deadline) {
			return fullRead{}, fmt.Errorf("target unreachable until the next sample was due: %w", err)
		}
		s.logf("sample %d: %v; retrying in %s", i, err, human.Duration(backoff))
		if !sleepUntil(ctx, s.clock, now.Add(backoff)) {
			return fullRead{}, ctx.Err()
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// readOnce runs the kmemleak scan steps, reads every snapshot path in one
// round trip and parses the sample; nothing is written.
func (s *soak) readOnce(ctx context.Context, i int) (fullRead, error) {
	var scanNote string
	if i > 0 { // sample 0 follows the baseline flush, which just scanned twice
		var err error
		if scanNote, err = s.runScanSteps(ctx, sampleScanSteps()); err != nil {
			return fullRead{}, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	snap, err := s.tgt.ReadFiles(rctx, snapshotPaths(s.cfg.OwnModules, s.rec.Meta.AllocCallsCaches...), remote.ReadOptions{})
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// The read outlived its own timeout, not the run: a stalled link
			// or a busy target, worth retrying within the sample's window.
			err = &remote.LinkError{Op: "stall", Target: s.cfg.TargetName, Err: fmt.Errorf("no snapshot within the read timeout of %s: %w", s.cfg.ReadTimeout, err)}
		}
		return fullRead{}, fmt.Errorf("read snapshot on %s: %w", s.cfg.TargetName, err)
	}
	at := s.clock.Now()
	smp := newSample(i, at, snap, s.cfg.OwnModules, s.rec.Meta.AllocCallsCaches...)
	if scanNote != "" {
		if smp.Errors == nil {
			smp.Errors = map[string]string{}
		}
		smp.Errors[kmemleakPath] = scanNote
	}
	return fullRead{smp: smp, snap: snap}, nil
}

// storeFull writes a full sample's raw snapshot, then its samples.jsonl
// record. While the fast sampler runs, the caller holds s.mu.
func (s *soak) storeFull(read fullRead) error {
	if _, err := s.st.writeRaw(read.smp.Index, read.smp.At, read.snap); err != nil {
		return err
	}
	smp := read.smp
	return s.st.appendSample(&smp)
}

// checkReboot ends the run when the boot id changed or uptime went back.
func (s *soak) checkReboot(ctx context.Context, i int, smp checks.Sample) bool {
	r := s.rec
	prevUptime := r.Meta.Uptime
	if n := len(r.Samples); n > 0 {
		prevUptime = r.Samples[n-1].Uptime
	}
	changed := smp.BootID != "" && r.Meta.BootID != "" && smp.BootID != r.Meta.BootID
	wentBack := smp.Uptime > 0 && smp.Uptime < prevUptime
	if !changed && !wentBack {
		return false
	}
	rb := &report.Reboot{AtSample: i, OldBootID: r.Meta.BootID, NewBootID: smp.BootID}
	rb.Evidence = s.rebootEvidence(ctx)
	r.Meta.Reboot = rb
	why := "boot_id changed"
	if !changed {
		why = fmt.Sprintf("uptime went back from %s to %s", human.Duration(prevUptime), human.Duration(smp.Uptime))
	}
	s.fail(verdict.Fail, fmt.Sprintf("target %s rebooted before sample %d (%s); the samples before it are kept, see evidence/reboot.txt", s.cfg.TargetName, i, why))
	return true
}

func (s *soak) reportProgress(i, planned int) {
	if s.cfg.Progress == nil {
		return
	}
	r := s.rec
	elapsed := s.clock.Now().Sub(r.Meta.Started)
	var eta time.Duration
	if i > 0 && i < planned {
		eta = time.Duration(planned-i) * s.cfg.Interval
	}
	s.cfg.Progress(Progress{Sample: i, Planned: planned, Gaps: len(r.Gaps), Elapsed: elapsed, ETA: eta, TopGrowers: r.topGrowers(3), Status: r.step})
}
