package harness

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/results"
)

// ComparisonFile is the run folder's chart of the series compared with the
// baseline (both runs overlaid), written when a baseline was compared.
const ComparisonFile = "comparison.html"

// ComparisonNote records in run.json what the results store and the A/B
// comparison said at the end of the soak.
type ComparisonNote struct {
	// Message is the comparison's diagnosis ("kmalloc-512 grows 3.1 MiB/h,
	// release r41 grew 20.5 KiB/h on the same rig") and any store problem.
	Message string `json:"message,omitempty"`
	// Regressed is true when a series regressed and the policy fails on it.
	Regressed bool `json:"regressed,omitempty"`
}

// recordResults records the finished run in the results store and compares
// it with its baseline (Config.Store). A store that is down or full never
// changes the verdict: it is reported, and `leakgate import` catches up. A
// regression the comparison policy fails on fails the run, whose reports
// and store row are then written again.
func (s *soak) recordResults(ctx context.Context) {
	opts := s.cfg.Store
	if opts.DSN == "" {
		return
	}
	r := s.rec
	ctx = context.WithoutCancel(ctx)
	o := results.AfterSoak(ctx, r.Dir, opts)
	note := &ComparisonNote{Message: o.Message(), Regressed: o.Failed()}
	r.Meta.Comparison = note
	for _, line := range strings.Split(note.Message, "\n") {
		if line != "" {
			s.logf("%s", line)
		}
	}
	if o.Comparison != nil {
		var b bytes.Buffer
		if err := o.Comparison.WriteHTML(&b); err == nil {
			if err := writeFileSync(filepath.Join(r.Dir, ComparisonFile), b.Bytes()); err != nil {
				s.logf("write %s: %v", ComparisonFile, err)
			}
		}
	}
	if note.Regressed && r.Meta.Status == verdict.Pass {
		r.Meta.Status = verdict.Fail
		r.Meta.Error = "regressed against its baseline: " + firstLineOf(note.Message)
	}
	if err := r.writeArtifacts(); err != nil {
		s.logf("write reports: %v", err)
	}
	if note.Regressed {
		if err := results.RecordRun(ctx, opts.DSN, r.Dir, opts.Release); err != nil {
			s.logf("results store: %v", err)
		}
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
