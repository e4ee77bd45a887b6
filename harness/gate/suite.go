// Package gate is the Ginkgo and Gomega glue of the release gate: the soak
// suite's ordered specs (Suites) and the matchers whose failure message is
// the whole diagnosis (Leak, BeReady). It is the only package that imports
// Ginkgo, so the leakgate command line links none of it.
package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/remote"
)

// Suites returns one Suite per target of the flags (--targets, else
// --target). Call it inside a container body, where the flags are parsed.
func Suites(f *harness.Flags) []*Suite {
	var out []*Suite
	targets := f.TargetList()
	for _, t := range targets {
		s := NewSuite(f.ForTarget(t))
		s.parallel = len(targets) > 1
		out = append(out, s)
	}
	return out
}

// Name is the container text: the target soaked.
func (s *Suite) Name() string {
	if s.Flags.Target == "" {
		return "no target"
	}
	return s.Flags.Target
}

// Decorators are the soak container's: its specs run in order and are
// selected with --label-filter=soak. A single rig's soak is also Serial
// (alone on the runner); with --targets each rig's container may run in its
// own ginkgo -p process, one rig per process.
func (s *Suite) Decorators() []any {
	d := []any{ginkgo.Ordered, ginkgo.Label("soak")}
	if !s.parallel {
		d = append(d, ginkgo.Serial)
	}
	return d
}

// Suite is the state a soak suite's ordered specs share: the target, the
// preflight answer and the run. Build it in the container with NewSuite and
// hand its methods to BeforeAll and It.
type Suite struct {
	Flags     *harness.Flags
	Target    remote.Target
	Preflight *harness.PreflightResult
	Run       *harness.Run

	parallel bool
	progress atomic.Pointer[string]
}

// NewSuite returns the shared state of one soak container.
func NewSuite(f *harness.Flags) *Suite { return &Suite{Flags: f} }

// SpecTimeout is the soak spec's decorator: duration plus room for the
// preflight, the baseline and the reports. Flags are validated first.
func (s *Suite) SpecTimeout() ginkgo.SpecTimeout {
	_ = s.Flags.Validate()
	return ginkgo.SpecTimeout(s.Flags.SpecTimeout())
}

// CheckConfig (for the container's first It) fails with a configuration
// error, every flag and profile problem on its own line, when the flags
// cannot make a soak. The target is not contacted: in the JUnit and JSON
// reports a configuration error is this spec's failure, never the
// preflight's.
func (s *Suite) CheckConfig() {
	ginkgo.GinkgoHelper()
	if err := s.Flags.Validate(); err != nil {
		ginkgo.Fail(configMessage(err))
	}
}

// configMessage is the failure message of a configuration error.
func configMessage(err error) string {
	return "configuration error (the target was not contacted); fix these flags or profile values:\n" + err.Error()
}

// Connect (for BeforeAll) dials the target when the flags are valid (when
// they are not, CheckConfig says why and nothing is dialled), closes it
// when the container ends, and captures final evidence from the target if
// any spec fails, while the target is still in its failed state.
func (s *Suite) Connect(ctx ginkgo.SpecContext) {
	ginkgo.GinkgoHelper()
	if s.Flags.Validate() != nil {
		return // CheckConfig fails with every problem; the specs after it are skipped
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tgt, err := s.Flags.Flags.Dial(dctx)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("connect to --target %s: %v", s.Flags.Target, err))
	}
	s.Target = tgt
	ginkgo.DeferCleanup(func() error { return tgt.Close() })
	ginkgo.DeferOnFailure(func(ctx ginkgo.SpecContext) {
		dir, err := s.captureEvidence(ctx)
		if err != nil {
			fmt.Fprintf(ginkgo.GinkgoWriter, "leakgate: final evidence: %v\n", err)
			return
		}
		fmt.Fprintf(ginkgo.GinkgoWriter, "leakgate: final evidence in %s\n", dir)
	}, ginkgo.NodeTimeout(5*time.Minute))
}

// CheckPreflight (for It) fails with one remediation line per missing piece
// when the target cannot see leaks. A gate that cannot see must not pass.
// A target that is not ready, or that could not be checked, still gets a
// run folder with run.json and report.json (verdict error, the preflight
// table, the evidence folder) and a results store row, like every run.
func (s *Suite) CheckPreflight(ctx ginkgo.SpecContext) {
	ginkgo.GinkgoHelper()
	if err := s.Flags.Validate(); err != nil {
		ginkgo.Fail(configMessage(err)) // a suite without CheckConfig
	}
	pf, err := harness.Preflight(ctx, s.Target)
	if err != nil {
		s.recordPreflight(ctx, harness.PreflightResult{}, err)
		ginkgo.Fail(fmt.Sprintf("preflight could not check %s: %v", s.Flags.Target, err))
	}
	s.Preflight = &pf
	ginkgo.AddReportEntry("preflight", jsonEntry{pf}, ginkgo.ReportEntryVisibilityFailureOrVerbose)
	for _, n := range pf.Notes {
		fmt.Fprintf(ginkgo.GinkgoWriter, "leakgate: preflight: %s\n", n)
	}
	if !pf.Ready {
		// No soak follows; recording the run restores what the preflight changed.
		s.recordPreflight(ctx, pf, nil)
	}
	gomega.Expect(pf).To(BeReady())
}

