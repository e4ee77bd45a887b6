package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/slab"
)

// evolvingSamples are n samples in which some slab caches grow, one comes
// and goes, allocation sites change counts and kmemleak groups appear.
func evolvingSamples(n int) []checks.Sample {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]checks.Sample, n)
	for i := range out {
		smp := checks.Sample{Index: i, At: t0.Add(time.Duration(i) * 10 * time.Minute), BootID: "b", Uptime: time.Duration(1000+i*600) * time.Second}
		for c := range 40 {
			active := int64(100 + c)
			if c%7 == 0 {
				active += int64(i * c) // a few caches grow
			}
			smp.Slabs = append(smp.Slabs, slab.Cache{Name: fmt.Sprintf("cache-%02d", c), ActiveObjects: active, NumObjects: active + 10, ObjectSizeBytes: 64})
		}
		if i%3 == 1 {
			smp.Slabs = append(smp.Slabs, slab.Cache{Name: "comes-and-goes", ActiveObjects: 5, NumObjects: 5, ObjectSizeBytes: 32})
		}
		smp.AllocSites = map[string][]slab.AllocSite{}
		for c := range 5 {
			for s := range 10 {
				count := int64(10 + s)
				if s == 3 {
					count += int64(i)
				}
				smp.AllocSites[fmt.Sprintf("cache-%02d", c)] = append(smp.AllocSites[fmt.Sprintf("cache-%02d", c)], slab.AllocSite{Count: count, Caller: fmt.Sprintf("fn_%d", s), CallerOffset: fmt.Sprintf("+0x%x/0x100", s*16)})
			}
		}
		if i >= 5 {
			smp.Leaks = []kmemleak.Group{{Signature: "abc", Count: i - 4, Bytes: int64(64 * (i - 4))}}
		}
		if i == 7 {
			smp.Errors = map[string]string{"/proc/vmallocinfo": "Permission denied"}
		}
		out[i] = smp
	}
	return out
}

func TestCompactor_EverySampleIsRebuiltExactlyFromItsLines(t *testing.T) {
	samples := evolvingSamples(keyframeEvery + 10)
	var c compactor
	var file bytes.Buffer
	offsets := map[int]int64{}
	deltas := 0
	for i := range samples {
		rec, commit, err := c.record(&samples[i])
		if err != nil {
			t.Fatal(err)
		}
		commit()
		if rec.Delta != nil {
			deltas++
		}
		line, _ := json.Marshal(rec)
		offsets[i] = int64(file.Len())
		file.Write(append(line, '\n'))
	}
	lines := &sampleLines{offsets: offsets, read: func(off int64) (Record, error) {
		var r Record
		line, _, _ := bytes.Cut(file.Bytes()[off:], []byte("\n"))
		err := json.Unmarshal(line, &r)
		return r, err
	}}
	// In order, then backwards (every delta chain walked from its keyframe).
	order := make([]int, 0, 2*len(samples))
	for i := range samples {
		order = append(order, i)
	}
	for i := len(samples) - 1; i >= 0; i-- {
		order = append(order, i)
	}
	for _, i := range order {
		got, err := lines.sample(i)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		want := roundTrip(t, samples[i])
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("sample %d rebuilt as\n%+v\nwant\n%+v", i, got, want)
		}
	}
	if want := len(samples) - 2; deltas != want {
		t.Errorf("%d delta lines, want %d (a full line at 0 and at %d)", deltas, want, keyframeEvery)
	}
}

// roundTrip is smp as it reads back from its JSON.
func roundTrip(t *testing.T, smp checks.Sample) checks.Sample {
	t.Helper()
	b, err := json.Marshal(smp)
	if err != nil {
		t.Fatal(err)
	}
	var out checks.Sample
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyJSON_RefusesADeltaThatDoesNotFitItsBase(t *testing.T) {
	cases := []struct {
		name  string
		base  string
		patch jsonPatch
	}{
		{"a copy beyond the base array", `[1,2]`, jsonPatch{Array: []arrayOp{{Copy: &[2]int{1, 5}}}}},
		{"a negative copy", `[1,2]`, jsonPatch{Array: []arrayOp{{Copy: &[2]int{-1, 1}}}}},
		{"an array patch on an object", `{"a":1}`, jsonPatch{Array: []arrayOp{{Value: json.RawMessage("1")}}}},
		{"an object patch on an array", `[1]`, jsonPatch{Object: map[string]*jsonPatch{"a": {Full: json.RawMessage("1")}}}},
		{"an empty patch", `1`, jsonPatch{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := applyJSON(json.RawMessage(c.base), &c.patch); err == nil {
				t.Errorf("applied %+v to %s without an error", c.patch, c.base)
			}
		})
	}
}

// BenchmarkRunFolderBytesPerSample runs a 12 h soak (73 samples at 10 min)
// against the scripted target built from the reference rig's captured files
// (a leaking cache, a kmemleak signature, allocation sites) and reports
// bytes on disk per sample: samples.jsonl as written (full line every
// keyframeEvery samples, deltas between), the same samples as full lines
// (the format before compact storage), and the compressed raw snapshots.
//
//	go test ./harness -run '^$' -bench BenchmarkRunFolderBytesPerSample -benchtime 1x
func BenchmarkRunFolderBytesPerSample(b *testing.B) {
	for b.Loop() {
		run, _ := soakFor(b, scenario{leakObjects: func(n int) int { return 3 * n }, slabExtra: func(n int) map[string]int64 {
			return map[string]int64{"wlansim_rxbuf": int64(120 * n)}
		}}, func(c *Config) { c.Log = nil })
		n := float64(len(run.Samples))
		st, err := os.Stat(filepath.Join(run.Dir, SamplesFile))
		if err != nil {
			b.Fatal(err)
		}
		var full, raw int64
		recs, err := readRecords(filepath.Join(run.Dir, SamplesFile))
		if err != nil {
			b.Fatal(err)
		}
		offsets := map[int]int64{}
		var file bytes.Buffer
		for _, r := range recs {
			line, _ := json.Marshal(r)
			if r.Sample != nil || r.Delta != nil {
				i := 0
				if r.Sample != nil {
					i = r.Sample.Index
				} else {
					i = r.Delta.Index
				}
				offsets[i] = int64(file.Len())
			}
			file.Write(append(line, '\n'))
		}
		lines := &sampleLines{offsets: offsets, read: func(off int64) (Record, error) {
			var r Record
			line, _, _ := bytes.Cut(file.Bytes()[off:], []byte("\n"))
			return r, json.Unmarshal(line, &r)
		}}
		for _, s := range run.Samples {
			smp, err := lines.sample(s.Index)
			if err != nil {
				b.Fatal(err)
			}
			line, _ := json.Marshal(Record{Sample: &smp})
			full += int64(len(line) + 1)
			fi, err := os.Stat(filepath.Join(run.Dir, RawDir, rawFileName(s.Index)))
			if err != nil {
				b.Fatal(err)
			}
			raw += fi.Size()
		}
		b.ReportMetric(float64(st.Size())/n, "jsonl-B/sample")
		b.ReportMetric(float64(full)/n, "full-jsonl-B/sample")
		b.ReportMetric(float64(raw)/n, "raw-B/sample")
		b.ReportMetric(n, "samples")
	}
}
