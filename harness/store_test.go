package harness

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

func TestReadRaw_RoundTripsHostileNames(t *testing.T) {
	st, err := createStore(t.TempDir(), "rig;rm -rf /", time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if strings.ContainsAny(filepath.Base(st.dir), ";/ ") {
		t.Errorf("run folder %q carries the target's shell metacharacters", st.dir)
	}
	snap := &remote.Snapshot{Files: map[string][]byte{
		"/proc/slabinfo": []byte("slabinfo - version: 2.1\n"),
		"/sys/kernel/slab/x$(reboot)\n../../etc/ok": []byte("1\n"),
		"/proc/\xff\xfe/status":                     []byte("Name:\tbad\n"),
	}, Errors: map[string]string{"/proc/vmallocinfo": "Permission denied"}}

	path, err := st.writeRaw(3, time.Unix(1e9, 0), snap)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRaw(path)
	if err != nil {
		t.Fatal(err)
	}

	for p, want := range snap.Files {
		if !bytes.Equal(got.Files[p], want) {
			t.Errorf("file %q = %q, want %q", p, got.Files[p], want)
		}
	}
	if got.Errors["/proc/vmallocinfo"] != "Permission denied" {
		t.Errorf("errors not kept: %v", got.Errors)
	}
}

func TestReadRecords_ToleratesOnlyATornLastLine(t *testing.T) {
	dir := t.TempDir()
	good := `{"sample":{"index":0,"at":"2026-01-01T00:00:00Z","boot_id":"b","uptime_ns":1}}` + "\n" + `{"gap":{"index":1,"at":"2026-01-01T00:10:00Z","reason":"link"}}` + "\n"
	cases := []struct {
		name    string
		content string
		recs    int
		wantErr bool
	}{
		{"a complete file reads whole", good, 2, false},
		{"a torn last line is dropped", good + `{"sample":{"ind`, 2, false},
		{"a bad line in the middle is an error", `{"sample":` + "\n" + good, 0, true},
		{"an empty file has no records", "", 0, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("s%d.jsonl", i))
			os.WriteFile(p, []byte(c.content), 0o600)
			recs, err := readRecords(p)
			if (err != nil) != c.wantErr || len(recs) != c.recs {
				t.Errorf("got %d records, err %v; want %d, error %v", len(recs), err, c.recs, c.wantErr)
			}
		})
	}
}

func FuzzReadRaw(f *testing.F) {
	var buf bytes.Buffer
	_ = encodeSnapshot(&buf, 1, time.Unix(1e9, 0), &remote.Snapshot{Files: map[string][]byte{"/proc/meminfo": []byte("MemTotal: 1 kB\n")}})
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	// In memory: ReadRaw is os.Open plus decodeRaw (TestReadRaw_* cover the file).
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, _, err := decodeRaw(bytes.NewReader(data), "0001.tar.gz")
		if err == nil && snap.Files == nil {
			t.Fatal("nil files without an error")
		}
	})
}

func FuzzReadRecords(f *testing.F) {
	f.Add([]byte(`{"sample":{"index":0,"at":"2026-01-01T00:00:00Z"}}` + "\n" + `{"gap":{"index":1,"reason":"x"}}`))
	f.Add([]byte("{}\n"))
	// In memory: readRecords is os.Open plus decodeRecords (TestReadRecords_* cover the file).
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []Record
		err := decodeRecords(bytes.NewReader(data), "samples.jsonl", func(_ int64, r Record) { recs = append(recs, r) }, func(int, error) {})
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Sample == nil && r.Gap == nil {
				t.Fatal("a record with neither sample nor gap")
			}
		}
	})
}

// BenchmarkRecordSample measures the per-sample disk path: compress and
// fsync the raw snapshot, parse it, append and fsync the samples.jsonl line.
func BenchmarkRecordSample(b *testing.B) {
	snap := benchSnapshot(b)
	st, err := createStore(b.TempDir(), "bench", time.Unix(1e9, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := st.writeRaw(i, time.Unix(1e9, 0), snap); err != nil {
			b.Fatal(err)
		}
		smp := newSample(i, time.Unix(1e9+int64(i)*600, 0), snap, nil)
		if err := st.appendRecord(Record{Sample: &smp}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLoadRun measures analyze's load of a recorded 25-sample run
// (raw snapshots re-parsed).
func BenchmarkLoadRun(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadRun("../testdata/harness/leak-run"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJudgeDay judges a simulated 24 h run at 10 min sampling.
func BenchmarkJudgeDay(b *testing.B) {
	snap := benchSnapshot(b)
	r := &Run{}
	for i := range 145 {
		r.addSample(newSample(i, time.Unix(1e9+int64(i)*600, 0), snap, nil))
	}
	b.ReportAllocs()
	for b.Loop() {
		r.judge(true)
	}
}

func benchSnapshot(b *testing.B) *remote.Snapshot {
	b.Helper()
	files := map[string][]byte{
		checks.PathBootID: []byte("6f1c2e5a-0b7d-4c1e-9d1a-3b2f5c7e8a90\n"),
		checks.PathUptime: []byte("1000.00 1800.00\n"),
	}
	for p, f := range map[string]string{checks.PathSlabinfo: "../testdata/slab/slabinfo-6.18.44.txt", checks.PathMeminfo: "../testdata/meminfo/meminfo-6.18.44.txt", checks.PathVmallocinfo: "../testdata/meminfo/vmallocinfo-6.18.44.txt"} {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		files[p] = data
	}
	for _, name := range []string{"bash", "init"} {
		for _, kind := range []string{"status", "stat", "smaps_rollup"} {
			if name == "init" && kind == "smaps_rollup" {
				continue
			}
			data, err := os.ReadFile("../testdata/procmem/6.18.44-" + name + "-" + kind + ".txt")
			if err != nil {
				b.Fatal(err)
			}
			files["/proc/"+map[string]string{"bash": "9278", "init": "1"}[name]+"/"+kind] = data
		}
	}
	return &remote.Snapshot{Files: files}
}

// BenchmarkSoak12h runs a whole 12 h soak (73 samples at 10 min) on the fake
// clock against the in-process SSH server serving the captured rig tree (a
// clean run, so every sample is taken): the harness's own cost per soak, SSH
// included.
func BenchmarkSoak12h(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		run, _ := soakFor(b, scenario{}, func(c *Config) { c.Log = nil })
		if run.Meta.Status != "pass" || len(run.Samples) != 73 {
			b.Fatalf("status %s", run.Meta.Status)
		}
	}
}

func TestLoadRun_RawSnapshotsThatNeverReachedSamplesJSONLAreParsed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS("../testdata/harness/leak-run")); err != nil {
		t.Fatal(err)
	}
	recs, err := os.ReadFile(filepath.Join(dir, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	// As if killed after writing raw/0010..0024 but before their samples.jsonl lines.
	if err := os.WriteFile(filepath.Join(dir, SamplesFile), splitLines(recs, 10), 0o600); err != nil {
		t.Fatal(err)
	}

	run, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}

	if len(run.Samples) != 25 {
		t.Fatalf("%d samples, want all 25 (10 from samples.jsonl, 15 re-parsed from raw/)", len(run.Samples))
	}
	for i, s := range run.Samples {
		if s.Index != i || s.At.IsZero() || s.BootID == "" {
			t.Errorf("sample %d: index %d at %v boot %q", i, s.Index, s.At, s.BootID)
		}
	}
}
