package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/internal/rig"
)

// TestRigRelease_APoolThatGrowsBelowTheFloorFailsAgainstTheLastRelease soaks
// one rig twice into one results store, rebooting it in between as a
// release is flashed: release A runs wlansim as it boots (its pool fills to
// its cap of 512 entries in the warm-up, then stays flat); release B's pool
// fills to 512 as fast, then keeps growing one 320-byte entry per 100
// frames (1 entry/s at 100 frames/s, ≈ 1.1 MiB/h) up to 692 entries: at
// most 56 KiB more, below the profile's 64 KiB slab floor however long the
// soak takes on a loaded host. Alone, B passes its own floors; with
// --baseline auto the gate fails it against release A, naming
// wlansim_pool: by its slope while the pool still grows at the end of the
// soak (4 min), by its level once it has stopped.
// `leakgate history` lists both releases with their verdicts.
//
// The growth is a referenced one (a list that is never pruned, which
// kmemleak cannot see), not wlansim's leak=1 error path: that path leaves
// unreferenced objects, and the kmemleak rule rightly calls any steady
// unreferenced growth a leak in a single run, whatever its size — such a
// leak is never "below the floor".
func TestRigRelease_APoolThatGrowsBelowTheFloorFailsAgainstTheLastRelease(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	vm := rig.Start(t, rig.BootOptions{AllowReboot: true})
	db := filepath.Join(t.TempDir(), "results.db")
	profile, policy := releaseProfile(t), releasePolicy(t)
	args := func(release string) []string {
		return []string{
			"--profile", profile, "--policy", policy,
			"--interval", "10s", "--duration", "4m", "--warmup", "40s",
			"--db", db, "--release", release, "--baseline", "auto",
		}
	}

	a := soak(t, vm, args("A")...)
	keepRunFolder(t, a.runDir)
	if a.exitCode != 0 || a.report.Verdict != "pass" {
		t.Fatalf("release A: exit %d, verdict %q, want a pass; findings: %s\n%s", a.exitCode, a.report.Verdict, a.summary(), a.output)
	}
	if got := comparisonMessage(t, a.runDir); got != "comparison: no baseline yet (no earlier passing run of this rig and profile)" {
		t.Errorf("release A's run.json comparison %q, want no baseline yet", got)
	}

	// Release B is flashed: the rig reboots (same ports, a new boot id) and
	// its pool grows on past A's cap once it has filled to it.
	old := bootID(ctx, t, vm)
	rebootGuest(ctx, t, vm)
	waitForNewBoot(ctx, t, vm, old)
	if out, err := sideRun(ctx, vm, "sh", "-c", `p=/sys/module/wlansim/parameters
(while [ "$(cat $p/pool_entries)" -lt 512 ]; do sleep 0.2; done
 echo 100 > $p/pool_grow_every; echo 692 > $p/pool_cap) </dev/null >/dev/null 2>&1 &`); err != nil {
		t.Fatalf("switch release B's pool on the rig: %v\n%s", err, out)
	}
	framesBefore, beforeAt := wlansimCounter(ctx, t, vm, "rx_frames"), time.Now()
	b := soak(t, vm, args("B")...)
	keepRunFolder(t, b.runDir)
	framesAfter, afterAt := wlansimCounter(ctx, t, vm, "rx_frames"), time.Now()
	entries := wlansimCounter(ctx, t, vm, "pool_entries")
	// Hand-computed: one 320-byte entry (wlansim_pool's object size in
	// /proc/slabinfo) per 100 frames received.
	framesPerSecond := float64(framesAfter-framesBefore) / afterAt.Sub(beforeAt).Seconds()
	wantMiBPerHour := framesPerSecond / 100 * 320 * 3600 / (1 << 20)
	t.Logf("release B: %.1f frames/s over the soak (%.2f MiB/h of pool), %d pool entries at the end", framesPerSecond, wantMiBPerHour, entries)
	if entries <= 512 {
		t.Fatalf("release B's pool holds %d entries at the end, want more than A's 512: is the RX traffic running?", entries)
	}

	// Alone, B passes: nothing it grew clears its own floors.
	for _, f := range b.report.Findings {
		if f.Verdict == checksLeak {
			t.Errorf("release B's single-run judgement has a leak: %s %s; findings: %s", f.Kind, f.Subject, b.summary())
		}
		if f.Kind == "slab" && f.Subject == "wlansim_pool" {
			t.Logf("release B's own judgement of wlansim_pool: %s", f.Verdict)
		}
	}
	// Against release A it fails, naming the pool's cache and release A.
	if b.exitCode == 0 || b.report.Verdict != "fail" {
		t.Fatalf("release B: exit %d, verdict %q, want a fail against release A\n%s", b.exitCode, b.report.Verdict, b.output)
	}
	msg := comparisonMessage(t, b.runDir)
	t.Logf("release B's comparison:\n%s", msg)
	idA, idB := filepath.Base(a.runDir), filepath.Base(b.runDir)
	head := regexp.MustCompile(`^release B against release A \(` + regexp.QuoteMeta(idA) + `\) on ` +
		regexp.QuoteMeta(vm.Spec()) + `: [1-9]\d* regressed, \d+ unknown, \d+ improved, \d+ same$`)
	lines := strings.Split(msg, "\n")
	if !head.MatchString(lines[0]) {
		t.Errorf("comparison headline %q, want release B against release A (%s) on %s with a regression", lines[0], idA, vm.Spec())
	}
	grows := regexp.MustCompile(`^  regressed: slab wlansim_pool grows (\d+(?:\.\d+)?) (KiB|MiB)/h, release A grew (-?\d+(?:\.\d+)? (?:MiB|KiB|B))/h on the same rig$`)
	sits := regexp.MustCompile(`^  regressed: slab wlansim_pool sits at (\d+(?:\.\d+)?) KiB after [^,]+, release A sat at (\d+(?:\.\d+)?) KiB on the same rig$`)
	var line string
	for _, l := range lines[1:] {
		switch m, n := grows.FindStringSubmatch(l), sits.FindStringSubmatch(l); {
		case m != nil:
			line = l
			got, _ := strconv.ParseFloat(m[1], 64)
			if m[2] == "KiB" {
				got /= 1024
			}
			if got < wantMiBPerHour*0.6 || got > wantMiBPerHour*1.4 {
				t.Errorf("the gate says wlansim_pool grows %.2f MiB/h; the frames received say %.2f MiB/h", got, wantMiBPerHour)
			}
		case n != nil:
			line = l
			// A's 512 entries × 320 B = 160 KiB; B's at most 692 = 216.25 KiB.
			levelB, _ := strconv.ParseFloat(n[1], 64)
			levelA, _ := strconv.ParseFloat(n[2], 64)
			if levelA < 160 || levelA > 165 || levelB <= levelA+32 || levelB > 216.25+5 {
				t.Errorf("the gate says wlansim_pool sits at %s KiB against %s KiB; the caps say at most 216.25 against 160", n[1], n[2])
			}
		}
	}
	if line == "" {
		t.Fatalf("no line \"  regressed: slab wlansim_pool grows … MiB/h, release A grew …/h on the same rig\" (or \"sits at …\") in release B's comparison:\n%s", msg)
	}
	if !strings.Contains(b.output, strings.TrimSpace(line)) {
		t.Errorf("the suite's output does not print the comparison's line %q:\n%s", line, b.output)
	}
	if _, err := os.Stat(filepath.Join(b.runDir, "comparison.html")); err != nil {
		t.Errorf("release B has no comparison.html: %v", err)
	}

	// The store's history lists both releases with their verdicts, and the
	// pool's slope across them.
	out, err := exec.CommandContext(ctx, leakgateBinary(t), "history", "--db", db, "--series", "slab/wlansim_pool").CombinedOutput()
	if err != nil {
		t.Fatalf("leakgate history: %v\n%s", err, out)
	}
	t.Logf("leakgate history:\n%s", out)
	rows := historyRows(t, string(out))
	if len(rows) != 2 {
		t.Fatalf("history has %d runs, want releases A and B:\n%s", len(rows), out)
	}
	for i, want := range []struct{ release, run, verdict string }{{"A", idA, "pass"}, {"B", idB, "fail"}} {
		r := rows[i]
		if r.release != want.release || r.run != want.run || r.rig != vm.Spec() || r.profile != "qemu-rig-release" || r.verdict != want.verdict {
			t.Errorf("history row %d = %+v, want release %s, run %s, rig %s, profile qemu-rig-release, verdict %s",
				i+1, r, want.release, want.run, vm.Spec(), want.verdict)
		}
	}
}

