package harness

// This file is the one place the harness calls into checks for snapshot
// paths, sample parsing, the kmemleak scan protocol, policy and judging.

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/meminfo"
	"github.com/leakgate/leakgate/checks/slab"
	"github.com/leakgate/leakgate/checks/trend"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/remote"
)

// Policy holds the judging thresholds (stand-in).
type Policy struct {
	Alpha float64 `json:"alpha" yaml:"alpha"`
}

// DefaultPolicy (stand-in).
func DefaultPolicy() Policy { return Policy{Alpha: 0.01} }

func profilePolicy(p *Profile) (Policy, error) { return DefaultPolicy(), nil }

// LoadPolicyFile (stand-in).
func LoadPolicyFile(path string, base Policy) (Policy, error) { return base, nil }

func snapshotPaths(own []string) []string {
	return []string{bootIDPath, uptimePath, slabinfoPath, "/proc/meminfo", kmemleakPath}
}

func newSample(i int, at time.Time, snap *remote.Snapshot, own []string) checks.Sample {
	smp := checks.Sample{Index: i, At: at, Errors: map[string]string{}}
	for p, e := range snap.Errors {
		smp.Errors[p] = e
	}
	smp.BootID = strings.TrimSpace(string(snap.Files[bootIDPath]))
	if f := strings.Fields(string(snap.Files[uptimePath])); len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			smp.Uptime = time.Duration(v * float64(time.Second))
		}
	}
	if b, ok := snap.Files[slabinfoPath]; ok {
		c, err := slab.ParseSlabinfo(b)
		if err != nil {
			smp.Errors[slabinfoPath] = err.Error()
		}
		smp.Slabs = c
	}
	if b, ok := snap.Files["/proc/meminfo"]; ok {
		m, err := meminfo.Parse(b)
		if err != nil {
			smp.Errors["/proc/meminfo"] = err.Error()
		}
		smp.Mem = m
	}
	if b, ok := snap.Files[kmemleakPath]; ok {
		rep, _ := kmemleak.Parse(bytes.NewReader(b), kmemleak.Options{OwnModules: own, GroupsOnly: true})
		smp.Leaks = rep.Groups
	}
	return smp
}

type scanStep struct {
	Write string
	Wait  time.Duration
}

func baselineScanSteps() []scanStep {
	return []scanStep{{Write: "scan=off"}, {Write: "scan"}, {Wait: 5 * time.Second}, {Write: "scan"}}
}

func sampleScanSteps() []scanStep {
	return []scanStep{{Write: "scan"}, {Wait: 5 * time.Second}, {Write: "scan"}}
}

// runScanSteps executes kmemleak writes and waits. A write refused by the
// kernel becomes a note on the sample; a lost link is an error.
func (s *soak) runScanSteps(ctx context.Context, steps []scanStep) (string, error) {
	var notes []string
	for _, st := range steps {
		if st.Wait > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-s.clock.After(st.Wait):
			}
			continue
		}
		// No timeout signal reaches the write: a killed scan aborts silently.
		sctx, cancel := context.WithTimeout(ctx, s.cfg.ScanTimeout)
		res, err := s.tgt.Run(sctx, []string{"sh", "-c", `echo "$1" > "$2"`, "sh", st.Write, kmemleakPath}, remote.RunOptions{})
		cancel()
		if err != nil {
			return "", fmt.Errorf("write %s to %s: %w", st.Write, kmemleakPath, err)
		}
		if res.ExitStatus != 0 {
			notes = append(notes, fmt.Sprintf("write %s: %s", st.Write, strings.TrimSpace(string(res.Stderr))))
		}
	}
	return strings.Join(notes, "; "), nil
}

var remoteReadSmall = remote.ReadOptions{MaxFileBytes: 1 << 20}
var remoteRunSmall = remote.RunOptions{MaxOutputBytes: 1 << 20}

// Judgement is the verdict on a run's samples.
type Judgement struct {
	findings []checks.Finding
	failed   bool
}

// Failed reports whether any finding is a leak.
func (j Judgement) Failed() bool { return j.failed }

// Findings are the judged signals, worst first.
func (j Judgement) Findings() []checks.Finding { return j.findings }

// Summary names the leaks in one line.
func (j Judgement) Summary() string {
	var parts []string
	for _, f := range j.findings {
		if f.Verdict == checks.VerdictLeak {
			parts = append(parts, fmt.Sprintf("%s %s leaks", f.Kind, f.Subject))
		}
	}
	return strings.Join(parts, "; ")
}

func (r *Run) judge(final bool) (bool, string) {
	var fs []checks.Finding
	for _, s := range r.series() {
		if s.Kind != checks.KindSlab && s.Kind != checks.KindKmemleak {
			continue
		}
		if len(s.Points) < 3 {
			continue
		}
		t0 := s.Points[0].At
		var ts, vs []float64
		for _, p := range s.Points {
			ts = append(ts, p.At.Sub(t0).Seconds())
			vs = append(vs, p.Value)
		}
		opts := trend.DefaultOptions()
		opts.Warmup = 0
		opts.MinPoints = 5
		res, err := trend.Analyze(ts, vs, opts)
		if err != nil {
			continue
		}
		v := checks.VerdictOK
		if res.Verdict == "leak" {
			v = checks.VerdictLeak
		}
		fs = append(fs, checks.Finding{Kind: s.Kind, Subject: s.Subject, Verdict: v, SlopePerHour: res.SlopePerHour, P: res.P, Growth: res.Growth, Samples: res.N, Rising: res.Rising, Reason: res.Reason})
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Verdict == checks.VerdictLeak && fs[j].Verdict != checks.VerdictLeak })
	j := Judgement{findings: fs}
	for _, f := range fs {
		if f.Verdict == checks.VerdictLeak {
			j.failed = true
		}
	}
	r.Judgement = j
	return false, ""
}

var _ = report.VerdictFail

func evaluateFacts(f probedFacts) PreflightResult {
	p := PreflightResult{Kernel: f.Kernel, ConfigSource: f.ConfigSource, ConfigDigest: digest(f.Config), Notes: f.Notes, Ready: true}
	add := func(name string, ok bool, seen, fix string) {
		st := report.CheckOK
		if !ok {
			st = report.CheckFail
			p.Ready = false
		}
		p.Checks = append(p.Checks, report.Check{Name: name, Status: st, Seen: seen, Remediation: fix})
	}
	add("kmemleak", f.KmemleakFile && f.ScanOffError == "", f.ScanOffError, "build with CONFIG_DEBUG_KMEMLEAK=y and boot with kmemleak=on")
	add("slabinfo", f.SlabinfoError == "", f.SlabinfoError, "build with CONFIG_SLUB_DEBUG=y and run as root")
	return p
}
