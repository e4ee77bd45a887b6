package harness

// This file is where the harness calls into checks: snapshot paths, sample
// parsing, the kmemleak scan protocol, policy and preflight evaluation.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kconfig"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/remote"
)

// Policy is the judging policy (checks.Policy).
type Policy = checks.Policy

// DefaultPolicy returns checks' documented defaults.
func DefaultPolicy() Policy { return checks.DefaultPolicy() }

// profilePolicy is the default policy with the profile's overrides and
// allowlist applied.
func profilePolicy(p *Profile) (Policy, error) {
	pol := checks.DefaultPolicy()
	if p == nil {
		return pol, nil
	}
	y, err := p.PolicyYAML()
	if err != nil {
		return pol, err
	}
	if len(y) > 0 {
		if pol, err = checks.LoadPolicy(y, pol); err != nil {
			return pol, fmt.Errorf("profile %s policy: %w", p.Name, err)
		}
	}
	for _, a := range p.Allow {
		pol.Allow = append(pol.Allow, checks.AllowRule{Kind: checks.Kind(a.Kind), Subject: a.Subject, Reason: a.Reason})
	}
	if err := pol.Validate(); err != nil {
		return pol, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	return pol, nil
}

// LoadPolicyFile applies a policy YAML file over base. The file is read
// through ReadYAMLFile: at most MaxYAMLFileBytes, a regular file only.
func LoadPolicyFile(path string, base Policy) (Policy, error) {
	b, err := ReadYAMLFile(path, "policy")
	if err != nil {
		return base, err
	}
	pol, err := checks.LoadPolicy(b, base)
	if err != nil {
		return base, fmt.Errorf("policy %s: %w", path, err)
	}
	return pol, nil
}

func sampleOptions(own []string, allocCalls ...string) checks.SampleOptions {
	return checks.SampleOptions{OwnModules: own, AllocTraces: true, AllocCallsCaches: allocCalls}
}

func snapshotPaths(own []string, allocCalls ...string) []string {
	return checks.SnapshotPaths(sampleOptions(own, allocCalls...))
}

// newSample parses a snapshot; the shell that read it and its SSH session
// are the observer and are not judged.
func newSample(i int, at time.Time, snap *remote.Snapshot, own []string, allocCalls ...string) checks.Sample {
	opts := sampleOptions(own, allocCalls...)
	opts.ReaderPID = snap.ReaderPID
	return checks.ParseSnapshot(i, at, snap.Files, snap.Errors, opts)
}

func baselineScanSteps() []kmemleak.Step { return writesAndWaits(kmemleak.BaselineSteps()) }
func sampleScanSteps() []kmemleak.Step   { return writesAndWaits(kmemleak.SampleSteps()) }

// writesAndWaits drops the read step: the report is read in the snapshot's
// single round trip instead.
func writesAndWaits(steps []kmemleak.Step) []kmemleak.Step {
	out := steps[:0:0]
	for _, s := range steps {
		if s.Action != kmemleak.ActionRead {
			out = append(out, s)
		}
	}
	return out
}

// scanScript writes $1 to the kmemleak file in one write(). Hang-up,
// interrupt and terminate are ignored so neither a dropped link nor a
// cancelled session can leave a signal pending, which would abort the scan
// silently (mm/kmemleak.c: scans check signal_pending). $2 is the kmemleak
// file, a target path.
const scanScript = `trap '' HUP INT TERM PIPE; echo "$1" > "$2"`

// runScanSteps executes kmemleak writes and waits, timing waits from the
// start of the previous write. A write the kernel refuses becomes a note on
// the sample (kmemleak disabled mid-run shows in the report); a lost link
// is an error.
func (s *soak) runScanSteps(ctx context.Context, steps []kmemleak.Step) (string, error) {
	var notes []string
	var lastStart time.Time
	for _, st := range steps {
		switch st.Action {
		case kmemleak.ActionWait:
			wait := st.Wait - s.clock.Now().Sub(lastStart)
			if lastStart.IsZero() {
				wait = st.Wait
			}
			if wait <= 0 {
				continue
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-s.clock.After(wait):
			}
		case kmemleak.ActionWrite:
			timeout := st.Timeout
			if timeout <= 0 || s.cfg.ScanTimeout > timeout {
				timeout = max(s.cfg.ScanTimeout, kmemleak.ScanTimeout)
			}
			lastStart = s.clock.Now()
			// The budget is long on purpose; no short timeout ever reaches a scan.
			sctx, cancel := context.WithTimeout(ctx, timeout)
			res, err := s.tgt.Run(sctx, []string{"sh", "-c", scanScript, "sh", st.Command, kmemleak.Path}, remote.RunOptions{MaxOutputBytes: 64 << 10, PathArgs: []int{5}})
			cancel()
			if err != nil {
				return "", fmt.Errorf("write %s to %s: %w", st.Command, kmemleak.Path, err)
			}
			if res.ExitStatus != 0 {
				text := strings.TrimSpace(string(res.Stderr))
				if d, ok := kmemleak.ClassifyWriteError(text); ok {
					notes = append(notes, fmt.Sprintf("write %s: %v", st.Command, d))
				} else {
					notes = append(notes, fmt.Sprintf("write %s: exit status %d: %s", st.Command, res.ExitStatus, text))
				}
			}
		}
	}
	return strings.Join(notes, "; "), nil
}

var remoteReadSmall = remote.ReadOptions{MaxFileBytes: 1 << 20}
var remoteRunSmall = remote.RunOptions{MaxOutputBytes: 1 << 20}

// evaluateFacts turns probed facts into the preflight answer via kconfig.
func evaluateFacts(f targetFacts) PreflightResult {
	p := PreflightResult{Kernel: f.Kernel, ConfigSource: f.ConfigSource, ConfigDigest: digest(f.Config), Notes: f.Notes, MountedDebugfs: f.MountedDebugfs, CountThreshold: f.CountThreshold, AllocCallsCaches: f.OwnerCaches}
	facts := kconfig.Facts{
		ConfigSource:       f.ConfigSource,
		KernelRelease:      f.Kernel,
		Cmdline:            f.Cmdline,
		DebugfsMounted:     f.DebugfsMount,
		KmemleakFileExists: f.KmemleakFile,
		KmemleakWriteErr:   f.ScanOffError,
		SlabinfoReadable:   f.SlabinfoError == "",
		StoreUserCaches:    f.StoreUser,
		SlabCaches:         f.SlabCaches,
		MergedCaches:       max(f.MergedCaches, 0),
		AllocinfoReadable:  f.AllocinfoReadable,
		MemProfiling:       f.MemProfiling,
		PageOwnerStacks:    f.PageOwnerStacks,
	}
	if f.Config != nil {
		cfg, err := kconfig.Parse(f.Config)
		if err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("kernel config from %s did not parse: %v", f.ConfigSource, err))
		} else {
			facts.Config = cfg
		}
	}
	if f.ConfigError != "" {
		p.Notes = append(p.Notes, f.ConfigError)
	}
	// scan=off stopped a scan thread unless the kernel was built without
	// one (DEBUG_KMEMLEAK_AUTO_SCAN=n; kernels before the option always had it).
	if f.KmemleakFile && f.ScanOffError == "" {
		p.StoppedAutoScan = facts.Config["CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN"] != "n"
	}
	if f.DebugfsNote != "" {
		p.Notes = append(p.Notes, "mount debugfs: "+f.DebugfsNote)
	}
	rep := kconfig.Evaluate(facts)
	p.Ready = rep.Ready
	for _, c := range rep.Checks {
		p.Checks = append(p.Checks, report.Check{Name: c.Name, Status: c.Status, Seen: c.Seen, Remediation: c.Remediation})
	}
	return p
}
