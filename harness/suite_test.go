package harness

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/kconfig"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/onsi/ginkgo/v2/types"
)

// The wifi_soak suite fails without a --target (a gate that runs nowhere
// must not pass), so make test leaves it out of its go test list and these
// tests build and run it the way CI does, asserting on its Ginkgo JSON report.

// buildSuite compiles suites/wifi_soak into a test binary.
func buildSuite(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wifi_soak.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, "./suites/wifi_soak")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the suite: %v\n%s", err, out)
	}
	return bin
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// runSuite runs the suite binary with args and returns its Ginkgo JSON report.
func runSuite(t *testing.T, bin string, args ...string) (types.Report, string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	args = append([]string{"-test.timeout=5m", "--ginkgo.json-report=" + report, "--ginkgo.no-color"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Join(moduleRoot(t), "suites", "wifi_soak")
	cmd.Env = withoutEnv(os.Environ(), "SSH_AUTH_SOCK")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errorsAs(err, &ee) {
		t.Fatalf("run the suite: %v\n%s", err, out)
	}
	data, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("the suite wrote no JSON report: %v\n%s", rerr, out)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("JSON report: %v (%d suites)\n%s", err, len(reports), data)
	}
	return reports[0], string(out)
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

// specByText finds the spec whose leaf text starts with prefix.
func specByText(r types.Report, prefix string) (types.SpecReport, bool) {
	for _, s := range r.SpecReports {
		if strings.HasPrefix(s.LeafNodeText, prefix) {
			return s, true
		}
	}
	return types.SpecReport{}, false
}

// TestSuite builds the suite once and runs it the ways CI does.
func TestSuite(t *testing.T) {
	t.Parallel()
	bin := buildSuite(t)
	t.Run("fails in preflight on this machine through the real sshd", func(t *testing.T) {
		suiteFailsInPreflightOnThisMachine(t, bin)
	})
	t.Run("without a target fails saying --target is required", func(t *testing.T) {
		suiteWithoutTargetFails(t, bin)
	})
	t.Run("bad flags fail as one configuration error, every problem on its own line, before any preflight", func(t *testing.T) {
		suiteBadFlagsAreAConfigurationError(t, bin)
	})
	t.Run("a soak below the MemAvailable floor fails with the diagnosis and evidence", func(t *testing.T) {
		t.Parallel()
		suiteSoakFailsWithDiagnosis(t, bin)
	})
	t.Run("ginkgo -p soaks one rig per process without cross-talk", func(t *testing.T) {
		t.Parallel()
		suiteManyRigsInParallel(t)
	})
}

// lowMemoryRig lays out the captured rig tree with MemAvailable below the
// policy's floor, so a soak there fails at its first judged sample.
func lowMemoryRig(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	tree := &scriptedTarget{t: t, root: root, clock: newFakeClock(), sc: scenario{interval: time.Minute}}
	tree.writeTree(0)
	low := strings.Replace(captured(t, "meminfo"), "MemAvailable:     475884 kB", "MemAvailable:       8000 kB", 1)
	if low == captured(t, "meminfo") {
		t.Fatal("the captured meminfo changed; update the MemAvailable line this test lowers")
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte(low), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// suiteManyRigsInParallel runs the ginkgo CLI with two processes and
// --targets naming two rigs: each process soaks its own rig into its own
// run folder.
func suiteManyRigsInParallel(t *testing.T) {
	ginkgoBin := filepath.Join(t.TempDir(), "ginkgo")
	build := exec.Command("go", "build", "-o", ginkgoBin, "github.com/onsi/ginkgo/v2/ginkgo")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the ginkgo CLI: %v\n%s", err, out)
	}
	rigs := []string{lowMemoryRig(t), lowMemoryRig(t)}
	out := filepath.Join(t.TempDir(), "out")
	reportFile := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(ginkgoBin, "-p", "--procs", "2", "--tags", "soak", "--no-color", "--json-report", reportFile, "./suites/wifi_soak", "--",
		"--targets", "local:"+rigs[0]+",local:"+rigs[1], "--duration", "40s", "--interval", "10s", "--out", out)
	cmd.Dir = moduleRoot(t)
	cmd.Env = withoutEnv(os.Environ(), "SSH_AUTH_SOCK")
	console, _ := cmd.CombinedOutput()

	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, console)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("JSON report: %v\n%s", err, console)
	}
	failedSoaks := 0
	for _, s := range reports[0].SpecReports {
		if strings.HasPrefix(s.LeafNodeText, "soak") && s.State == types.SpecStateFailed && strings.Contains(s.Failure.Message, "MemAvailable") {
			failedSoaks++
		}
	}
	if failedSoaks != 2 {
		t.Errorf("%d soak specs failed on MemAvailable, want 2 (one per rig):\n%s", failedSoaks, console)
	}
	runs, _ := filepath.Glob(filepath.Join(out, "*", RunFile))
	if len(runs) != 2 {
		t.Fatalf("%d run folders, want 2", len(runs))
	}
	seen := map[string]bool{}
	for _, rf := range runs {
		r, err := LoadRun(filepath.Dir(rf))
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Meta.Target] = true
		if !strings.Contains(filepath.Base(filepath.Dir(rf)), safeName(r.Meta.Target)) {
			t.Errorf("run folder %s holds the run of %s", filepath.Dir(rf), r.Meta.Target)
		}
	}
	if !seen["local:"+rigs[0]] || !seen["local:"+rigs[1]] {
		t.Errorf("targets soaked %v, want both rigs", seen)
	}
}