// comparisonMessage is what run.json records the comparison said.
func comparisonMessage(t *testing.T, runDir string) string {
	t.Helper()
	var meta struct {
		Comparison *struct {
			Message string `json:"message"`
		} `json:"comparison"`
	}
	b, err := os.ReadFile(filepath.Join(runDir, "run.json"))
	if err != nil || json.Unmarshal(b, &meta) != nil || meta.Comparison == nil {
		t.Fatalf("run.json in %s has no comparison (%v)", runDir, err)
	}
	return meta.Comparison.Message
}

// keepRunFolder copies a run folder into $LEAKGATE_RIG_KEEP when it is
// set, so the real series outlive the test (checks/compare's testdata).
func keepRunFolder(t *testing.T, runDir string) {
	t.Helper()
	keep := os.Getenv("LEAKGATE_RIG_KEEP")
	if keep == "" || runDir == "" {
		return
	}
	if out, err := exec.Command("cp", "-a", runDir, keep).CombinedOutput(); err != nil {
		t.Errorf("keep %s in %s: %v\n%s", runDir, keep, err, out)
	}
}

// releaseProfile is the qemu-rig profile under its own name without the
// interface cycle: resetting the pool every 2 minutes would cut the growth
// under test. The comparison's minimum changes sit below the single-run
// floors, as the defaults' slope minimum does (16 KiB/h against a 1 MiB
// floor over 11 h, ≈ 93 KiB/h): here the slab floor is 64 KiB over the
// 60 s judged (≈ 3.8 MiB/h), so 256 KiB/h; and the level minimum is half
// the floor, 32 KiB, so that a pool whose whole extra growth stays below
// the floor still counts once it has stopped growing.
func releaseProfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "testdata", "profiles", "qemu-rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	profile := string(b)
	for _, cut := range []struct{ old, new string }{
		{"name: qemu-rig\n", "name: qemu-rig-release\n"},
		{`  - name: iface-cycle
    side: target
    every: 2m
    command: ["sh", "-c", "echo 1 > /sys/module/wlansim/parameters/reset_pool"]
`, ""},
	} {
		if strings.Count(profile, cut.old) != 1 {
			t.Fatalf("testdata/profiles/qemu-rig.yaml changed: %q is not in it once; update releaseProfile", cut.old)
		}
		profile = strings.Replace(profile, cut.old, cut.new, 1)
	}
	profile += `
comparison:
  min_slope_change_bytes_per_hour: 262144
  min_level_change_bytes: 32768
`
	path := filepath.Join(t.TempDir(), "qemu-rig-release.yaml")
	if err := os.WriteFile(path, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// releasePolicy scales the exhaustion horizon with the soak's clock. The
// default (30 days: a gateway's uptime) is meant for a soak sampled every
// 10 min; this one samples every 5 s, 120 times faster, so every rate it
// sees is 120 times a real soak's and a month of uptime is 6 h. Without
// this, any growth the comparison can measure in 2 min on a 512 MiB rig
// would exhaust MemAvailable within 30 days at that rate and be a leak on
// its own.
func releasePolicy(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "release-policy.yaml")
	if err := os.WriteFile(path, []byte("exhaustion_horizon: 6h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wlansimCounter reads one of wlansim's read-only counters.
func wlansimCounter(ctx context.Context, t *testing.T, vm *rig.VM, name string) int {
	t.Helper()
	out, err := sideRun(ctx, vm, "cat", "/sys/module/wlansim/parameters/"+name)
	if err != nil {
		t.Fatalf("read wlansim's %s: %v\n%s", name, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("wlansim's %s %q: %v", name, out, err)
	}
	return n
}

type historyRow struct {
	release, run, rig, profile, verdict string
}

// historyRows parses `leakgate history`'s table: STARTED (date and time),
// RELEASE, RUN, RIG, PROFILE, VERDICT, then the series' columns.
func historyRows(t *testing.T, out string) []historyRow {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "STARTED") {
		t.Fatalf("history has no header:\n%s", out)
	}
	var rows []historyRow
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 7 {
			t.Fatalf("history line %q: want date, time, release, run, rig, profile, verdict", l)
		}
		rows = append(rows, historyRow{release: f[2], run: f[3], rig: f[4], profile: f[5], verdict: f[6]})
	}
	return rows
}

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
	cliOut  []byte
)

// leakgateBinary compiles cmd/leakgate once for all tests of this package.
func leakgateBinary(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		cliBin = filepath.Join(binDir, "leakgate")
		cmd := exec.Command("go", "build", "-o", cliBin, "./cmd/leakgate")
		cmd.Dir = moduleRoot(t)
		cliOut, cliErr = cmd.CombinedOutput()
	})
	if cliErr != nil {
		t.Fatalf("build cmd/leakgate: %v\n%s", cliErr, cliOut)
	}
	return cliBin
}
