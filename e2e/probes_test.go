package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dentryChurn is a target workload that looks up names that do not exist
// under /sys, 300 a second: kernfs keeps a negative dentry for each, so the
// dentry cache and its allocation site grow steadily, and give it all back
// to drop_caches.
const dentryChurn = `i=0; while :; do j=0; while [ $j -lt 300 ]; do [ -e /sys/kernel/lg-$i ]; i=$((i+1)); j=$((j+1)); done; sleep 1; done`

// assertDentriesReclaimable checks that the end-of-run reclaim probe found
// the dentry cache's growth reclaimable and the run reported it so.
func assertDentriesReclaimable(t *testing.T, res soakResult) {
	t.Helper()
	reclaimable := 0
	for _, f := range res.report.Findings {
		if f.Verdict == "reclaimable" {
			reclaimable++
		}
	}
	if reclaimable == 0 {
		t.Errorf("no finding reclaimable under the dentry churn; findings: %s", res.summary())
	}
	var meta struct {
		Reclaim *struct {
			Results []struct {
				Kind, Subject string
				Reclaimable   bool
			} `json:"results"`
		} `json:"reclaim_probe"`
	}
	b, err := os.ReadFile(filepath.Join(res.runDir, "run.json"))
	if err != nil || json.Unmarshal(b, &meta) != nil || meta.Reclaim == nil {
		t.Fatalf("run.json has no reclaim_probe (%v)", err)
	}
	for _, r := range meta.Reclaim.Results {
		if r.Subject == "dentry" && r.Reclaimable {
			return
		}
	}
	t.Errorf("reclaim probe results %+v: want the dentry cache reclaimable", meta.Reclaim.Results)
}

// reloadProfile writes the qemu-rig profile with wlansim in reload_modules
// and returns its path.
func reloadProfile(t *testing.T) string {
	t.Helper()
	base, err := os.ReadFile(filepath.Join(moduleRoot(t), "testdata", "profiles", "qemu-rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(t.TempDir(), "qemu-rig-reload.yaml")
	reload := `
reload_modules:
  - module: wlansim
    # busybox init respawns wlansimd, which holds /dev/wlansim: retry until rmmod wins.
    unload: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do killall wlansimd 2>/dev/null; rmmod wlansim 2>/dev/null && exit 0; sleep 0.2; done; exit 1"]
    # the module parameters the rig booted with (wlansim.<param>=<value>), again.
    load: ["sh", "-c", "p=; for w in $(cat /proc/cmdline); do case $w in wlansim.*) p=\"$p ${w#wlansim.}\";; esac; done; insmod /lib/modules/wlansim.ko $p"]
`
	if err := os.WriteFile(profile, append(base, reload...), 0o600); err != nil {
		t.Fatal(err)
	}
	return profile
}

// assertHeldAtUnload checks that the reload probe unloaded and reloaded
// wlansim and that the kernel reported wlansim sites still holding memory,
// named in the report.
func assertHeldAtUnload(t *testing.T, res soakResult) {
	t.Helper()
	var meta struct {
		Reload []struct {
			Module             string `json:"module"`
			Unloaded, Reloaded bool
			Held               []struct {
				Func   string `json:"func"`
				Module string `json:"module"`
				Bytes  int64  `json:"bytes"`
			} `json:"held_at_unload"`
			Note string `json:"note"`
		} `json:"reload_probe"`
	}
	b, err := os.ReadFile(filepath.Join(res.runDir, "run.json"))
	if err != nil || json.Unmarshal(b, &meta) != nil || len(meta.Reload) != 1 {
		t.Fatalf("run.json reload_probe %+v (%v)", meta.Reload, err)
	}
	m := meta.Reload[0]
	if !m.Unloaded || !m.Reloaded {
		t.Fatalf("reload probe: unloaded %v, reloaded %v (%s)", m.Unloaded, m.Reloaded, m.Note)
	}
	held := false
	for _, h := range m.Held {
		if h.Module == "wlansim" && strings.HasPrefix(h.Func, "wlansim_") && h.Bytes > 0 {
			held = true
		}
	}
	if !held {
		t.Errorf("no wlansim site held memory at unload: %+v", m.Held)
	}
	for _, f := range res.report.Findings {
		for _, x := range append([]finding{f}, f.Evidence...) {
			if x.Kind == "allocinfo" && strings.Contains(x.Subject, "func:wlansim_") {
				return
			}
		}
	}
	t.Errorf("the report names no wlansim allocation site; findings: %s", res.summary())
}
