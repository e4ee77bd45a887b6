package rig

import (
	"os/exec"
	"path"
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
	// The allow list excuses the rig's plumbing and never the product.
	allowed := func(kind, subject string) bool {
		for _, a := range p.Allow {
			if ok, err := path.Match(a.Subject, subject); a.Kind == kind && err == nil && ok {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		kind, subject string
		want          bool
	}{
		{"slab", "kmemleak_object", true},
		{"process", "dropbear/45/836", false}, // the SSH session is the observer, left out by the harness
		{"slab", "wlansim_rxbuf", false},
		{"slab", "wlansim_pool", false},
		{"slab", "kmalloc-256", false},
		{"process", "wlansimd/40/176", false},
	} {
		if got := allowed(c.kind, c.subject); got != c.want {
			t.Errorf("allow list excuses %s %s: %v, want %v", c.kind, c.subject, got, c.want)
		}
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "wlantraffic"), traffic.Command[i+1]).CombinedOutput(); err != nil {
		t.Errorf("go build %s: %v\n%s", traffic.Command[i+1], err, out)
	}
}
