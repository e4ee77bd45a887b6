package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/internal/rig"
)

// These tests need the reference rig. They build it (cached) and boot it;
// when it cannot be built or booted they fail, never skip.

// TestRigSoak_DriverAndDaemonLeaksAreNamed soaks a rig whose driver leaks one
// RX buffer in 100 and whose daemon leaks 512 bytes per request: the suite
// must fail, naming the driver's cache with a culprit in wlansim and the
// daemon as a process finding.
func TestRigSoak_DriverAndDaemonLeaksAreNamed(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{
		ModuleParams:    map[string]string{"leak": "1", "leak_every": "100"},
		DaemonLeakBytes: 512,
	})
	res := soak(t, vm, "--duration", "5m", "--profile", reloadProfile(t))

	if res.exitCode == 0 {
		t.Fatalf("the suite passed on a leaking rig\n%s", res.output)
	}
	if res.report.Verdict != "fail" {
		t.Fatalf("report.json verdict = %q, want fail\n%s", res.report.Verdict, res.output)
	}
	slabLeak := res.find("slab", checksLeak)
	if slabLeak == nil {
		t.Fatalf("no slab leak finding; findings: %s", res.summary())
	}
	if !strings.Contains(slabLeak.Subject, "wlansim") && !strings.HasPrefix(slabLeak.Subject, "kmalloc") {
		t.Errorf("slab leak subject = %q, want the driver's cache or its kmalloc bucket", slabLeak.Subject)
	}
	culprit := res.culpritOf(slabLeak)
	if !strings.HasPrefix(culprit, "wlansim_") {
		t.Errorf("slab leak culprit = %q, want a wlansim function; findings: %s", culprit, res.summary())
	}
	if p := res.find("process", checksLeak); p == nil || !strings.Contains(p.Subject, "wlansimd") {
		t.Errorf("no process leak naming wlansimd; findings: %s", res.summary())
	}
	if !strings.Contains(res.output, "culprit wlansim_") {
		t.Errorf("the failure message does not name the culprit:\n%s", res.output)
	}
	if _, err := os.Stat(filepath.Join(res.runDir, "report.html")); err != nil {
		t.Errorf("no report.html: %v", err)
	}
	// The end-of-run reload probe: the leaked RX buffers are still held
	// when wlansim is unloaded, and the kernel names their site.
	assertHeldAtUnload(t, res)
}

// TestRigSoak_CleanRigPasses soaks a rig with the leak off but the benign
// pool, interface cycling, the RX page and fragment paths (pages freed as
// they are used) and a dentry churn on, with allocinfo and page_owner read
// and the fast grid at 2 s: no false alarm and no early stop, kmemleak's own
// metadata is not called a leak, and the dentry growth is reclaimable.
func TestRigSoak_CleanRigPasses(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{ModuleParams: map[string]string{"rx_pages": "1", "rx_frags": "1"}})
	res := soak(t, vm, "--fast-interval", "2s", "--workload", dentryChurn)

	if res.exitCode != 0 || res.report.Verdict != "pass" {
		t.Fatalf("clean rig: exit %d, verdict %q, want a pass; findings: %s\n%s",
			res.exitCode, res.report.Verdict, res.summary(), res.output)
	}
	for _, f := range res.report.Findings {
		if f.Subject == "kmemleak_object" && f.Verdict == checksLeak {
			t.Errorf("kmemleak_object growth was called a leak")
		}
	}
	// The dropbear session serving the harness is the observer, not judged;
	// the dropbear listener (init's child) is judged like any process.
	var session string
	for _, o := range res.report.Observer {
		if o.Name == "dropbear" {
			session = "dropbear/" + strconv.Itoa(o.PID) + "/"
		}
	}
	if session == "" {
		t.Fatalf("report.json names no dropbear session as the observer: %+v", res.report.Observer)
	}
	listener := false
	procCSV, err := os.ReadFile(filepath.Join(res.runDir, "series", "process.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(procCSV), "\n") {
		if !strings.HasPrefix(line, "dropbear/") {
			continue
		}
		if strings.HasPrefix(line, session) {
			t.Fatalf("the harness's own session %s was sampled as a process: %s", session, line)
		}
		listener = true
	}
	if !listener {
		t.Errorf("the dropbear listener was not sampled (series/process.csv has no dropbear row)")
	}
	for _, name := range []string{"allocinfo.csv", "page_owner.csv"} {
		b, err := os.ReadFile(filepath.Join(res.runDir, "series", name))
		if err != nil || strings.Count(string(b), "\n") < 10 {
			t.Errorf("series/%s: %d lines (%v): the page-level source was not sampled", name, strings.Count(string(b), "\n"), err)
		}
	}
	assertDentriesReclaimable(t, res)
}

