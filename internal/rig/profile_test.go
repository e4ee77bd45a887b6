package rig

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/leakgate/leakgate/harness"
)

func TestTheQemuRigProfileLoadsAndItsTrafficCommandBuilds(t *testing.T) {
	dir, err := ScriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := harness.LoadProfile(filepath.Join(dir, "..", "profiles", "qemu-rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.OwnModules, "wlansim") {
		t.Errorf("own_modules = %q, want wlansim", p.OwnModules)
	}
	var traffic *harness.Workload
	for i := range p.Workloads {
		if p.Workloads[i].Name == "rx-traffic" {
			traffic = &p.Workloads[i]
		}
	}
	if traffic == nil || traffic.Side != harness.SideHost {
		t.Fatalf("no host-side rx-traffic workload in %+v", p.Workloads)
	}
	// The command is `go run <package> ...`: the package must build.
	i := slices.Index(traffic.Command, "run")
	if traffic.Command[0] != "go" || i < 0 || i+1 >= len(traffic.Command) {
		t.Fatalf("rx-traffic command %q is not go run <package>", traffic.Command)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "wlantraffic"), traffic.Command[i+1]).CombinedOutput(); err != nil {
		t.Errorf("go build %s: %v\n%s", traffic.Command[i+1], err, out)
	}
}