// suiteSoakFailsWithDiagnosis runs the whole suite, in real time, against a
// rooted local target serving the rig's captured 6.12 tree whose
// MemAvailable is below the policy's floor: preflight passes, the soak ends
// at its first judged sample, and the Ginkgo report carries the message,
// the report entries and the final evidence.
func suiteSoakFailsWithDiagnosis(t *testing.T, bin string) {
	root := lowMemoryRig(t)
	out := filepath.Join(t.TempDir(), "out")

	rep, console := runSuite(t, bin, "--target", "local:"+root, "--duration", "40s", "--interval", "10s", "--out", out,
		"--ginkgo.poll-progress-after=2s", "--ginkgo.poll-progress-interval=2s")

	pre, _ := specByText(rep, "preflight")
	if pre.State != types.SpecStatePassed {
		t.Fatalf("preflight %v on the captured rig tree: %s\n%s", pre.State, pre.Failure.Message, console)
	}
	soak, ok := specByText(rep, "soak")
	if !ok || soak.State != types.SpecStateFailed {
		t.Fatalf("soak spec %v, want failed:\n%s", soak.State, console)
	}
	if !strings.Contains(soak.Failure.Message, "MemAvailable") {
		t.Errorf("the failure message does not name MemAvailable:\n%s", soak.Failure.Message)
	}
	var progress bool
	for _, pr := range soak.ProgressReports {
		for _, a := range pr.AdditionalReports {
			if strings.HasPrefix(a, "leakgate: ") {
				progress = true
			}
		}
	}
	if !progress {
		t.Errorf("no Ginkgo progress report carried the soak's progress line")
	}
	entries := map[string]string{}
	for _, e := range soak.ReportEntries {
		entries[e.Name] = e.StringRepresentation()
	}
	dir := entries["leakgate run folder"]
	if dir == "" || !strings.HasPrefix(entries["leakgate verdict"], "fail") {
		t.Fatalf("report entries %v: want the run folder and a fail verdict", entries)
	}
	for _, f := range []string{"report.json", "report.html", "samples.jsonl", "evidence/final-dmesg.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s: %v", f, err)
		}
	}
}

