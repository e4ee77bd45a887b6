package checks

import (
	"errors"
	"testing"
	"time"
)

func TestDefaultPolicy_IsValid(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPolicy_OverridesOnlyGivenFields(t *testing.T) {
	base := DefaultPolicy()
	p, err := LoadPolicy([]byte("fdr: 0.05\nwarmup: 90m\nmin_growth_bytes:\n  slab: 2097152\n"), base)
	if err != nil {
		t.Fatal(err)
	}
	if p.FDR != 0.05 || p.Warmup != 90*time.Minute || p.MinGrowthBytes[KindSlab] != 2<<20 {
		t.Fatalf("overrides not applied: fdr=%v warmup=%v slab=%d", p.FDR, p.Warmup, p.MinGrowthBytes[KindSlab])
	}
	if p.MinGrowthBytes[KindProcess] != base.MinGrowthBytes[KindProcess] || p.MinSamples != base.MinSamples || p.PersistFraction != base.PersistFraction {
		t.Fatalf("fields not given changed: %+v", p)
	}
}

func TestLoadPolicy_EmptyDocumentKeepsBase(t *testing.T) {
	p, err := LoadPolicy(nil, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if p.FDR != DefaultPolicy().FDR || p.KmemleakMinScans != DefaultPolicy().KmemleakMinScans {
		t.Fatalf("empty YAML changed the policy: %+v", p)
	}
}

func TestLoadPolicy_RejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"an unknown key", "fdrr: 0.1\n"},
		{"an unknown nested key", "min_growth_bytes:\n  slabs: 1\n"},
		{"an FDR above one", "fdr: 1.5\n"},
		{"an early FDR looser than the final one", "early_stop_fdr: 0.5\n"},
		{"too few samples", "min_samples: 2\n"},
		{"a negative warm-up", "warmup: -1h\n"},
		{"a malformed duration", "warmup: soon\n"},
		{"a kmemleak rule of one scan", "kmemleak_min_scans: 1\n"},
		{"an allow rule without reason", "allow:\n  - kind: slab\n    subject: kmalloc-*\n"},
		{"an allow rule of an unknown kind", "allow:\n  - kind: disk\n    subject: x\n    reason: y\n"},
		{"an allow rule with a bad glob", "allow:\n  - kind: slab\n    subject: \"[\"\n    reason: y\n"},
		{"a negative floor", "min_growth_bytes:\n  process: -1\n"},
		{"a periodic drawdown above the growth", "periodic_drawdown: 1.5\n"},
		{"a negative periodic inflation", "periodic_max_inflation: -1\n"},
		{"an unknown early rule", "early_rule: cusum\n"},
		{"an early false-alarm bound of zero", "early_false_alarm: 0\n"},
		{"no series to split the early bound over", "early_series: 0\n"},
		{"a negative early horizon", "early_horizon: -1h\n"},
		{"a negative spacing of early looks", "early_look_every: -10m\n"},
		{"a negative retained budget", "retained_budget_floors: -1\n"},
		{"an infinite retained budget", "retained_budget_floors: .inf\n"},
		{"a retained budget under one floor", "retained_budget_floors: 0.5\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPolicy([]byte(tc.yaml), DefaultPolicy())
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("err = %v, want ErrPolicy", err)
			}
		})
	}
}

func TestPolicyAllowed_MatchesKindAndGlob(t *testing.T) {
	p, err := LoadPolicy([]byte("allow:\n  - kind: slab\n    subject: kmalloc-*\n    reason: pools grow with clients\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := p.Allowed(KindSlab, "kmalloc-64"); !ok || r != "pools grow with clients" {
		t.Fatalf("kmalloc-64 not allowed: %q %v", r, ok)
	}
	if _, ok := p.Allowed(KindSlab, "dentry"); ok {
		t.Fatal("dentry should not match kmalloc-*")
	}
	if _, ok := p.Allowed(KindProcess, "kmalloc-64"); ok {
		t.Fatal("a slab rule should not allow a process")
	}
}

func TestPolicyTrendOptions_EarlyIsStricter(t *testing.T) {
	p := DefaultPolicy()
	final, early := p.TrendOptions(KindSlab, true), p.TrendOptions(KindSlab, false)
	if early.Alpha >= final.Alpha || early.MinPoints < final.MinPoints {
		t.Fatalf("early %+v not stricter than final %+v", early, final)
	}
	if final.MinGrowth != float64(p.MinGrowthBytes[KindSlab]) || p.TrendOptions(KindProcess, true).MinGrowth != float64(p.MinGrowthBytes[KindProcess]) {
		t.Fatal("per-kind floors not applied")
	}
}

func FuzzLoadPolicy(f *testing.F) {
	f.Add([]byte("fdr: 0.05\nwarmup: 90m\n"))
	f.Add([]byte("allow:\n  - kind: slab\n    subject: kmalloc-*\n    reason: pools\n"))
	f.Add([]byte("min_growth_bytes: {slab: 1, process: 2}\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := LoadPolicy(b, DefaultPolicy())
		if err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("error not ErrPolicy: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("loaded policy does not validate: %v", err)
		}
	})
}

func BenchmarkLoadPolicy(b *testing.B) {
	doc := []byte("fdr: 0.02\nwarmup: 45m\nmin_growth_bytes:\n  slab: 2097152\nallow:\n  - kind: slab\n    subject: kmalloc-*\n    reason: pools\n")
	for b.Loop() {
		if _, err := LoadPolicy(doc, DefaultPolicy()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPolicyTrendOptions_CarriesTheSteadyRules(t *testing.T) {
	p, err := LoadPolicy([]byte("steady_drawdown: 0.5\nperiodic_drawdown: 0.9\nperiodic_max_inflation: 1.4\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	o := p.TrendOptions(KindSlab, true)
	if o.SteadyDrawdown != 0.5 || o.PeriodicDrawdown != 0.9 || o.PeriodicMaxInflation != 1.4 {
		t.Fatalf("steady rules not carried: %+v", o)
	}
}
