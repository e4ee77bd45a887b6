package harness

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
)

func TestLoadProfile_ShippedProfilesLoadAndMakeAPolicy(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "profiles", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range files {
		names[filepath.Base(f)] = true
	}
	for _, want := range []string{"openwrt-ap.yaml", "qemu-rig.yaml"} {
		if !names[want] {
			t.Errorf("testdata/profiles lacks %s", want)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := LoadProfile(f)
			if err != nil {
				t.Fatalf("LoadProfile: %v", err)
			}
			if p.Name+".yaml" != filepath.Base(f) {
				t.Errorf("name %q does not match the file name", p.Name)
			}
			if p.Interval <= 0 || p.Duration <= p.Interval || len(p.Workloads) == 0 {
				t.Errorf("interval %s, duration %s, %d workloads: want a usable soak plan", p.Interval, p.Duration, len(p.Workloads))
			}
			pol, err := profilePolicy(p)
			if err != nil {
				t.Fatalf("policy: %v", err)
			}
			if _, ok := pol.Allowed(checks.KindSlab, "kmemleak_object"); !ok {
				t.Errorf("kmemleak_object is not allowed; the profile's allow list was lost")
			}
		})
	}
}

func TestLoadProfile_OpenWrtAPHasTrafficReloadsAndChurn(t *testing.T) {
	p, err := LoadProfile(filepath.Join("..", "testdata", "profiles", "openwrt-ap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var host, reload, churn bool
	for _, w := range p.Workloads {
		cmd := strings.Join(w.Command, " ")
		switch {
		case w.Side == SideHost && strings.Contains(cmd, "iperf3 -c"):
			host = true
		case w.Side == SideTarget && w.Every > 0 && strings.Contains(cmd, "wifi up"):
			reload = true
		case w.Side == SideTarget && w.Every > 0 && strings.Contains(cmd, "hostapd_cli"):
			churn = true
		}
	}
	if !host || !reload || !churn {
		t.Errorf("iperf3 from the host %v, periodic wifi reload %v, client churn %v: want all", host, reload, churn)
	}
	pol, err := profilePolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Warmup != time.Hour {
		t.Errorf("policy warmup %s, want the profile's 1h", pol.Warmup)
	}
}

func TestParseProfile_RejectsWhatTheSoakCannotHonour(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"an unknown key is a typo, not ignored", "name: x\nworkloadz: []\n", "workloadz"},
		{"a workload without a side", "name: x\nworkloads:\n  - {name: a, command: [true]}\n", "side is required"},
		{"a workload name that is a path", "name: x\nworkloads:\n  - {name: ../a, side: host, command: [true]}\n", "name"},
		{"two workloads with one name", "name: x\nworkloads:\n  - {name: a, side: host, command: [true]}\n  - {name: a, side: host, command: [true]}\n", "used twice"},
		{"an on_exit that means nothing", "name: x\nworkloads:\n  - {name: a, side: host, command: [true], on_exit: retry}\n", "on_exit"},
		{"an empty command", "name: x\nworkloads:\n  - {name: a, side: target, command: []}\n", "command is required"},
		{"an allow entry without a reason", "name: x\nallow:\n  - {kind: slab, subject: dentry}\n", "reason"},
		{"a negative interval", "name: x\ninterval: -1m\n", "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseProfile([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseProfile_BadPolicyOverrideFailsThePolicy(t *testing.T) {
	p, err := ParseProfile([]byte("name: x\npolicy:\n  fdr: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := profilePolicy(p); err == nil || !strings.Contains(err.Error(), "fdr") {
		t.Errorf("profilePolicy error %v, want one about fdr", err)
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte("name: x\ninterval: 20s\nworkloads:\n  - {name: a, side: host, command: [sh, -c, 'true'], every: 1m}\n"))
	f.Add([]byte("name: y\npolicy: {fdr: 0.05}\nallow: [{kind: slab, subject: 'kmalloc-*', reason: r}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a parsed profile does not validate: %v", err)
		}
		for _, w := range p.Workloads {
			if !workloadName.MatchString(w.Name) || strings.Contains(w.Name, "/") {
				t.Fatalf("workload name %q reached the run folder unchecked", w.Name)
			}
		}
	})
}

func BenchmarkParseProfile(b *testing.B) {
	data := []byte("name: x\ninterval: 20s\nduration: 6m\nworkloads:\n  - {name: a, side: host, command: [sh, -c, 'true'], on_exit: restart}\n  - {name: b, side: target, every: 2m, command: [wifi, up]}\npolicy: {warmup: 1m}\nallow: [{kind: slab, subject: kmemleak_object, reason: r}]\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProfile(data); err != nil {
			b.Fatal(err)
		}
	}
}