func suiteFailsInPreflightOnThisMachine(t *testing.T, bin string) {
	d := startTestSSHD(t)
	hadDebugfs := debugfsMounted(t)
	t.Cleanup(func() {
		// Leave the machine as found: the preflight mounts debugfs when it can.
		if !hadDebugfs && debugfsMounted(t) {
			_ = exec.Command("umount", "/sys/kernel/debug").Run()
		}
	})

	outDir := filepath.Join(t.TempDir(), "out")
	rep, out := runSuite(t, bin,
		"--target", d.spec(), "--identity", d.clientKey, "--known-hosts", d.knownHosts, "--ssh-config", "none",
		"--duration", "1h", "--interval", "10m", "--out", outDir, "--db", "off")

	if rep.SuiteSucceeded {
		t.Fatalf("the suite passed on a kernel without kmemleak; output:\n%s", out)
	}
	pre, ok := specByText(rep, "preflight")
	if !ok {
		t.Fatalf("no preflight spec in the report:\n%s", out)
	}
	if pre.State != types.SpecStateFailed {
		t.Fatalf("preflight spec state %v, want failed; output:\n%s", pre.State, out)
	}
	msg := pre.Failure.Message
	for _, want := range []string{"target not ready for leak detection", "CONFIG_DEBUG_KMEMLEAK", "fix: rebuild with CONFIG_DEBUG_KMEMLEAK=y"} {
		if !strings.Contains(msg, want) {
			t.Errorf("preflight failure lacks %q:\n%s", want, msg)
		}
	}
	var entry bool
	for _, e := range pre.ReportEntries {
		if e.Name == "preflight" && strings.Contains(e.StringRepresentation(), `"ready": false`) {
			entry = true
		}
	}
	if !entry {
		t.Errorf("no preflight report entry with the checks in the JSON report")
	}
	soak, ok := specByText(rep, "soak")
	if !ok || soak.State != types.SpecStateSkipped {
		t.Errorf("soak spec state %v, want skipped after the failed preflight", soak.State)
	}
	// The failed preflight leaves a run folder like every other run.
	runs, _ := filepath.Glob(filepath.Join(outDir, "*", RunFile))
	if len(runs) != 1 {
		t.Fatalf("%d run folders after a failed preflight, want 1:\n%s", len(runs), out)
	}
	dir := filepath.Dir(runs[0])
	var rj struct {
		Verdict   string            `json:"verdict"`
		Error     string            `json:"error"`
		Preflight []json.RawMessage `json:"preflight"`
		Meta      map[string]string `json:"meta"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("no report.json after a failed preflight: %v", err)
	}
	if err := json.Unmarshal(data, &rj); err != nil {
		t.Fatal(err)
	}
	if rj.Verdict != "error" || !strings.HasPrefix(rj.Error, "target not ready for leak detection: ") || !strings.Contains(rj.Error, "CONFIG_DEBUG_KMEMLEAK") {
		t.Errorf("report.json verdict %q error %q, want error: target not ready … CONFIG_DEBUG_KMEMLEAK", rj.Verdict, rj.Error)
	}
	if len(rj.Preflight) == 0 {
		t.Errorf("report.json has no preflight table")
	}
	if rj.Meta["evidence"] != filepath.Join(dir, EvidenceDir) {
		t.Errorf("report.json names the evidence folder %q, want %q", rj.Meta["evidence"], filepath.Join(dir, EvidenceDir))
	}
	r, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Meta.Status != verdict.Error || len(r.Meta.Preflight) == 0 {
		t.Errorf("run.json status %q with %d preflight checks, want error and the table", r.Meta.Status, len(r.Meta.Preflight))
	}
	var folderEntry bool
	for _, e := range pre.ReportEntries {
		if e.Name == "leakgate run folder" && e.StringRepresentation() == dir {
			folderEntry = true
		}
	}
	if !folderEntry {
		t.Errorf("the preflight spec's report entries do not name the run folder %s", dir)
	}
}

// suiteBadFlagsAreAConfigurationError runs the suite with three bad timing
// flags: the configuration spec fails with all three, each on its own
// line; the preflight never runs and no run folder is made.
func suiteBadFlagsAreAConfigurationError(t *testing.T, bin string) {
	outDir := filepath.Join(t.TempDir(), "out")

	rep, out := runSuite(t, bin, "--target", "local:"+t.TempDir(), "--interval", "1ns", "--fast-interval", "10ms", "--warmup", "13h", "--out", outDir)

	conf, ok := specByText(rep, "configuration")
	if !ok || conf.State != types.SpecStateFailed {
		t.Fatalf("configuration spec %v, want failed:\n%s", conf.State, out)
	}
	want := "configuration error (the target was not contacted); fix these flags or profile values:\n" +
		"--interval 1ns: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot\n" +
		"--fast-interval 10ms: want 0 (off) or at least 1s\n" +
		"--warmup 13h0m0s: want at least 0 and shorter than --duration 12h0m0s"
	if conf.Failure.Message != want {
		t.Errorf("configuration failure:\n%s\nwant:\n%s", conf.Failure.Message, want)
	}
	for _, leaf := range []string{"preflight", "soak"} {
		if s, ok := specByText(rep, leaf); !ok || s.State != types.SpecStateSkipped {
			t.Errorf("%s spec %v, want skipped after a configuration error", leaf, s.State)
		}
	}
	if _, err := os.Stat(outDir); !os.IsNotExist(err) {
		t.Errorf("a configuration error made %s (err %v); nothing must be written", outDir, err)
	}
}

func suiteWithoutTargetFails(t *testing.T, bin string) {

	rep, out := runSuite(t, bin)

	if rep.SuiteSucceeded {
		t.Fatalf("the suite passed without a target:\n%s", out)
	}
	conf, ok := specByText(rep, "configuration")
	if !ok || conf.State != types.SpecStateFailed || !strings.Contains(conf.Failure.Message, "\n--target is required") {
		t.Errorf("configuration spec %v (%q), want failed saying --target is required:\n%s", conf.State, conf.Failure.Message, out)
	}
	if pre, ok := specByText(rep, "preflight"); !ok || pre.State != types.SpecStateSkipped {
		t.Errorf("preflight spec %v, want skipped: a missing flag is not a preflight failure", pre.State)
	}
}

// testSSHD is this machine's OpenSSH sshd on a random loopback port, with
// its own host key and a client key allowed to log in as root.
type testSSHD struct {
	port                  int
	clientKey, knownHosts string
}

func (d *testSSHD) spec() string { return "ssh://root@127.0.0.1:" + strconv.Itoa(d.port) }

func startTestSSHD(t *testing.T) *testSSHD {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatalf("/usr/sbin/sshd is missing: run scripts/deps.sh (%v)", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host"))
	mustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "leakgate-test", "-f", filepath.Join(dir, "client"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	f := strings.Fields(string(hostPub))
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1])), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\nStrictModes no\nUsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nSubsystem sftp /usr/lib/openssh/sftp-server\nLogLevel ERROR\n",
		port, filepath.Join(dir, "host"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &testSSHD{port: port, clientKey: filepath.Join(dir, "client"), knownHosts: kh}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func debugfsMounted(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	return kconfig.DebugfsMounted(b, debugfsPath)
}