// TestRigSoak_KmemleakOffFailsPreflight boots with kmemleak=off: the suite
// must fail in preflight and say how to turn kmemleak on.
func TestRigSoak_KmemleakOffFailsPreflight(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{Cmdline: []string{"kmemleak=off"}})
	res := soak(t, vm)

	if res.exitCode == 0 {
		t.Fatalf("the suite passed with kmemleak off\n%s", res.output)
	}
	if !strings.Contains(res.output, "kmemleak=on") {
		t.Errorf("the failure does not give the remediation kmemleak=on:\n%s", res.output)
	}
}

const checksLeak = "leak"

type finding struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Verdict string `json:"verdict"`
	Culprit *struct {
		Function string `json:"function"`
		Module   string `json:"module"`
	} `json:"culprit"`
	Evidence []finding `json:"evidence"`
}

type reportJSON struct {
	Verdict        string    `json:"verdict"`
	Samples        int       `json:"samples"`
	PlannedSamples int       `json:"planned_samples"`
	Findings       []finding `json:"findings"`
	Observer       []struct {
		PID  int    `json:"pid"`
		Name string `json:"name"`
	} `json:"observer"`
}

type soakResult struct {
	exitCode int
	output   string
	runDir   string
	report   reportJSON
}

func (r soakResult) find(kind, verdict string) *finding {
	for i := range r.report.Findings {
		f := &r.report.Findings[i]
		if f.Kind == kind && f.Verdict == verdict {
			return f
		}
	}
	return nil
}

// culpritOf is the finding's own culprit or that of its corroborating evidence.
func (r soakResult) culpritOf(f *finding) string {
	if f.Culprit != nil {
		return f.Culprit.Function
	}
	for _, e := range f.Evidence {
		if e.Culprit != nil {
			return e.Culprit.Function
		}
	}
	return ""
}

func (r soakResult) summary() string {
	var b strings.Builder
	for _, f := range r.report.Findings {
		b.WriteString("\n  " + f.Verdict + " " + f.Kind + " " + f.Subject)
		if c := r.culpritOf(&f); c != "" {
			b.WriteString(" culprit " + c)
		}
	}
	return b.String()
}

// soak runs the wifi_soak suite against vm with the qemu-rig profile and
// returns its exit code, output and the run's report.json. The preflight
// failure case has no report.json; report stays empty then.
func soak(t *testing.T, vm *rig.VM, extra ...string) soakResult {
	t.Helper()
	root := moduleRoot(t)
	out := t.TempDir()
	args := []string{
		"-test.timeout=30m", "--ginkgo.no-color",
		"--target", vm.Spec(),
		"--identity", vm.IdentityFile(),
		"--known-hosts", vm.KnownHostsFile(),
		"--profile", filepath.Join(root, "testdata", "profiles", "qemu-rig.yaml"),
		"--out", out,
	}
	args = append(args, extra...)
	cmd := exec.Command(suiteBinary(t), args...)
	cmd.Dir = filepath.Join(root, "suites", "wifi_soak")
	cmd.Env = append(os.Environ(), vm.Env()...)
	outBytes, err := cmd.CombinedOutput()
	res := soakResult{output: string(outBytes)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.exitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run the suite: %v\n%s", err, outBytes)
	}
	reports, _ := filepath.Glob(filepath.Join(out, "*", "report.json"))
	if len(reports) > 1 {
		t.Fatalf("want one run folder, got %v", reports)
	}
	if len(reports) == 1 {
		res.runDir = filepath.Dir(reports[0])
		data, err := os.ReadFile(reports[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &res.report); err != nil {
			t.Fatalf("report.json: %v", err)
		}
	}
	t.Logf("suite output:\n%s", outBytes)
	return res
}
