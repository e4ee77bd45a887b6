package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
)

func TestSoak_WorkloadsRunLogAndStop(t *testing.T) {
	t.Parallel()
	hostMarker := filepath.Join(t.TempDir(), "host-env")
	profile := &Profile{
		Name: "test",
		Workloads: []Workload{
			{Name: "traffic", Side: SideHost, OnExit: OnExitRestart,
				Command: []string{"sh", "-c", `echo "host=$LEAKGATE_TARGET_HOST extra=$EXTRA" > "$1"; echo traffic-started; exec sleep 3600`, "sh", hostMarker},
				Env:     map[string]string{"EXTRA": "x1"}},
			{Name: "daemon", Side: SideTarget, OnExit: OnExitRestart,
				Command: []string{"sh", "-c", `echo daemon-started; exec sleep 3600`}},
			{Name: "reload", Side: SideTarget, Every: 2 * time.Hour, OnExit: OnExitIgnore,
				Command: []string{"sh", "-c", `echo reload-ran`}},
		},
	}
	run, _ := soakFor(t, scenario{}, func(c *Config) {
		c.Profile = profile
		c.TargetHost = "ap-under-test"
	})

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	env, err := os.ReadFile(hostMarker)
	if err != nil || strings.TrimSpace(string(env)) != "host=ap-under-test extra=x1" {
		t.Errorf("host workload saw %q (%v), want LEAKGATE_TARGET_HOST and its env", env, err)
	}
	logs := map[string]string{}
	for _, name := range []string{"traffic", "daemon", "reload"} {
		b, err := os.ReadFile(filepath.Join(run.Dir, WorkloadsDir, name+".log"))
		if err != nil {
			t.Errorf("no log for workload %s: %v", name, err)
		}
		logs[name] = string(b)
	}
	if !strings.Contains(logs["traffic"], "traffic-started") || !strings.Contains(logs["daemon"], "daemon-started") {
		t.Errorf("background output not logged:\ntraffic: %s\ndaemon: %s", logs["traffic"], logs["daemon"])
	}
	// Every 2 h in a 12 h soak: at 2, 4, 6, 8, 10 and 12 h (the last one may
	// fall at the end); the sample loop owns the timing, so the count is exact.
	n := 0
	for _, line := range strings.Split(logs["reload"], "\n") {
		if line == "reload-ran" {
			n++
		}
	}
	if n < 5 || n > 6 {
		t.Errorf("periodic action ran %d times, want 5 or 6:\n%s", n, logs["reload"])
	}
	if run.Meta.Workloads == nil || len(run.Meta.Workloads) != 3 {
		t.Errorf("run.json workloads %v, want the three names", run.Meta.Workloads)
	}
}

func TestSoak_WorkloadThatDiesWithOnExitFailEndsTheRun(t *testing.T) {
	t.Parallel()
	profile := &Profile{Name: "test", Workloads: []Workload{
		{Name: "fragile", Side: SideHost, OnExit: OnExitFail, Command: []string{"sh", "-c", "echo dying; exit 3"}},
	}}
	run, _ := soakFor(t, scenario{}, func(c *Config) { c.Profile = profile })

	if run.Meta.Status != verdict.Error || !strings.Contains(run.Meta.Error, "fragile") || !strings.Contains(run.Meta.Error, "on_exit: fail") {
		t.Fatalf("status %q error %q: want error naming the workload and its on_exit rule", run.Meta.Status, run.Meta.Error)
	}
	b, _ := os.ReadFile(filepath.Join(run.Dir, WorkloadsDir, "fragile.log"))
	if !strings.Contains(string(b), "dying") || !strings.Contains(string(b), "exit status 3") {
		t.Errorf("log lacks the output and the exit status:\n%s", b)
	}
}
