package checks

import (
	"reflect"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/slab"
	"github.com/leakgate/leakgate/checks/verdict"
)

func seriesBySubject(ss []Series, subject string) *Series {
	for i := range ss {
		if ss[i].Subject == subject {
			return &ss[i]
		}
	}
	return nil
}

func TestSeriesBuilder_PointsLandAtTheirSamplesTimesAndIndexes(t *testing.T) {
	samples := soakRun(10, 3, func(i int, s *Sample) {
		if i >= 4 { // a cache appearing mid-run
			s.Slabs = append(s.Slabs, slab.Cache{Name: "late", ActiveObjects: int64(10 * i), ObjectSizeBytes: 64})
		}
		if i == 6 { // a sample whose kmemleak read failed: a hole in the signature's series
			s.Errors = map[string]string{PathKmemleak: "permission denied"}
		}
		s.Leaks = []kmemleak.Group{{Signature: "sig", Count: i, Bytes: int64(64 * i)}}
	})
	b := NewSeriesBuilder()
	for _, s := range samples {
		b.Add(s)
	}
	ss := b.Series()

	late := seriesBySubject(ss, "late")
	if late == nil || !reflect.DeepEqual(late.Indexes, []int{4, 5, 6, 7, 8, 9}) || late.Times[0] != 4*600 || late.Values[5] != 90*64 {
		t.Fatalf("late cache series %+v; want indexes 4-9 from t=2400 s, last value 5760 bytes", late)
	}
	sig := seriesBySubject(ss, "sig")
	if sig == nil || !reflect.DeepEqual(sig.Indexes, []int{0, 1, 2, 3, 4, 5, 7, 8, 9}) || sig.Times[6] != 7*600 || sig.Bytes[8] != 64*9 {
		t.Fatalf("kmemleak series %+v; want every sample but the failed read (6), times and bytes aligned", sig)
	}
	if b.Samples() != 10 || b.Points() != 3*10+6+9+10+3*10 {
		t.Errorf("samples %d points %d; want 10 samples and 85 points (3 caches, late, kmemleak, hostapd, 3 meminfo)", b.Samples(), b.Points())
	}
}

func TestSeriesBuilder_BuiltIncrementallyJudgesAsWholeSamplesDo(t *testing.T) {
	samples := soakRun(73, 7, leakingKmalloc128)
	b := NewSeriesBuilder()
	for i, s := range samples {
		b.Add(s)
		if i%12 != 0 && i != len(samples)-1 {
			continue
		}
		for _, final := range []bool{false, true} {
			got := b.Judge(DefaultPolicy(), JudgeOptions{Final: final})
			want := Judge(samples[:i+1], DefaultPolicy(), JudgeOptions{Final: final})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after %d samples (final %v) the builder judged %+v, whole samples %+v", i+1, final, got, want)
			}
		}
	}
	if j := b.Judge(DefaultPolicy(), JudgeOptions{Final: true}); j.Verdict != verdict.Fail || findSubject(j, "kmalloc-128") == nil {
		t.Errorf("verdict %s findings %+v; want the kmalloc-128 leak", j.Verdict, j.Findings)
	}
}

func TestSeriesBuilder_ARebootRestartsTheSeriesAndATimeThatDoesNotAdvanceIsDropped(t *testing.T) {
	samples := soakRun(12, 5, func(i int, s *Sample) {
		if i >= 8 {
			s.BootID = "boot-b"
		}
	})
	b := NewSeriesBuilder()
	for _, s := range samples {
		b.Add(s)
	}
	dup := samples[11]
	dup.Index = 12 // same time as sample 11
	b.Add(dup)

	if b.Reboots() != 1 || b.Samples() != 4 {
		t.Fatalf("reboots %d samples %d; want 1 reboot and the 4 samples of the last boot", b.Reboots(), b.Samples())
	}
	if !b.Start().Equal(runStart.Add(80 * time.Minute)) {
		t.Errorf("start %v; want the first sample of the last boot", b.Start())
	}
	d := seriesBySubject(b.Series(), "dentry")
	if d == nil || !reflect.DeepEqual(d.Indexes, []int{8, 9, 10, 11}) || d.Times[0] != 0 {
		t.Errorf("dentry series %+v; want indexes 8-11 from time 0", d)
	}
}

// BenchmarkSeriesBuilderAdd adds one sample of ~300 caches to a builder.
func BenchmarkSeriesBuilderAdd(b *testing.B) {
	samples := soakRun(1, 1, func(i int, s *Sample) {
		for k := range 300 {
			s.Slabs = append(s.Slabs, slab.Cache{Name: "c" + itoa(k), ActiveObjects: 100, ObjectSizeBytes: 64})
		}
	})
	sb := NewSeriesBuilder()
	s := samples[0]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Index, s.At = i, runStart.Add(time.Duration(i)*time.Second)
		sb.Add(s)
		i++
	}
}
