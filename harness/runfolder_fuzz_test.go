package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
)

// The planted symlinks FuzzRunFolder may add, one bit each, all pointing
// out of the run folder.
const (
	plantRawLink      = 1 << iota // raw/0002.tar.gz → outside/keep
	plantRejudgedLink             // rejudged → outside
	plantSamplesLink              // samples.jsonl → outside/keep
	plantRawDirLink               // raw → outside (the raws are not written)
	plantTmpLink                  // run.json.tmp → outside/keep
	plantSeriesLink               // rejudged/series → outside
)

// FuzzRunFolder mutates a recorded run folder — run.json, samples.jsonl,
// two raw snapshots, symlinks planted out of it — and loads, re-judges and
// writes it as leakgate analyze does. It asserts: no panic; nothing outside
// the folder is written; every raw snapshot and every complete
// samples.jsonl line is either used or named in the verdict (Unused).
// Memory is bounded by the read caps (run.json, lines, tar entries), which
// the inputs here cannot reach but the unit tests do.
func FuzzRunFolder(f *testing.F) {
	runJSON, samples, raws := tinyRun(f)
	f.Add(runJSON, samples, raws[0], raws[1], uint8(0))
	f.Add(runJSON, samples, raws[0], raws[1], uint8(0xff))
	f.Add(bytes.Replace(runJSON, []byte(`"pass"`), []byte(`"running"`), 1), []byte("{}\n{\"gap\":{\"index\":1}}\n"), raws[1], raws[0], uint8(plantRejudgedLink))
	f.Fuzz(func(t *testing.T, runJSON, samples, raw0, raw1 []byte, plant uint8) {
		checkRunFolder(t, runJSON, samples, raw0, raw1, plant)
	})
}