// recordPreflight writes the run folder of a soak that ended in its
// preflight and names it in the report entries; when no folder can be made
// it still leaves the target as the preflight found it.
func (s *Suite) recordPreflight(ctx context.Context, pf harness.PreflightResult, checkErr error) {
	cfg := s.Flags.Config(s.Target)
	cfg.Log = ginkgo.GinkgoWriter
	cfg.Versions = harness.Versions()
	run, err := harness.RecordPreflightFailure(ctx, cfg, pf, checkErr)
	if err != nil {
		fmt.Fprintf(ginkgo.GinkgoWriter, "leakgate: preflight: no run folder: %v\n", err)
		if checkErr == nil {
			for _, n := range harness.RestoreTarget(ctx, s.Target, pf) {
				fmt.Fprintf(ginkgo.GinkgoWriter, "leakgate: preflight: %s\n", n)
			}
		}
		return
	}
	s.Run = run
	ginkgo.AddReportEntry("leakgate run folder", run.Dir)
	ginkgo.AddReportEntry("leakgate verdict", fmt.Sprintf("%s (preflight)", run.Meta.Status))
}

// Soak (for It) runs the whole soak, reporting progress, and fails with the
// whole diagnosis when the run did not pass.
func (s *Suite) Soak(ctx ginkgo.SpecContext) {
	ginkgo.GinkgoHelper()
	cfg := s.Flags.Config(s.Target)
	cfg.Preflight = s.Preflight
	cfg.Log = ginkgo.GinkgoWriter
	cfg.Versions = harness.Versions()
	cfg.Progress = s.setProgress
	detach := ginkgo.AttachProgressReporter(s.progressText)
	defer detach()
	run, err := harness.Soak(ctx, cfg)
	if err != nil {
		ginkgo.Fail("start the soak: " + err.Error())
	}
	s.Run = run
	rr := run.Report()
	ginkgo.AddReportEntry("leakgate run folder", run.Dir)
	ginkgo.AddReportEntry("leakgate verdict", fmt.Sprintf("%s (%d samples, %d gaps)", rr.Verdict, rr.Samples, len(rr.Gaps)))
	ginkgo.AddReportEntry("leakgate findings", jsonEntry{rr.Findings}, ginkgo.ReportEntryVisibilityFailureOrVerbose)
	gomega.Expect(run).NotTo(Leak())
}

// setProgress caches the progress line; the reporter only reads the cache,
// so a progress report never waits on the target.
func (s *Suite) setProgress(p harness.Progress) {
	var b strings.Builder
	fmt.Fprintf(&b, "leakgate: %s, sample %d of %d, %d gaps, elapsed %s", p.Status, p.Sample, p.Planned, p.Gaps, human.Duration(p.Elapsed))
	if p.ETA > 0 {
		fmt.Fprintf(&b, ", ETA %s", human.Duration(p.ETA))
	}
	if len(p.TopGrowers) > 0 {
		fmt.Fprintf(&b, "; top growers: %s", strings.Join(p.TopGrowers, ", "))
	}
	line := b.String()
	s.progress.Store(&line)
	fmt.Fprintln(ginkgo.GinkgoWriter, line)
}

func (s *Suite) progressText() string {
	if p := s.progress.Load(); p != nil {
		return *p
	}
	return "leakgate: soak not started yet"
}

// captureEvidence reads the full kmemleak report, slabinfo and dmesg into the
// run folder's evidence/ (or a folder of its own when no run started).
func (s *Suite) captureEvidence(ctx context.Context) (string, error) {
	if s.Target == nil {
		return "", fmt.Errorf("no target connected")
	}
	dir := harness.EvidenceFolder(s.Run, s.Flags.Out, s.Flags.Target)
	return dir, harness.CaptureEvidence(ctx, s.Target, dir)
}

// jsonEntry makes a report entry print as JSON on the console.
type jsonEntry struct{ V any }

func (j jsonEntry) String() string {
	b, err := json.MarshalIndent(j.V, "", "  ")
	if err != nil {
		return fmt.Sprint(j.V)
	}
	return string(b)
}
