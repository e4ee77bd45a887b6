package harness

import (
	"context"
	"fmt"
	"strings"

	"github.com/leakgate/leakgate/checks"
)

// baseline flushes boot-time kmemleak reports (scan off, scan, wait, scan)
// and takes sample 0, which fixes the boot id every later sample must match.
func (s *soak) baseline(ctx context.Context) (checks.Sample, error) {
	note, err := s.runScanSteps(ctx, baselineScanSteps())
	if err != nil {
		return checks.Sample{}, fmt.Errorf("flush boot-time kmemleak reports: %w", err)
	}
	smp, err := s.sampleWithRetry(ctx, 0, s.clock.Now().Add(s.cfg.Interval))
	if err != nil {
		return checks.Sample{}, fmt.Errorf("sample 0: %w", err)
	}
	if note != "" {
		if smp.Errors == nil {
			smp.Errors = map[string]string{}
		}
		smp.Errors[kmemleakPath] = note
	}
	if smp.BootID == "" {
		return checks.Sample{}, fmt.Errorf("sample 0 has no boot id (%s unreadable: %s); reboots could not be told apart, so the soak stops", bootIDPath, smp.Errors[bootIDPath])
	}
	s.rec.addSample(smp)
	s.reportProgress(0, s.cfg.PlannedSamples())
	return smp, nil
}

// rebootEvidence keeps what the rebooted target still says about why:
// pstore (the console of the previous boot, where configured) and dmesg.
func (s *soak) rebootEvidence(ctx context.Context) string {
	var b strings.Builder
	rctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	snap, err := s.tgt.ReadFiles(rctx, []string{"/sys/fs/pstore/*"}, remoteReadSmall)
	if err == nil {
		for p, data := range snap.Files {
			fmt.Fprintf(&b, "== %s\n%s\n", p, tail(data, 64<<10))
		}
	}
	res, err := s.tgt.Run(rctx, []string{"dmesg"}, remoteRunSmall)
	if err != nil {
		fmt.Fprintf(&b, "== dmesg: unreachable: %v\n", err)
	} else {
		fmt.Fprintf(&b, "== dmesg (the new boot)\n%s\n", tail(res.Stdout, 64<<10))
	}
	if err := writeFileSync(s.st.path(EvidenceDir, "reboot.txt"), []byte(b.String())); err != nil {
		s.logf("write reboot evidence: %v", err)
	}
	return b.String()
}

func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[len(b)-n:]
}