// checkRunFolder is one FuzzRunFolder execution.
func checkRunFolder(t *testing.T, runJSON, samples, raw0, raw1 []byte, plant uint8) {
	// A hang is a failure the fuzzer can only record as a crash: dump
	// every goroutine and crash after a minute.
	hang := time.AfterFunc(time.Minute, func() {
		buf := make([]byte, 1<<20)
		panic("FuzzRunFolder: one execution hung for a minute:\n" + string(buf[:runtime.Stack(buf, true)]))
	})
	defer hang.Stop()
	{
		base := t.TempDir()
		dir, outside := filepath.Join(base, "run"), filepath.Join(base, "outside")
		for _, d := range []string{dir, outside} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		keep := filepath.Join(outside, "keep")
		write := func(p string, b []byte) {
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		link := func(target, p string) {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}
		write(keep, []byte("keep"))
		write(filepath.Join(dir, RunFile), runJSON)
		if plant&plantSamplesLink != 0 {
			link(keep, filepath.Join(dir, SamplesFile))
		} else {
			write(filepath.Join(dir, SamplesFile), samples)
		}
		if plant&plantRawDirLink != 0 {
			link(outside, filepath.Join(dir, RawDir))
		} else {
			if err := os.Mkdir(filepath.Join(dir, RawDir), 0o700); err != nil {
				t.Fatal(err)
			}
			write(filepath.Join(dir, RawDir, "0000.tar.gz"), raw0)
			write(filepath.Join(dir, RawDir, "0001.tar.gz"), raw1)
			if plant&plantRawLink != 0 {
				link(keep, filepath.Join(dir, RawDir, "0002.tar.gz"))
			}
		}
		if plant&plantRejudgedLink != 0 {
			link(outside, filepath.Join(dir, RejudgedDir))
		} else if plant&plantSeriesLink != 0 {
			if err := os.Mkdir(filepath.Join(dir, RejudgedDir), 0o700); err != nil {
				t.Fatal(err)
			}
			link(outside, filepath.Join(dir, RejudgedDir, "series"))
		}
		if plant&plantTmpLink != 0 {
			link(keep, filepath.Join(dir, RunFile+".tmp"))
		}
		before := listTree(t, outside)

		run, err := LoadRun(dir)
		if err == nil {
			run.Rejudge(nil)
			_ = run.WriteReports()
			_ = run.Message()
		}

		if after := listTree(t, outside); !slices.Equal(after, before) {
			t.Fatalf("wrote outside the run folder:\nbefore %q\nafter  %q", before, after)
		}
		if err != nil {
			return
		}
		accounted := func(k int, clues ...string) bool {
			if rb := run.Meta.Reboot; rb != nil && k >= rb.AtSample {
				return true
			}
			if slices.ContainsFunc(run.Samples, func(s SampleInfo) bool { return s.Index == k }) ||
				slices.ContainsFunc(run.Gaps, func(g Gap) bool { return g.Index == k }) {
				return true
			}
			for _, u := range run.Unused {
				for _, c := range clues {
					if strings.Contains(u, c) {
						return true
					}
				}
				if strings.HasPrefix(u, "… and more") {
					return true
				}
			}
			return false
		}
		if plant&plantRawDirLink == 0 {
			for k := range 2 {
				if !accounted(k, fmt.Sprintf("raw/%04d.tar.gz", k)) {
					t.Fatalf("raw/%04d.tar.gz neither used nor named; unused %q", k, run.Unused)
				}
			}
		}
		if plant&plantSamplesLink != 0 {
			return
		}
		var off int64
		for i, line := range bytes.SplitAfter(samples, []byte("\n")) {
			at := off
			off += int64(len(line))
			if len(line) == 0 || line[len(line)-1] != '\n' {
				continue // the torn last line of a killed run
			}
			if len(bytes.TrimSpace(line)) == 0 {
				if !accounted(-1, fmt.Sprintf("line %d", i+1)) {
					t.Fatalf("blank line %d not named; unused %q", i+1, run.Unused)
				}
				continue
			}
			var rec Record
			if json.Unmarshal(line, &rec) != nil || (rec.Sample == nil && rec.Delta == nil && rec.Gap == nil) {
				if !accounted(-1, fmt.Sprintf("line %d", i+1)) {
					t.Fatalf("bad line %d not named; unused %q", i+1, run.Unused)
				}
				continue
			}
			var k int
			switch {
			case rec.Sample != nil:
				k = rec.Sample.Index
			case rec.Delta != nil:
				k = rec.Delta.Index
			default:
				k = rec.Gap.Index
			}
			if !accounted(k, fmt.Sprintf("byte %d", at), fmt.Sprintf("sample %d", k), fmt.Sprintf("gap %d", k), fmt.Sprintf("index %d", k)) {
				t.Fatalf("line %d (sample or gap %d) neither used nor named; unused %q", i+1, k, run.Unused)
			}
		}
	}
}

// tinyRun is a recorded run of two samples of a two-cache slabinfo and
// a short meminfo:
// small, so that one fuzz execution costs milliseconds.
func tinyRun(tb testing.TB) (runJSON, samples []byte, raws [2][]byte) {
	tb.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := RunMeta{Target: "rig", Status: verdict.Pass, BaselineAt: t0, Started: t0, Ended: t0.Add(time.Hour),
		Duration: time.Hour, Interval: 20 * time.Minute, PlannedSamples: 3, BootID: "b"}
	pol := DefaultPolicy()
	meta.Policy = &pol
	runJSON, err := json.Marshal(meta)
	if err != nil {
		tb.Fatal(err)
	}
	var c compactor // sample 1 is a delta line
	for i := range 2 {
		snap := &remote.Snapshot{Files: map[string][]byte{
			checks.PathBootID:   []byte("b\n"),
			checks.PathUptime:   []byte(fmt.Sprintf("%d.00 0.00\n", 1000+i*1200)),
			checks.PathMeminfo:  []byte(fmt.Sprintf("MemTotal: 131072 kB\nMemAvailable: %d kB\nSlab: 9000 kB\nSUnreclaim: 5000 kB\n", 90000-i*100)),
			checks.PathSlabinfo: []byte(fmt.Sprintf("slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\nkmalloc-64 %d 640 64 64 1 : tunables 0 0 0 : slabdata 10 10 0\nrxbuf 20 48 320 12 1 : tunables 0 0 0 : slabdata 4 4 0\n", 600+i)),
		}}
		at := t0.Add(time.Duration(i) * 20 * time.Minute)
		var buf bytes.Buffer
		if err := encodeSnapshot(&buf, i, at, snap); err != nil {
			tb.Fatal(err)
		}
		raws[i] = buf.Bytes()
		smp := newSample(i, at, snap, nil)
		rec, commit, err := c.record(&smp)
		if err != nil {
			tb.Fatal(err)
		}
		commit()
		line, err := json.Marshal(rec)
		if err != nil {
			tb.Fatal(err)
		}
		samples = append(append(samples, line...), '\n')
	}
	return runJSON, samples, raws
}

// listTree lists every path under dir with its content, symlinks as links.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		entry := p + " " + d.Type().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		out = append(out, entry)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
