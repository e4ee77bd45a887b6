package harness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
)

// copyRecorded copies a recorded run folder of testdata/harness.
func copyRecorded(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "harness", name))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRun_RecordedPolicyWithOldKeyNamesIsMigratedOverTheDefaults(t *testing.T) {
	run, err := LoadRun("../testdata/harness/leak-run")
	if err != nil {
		t.Fatal(err)
	}

	got := run.RecordedPolicy()

	want := DefaultPolicy()
	// What the run recorded (Go field names as keys, per-kind figures as a
	// struct), over today's defaults for what did not exist then (vmalloc's
	// floors, the steady-drawdown rule).
	growth, slope := maps.Clone(want.MinGrowthBytes), maps.Clone(want.MinSlopeBytesPerHour)
	maps.Copy(growth, checks.KindBytes{checks.KindSlab: 1 << 20, checks.KindProcess: 2 << 20, checks.KindMeminfo: 4 << 20})
	maps.Copy(slope, checks.KindBytes{checks.KindSlab: 16 << 10, checks.KindProcess: 32 << 10, checks.KindMeminfo: 64 << 10})
	if got.MinSamples != 12 || got.ConfidenceLevel != 0.95 || got.FDR != 0.01 || got.StrictAlpha != 0.005 ||
		!maps.Equal(got.MinGrowthBytes, growth) || !maps.Equal(got.MinSlopeBytesPerHour, slope) ||
		got.SteadyDrawdown != want.SteadyDrawdown || !got.MaterialAtLowerBound || got.Warmup != time.Hour {
		t.Errorf("recorded policy decoded as %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the decoded policy does not validate: %v", err)
	}
}

func TestRecordedPolicy_RefusesWhatItCannotMigrateNamingTheField(t *testing.T) {
	cases := []struct {
		name, policy, want string
	}{
		{"an unknown key", `{"MinSamples": 12, "Sensitivity": 3}`, `unknown field "Sensitivity"`},
		{"a key under its old and new name", `{"MinSamples": 12, "min_samples": 13}`, `key "min_samples" is given twice`},
		{"a value out of range", `{"min_samples": 1}`, "min_samples is 1, want at least 3"},
		{"a value of the wrong type", `{"warmup": "an hour"}`, "policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := recordedPolicy([]byte(`{"status": "pass", "policy": ` + c.policy + `}`))
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, checks.ErrPolicy) {
				t.Errorf("err %v, want an ErrPolicy naming %q", err, c.want)
			}
		})
	}
	if p, err := recordedPolicy([]byte(`{"status": "pass"}`)); p != nil || err != nil {
		t.Errorf("no recorded policy: %v, %v; want nil, nil", p, err)
	}
}

func TestRejudge_LeavesTheRecordedMetaAsWritten(t *testing.T) {
	run, err := LoadRun("../testdata/harness/interrupted-run")
	if err != nil {
		t.Fatal(err)
	}
	before := run.Meta
	pol := DefaultPolicy()
	pol.Allow = []checks.AllowRule{{Kind: checks.KindSlab, Subject: "*", Reason: "r"}}

	run.Rejudge(&pol)

	if run.Meta.Status != verdict.Running || run.Meta.Error != before.Error || run.Meta.Policy != before.Policy || !run.Meta.Ended.Equal(before.Ended) {
		t.Errorf("Rejudge changed the recorded meta: status %q error %q", run.Meta.Status, run.Meta.Error)
	}
	if got := run.Report().Rejudged; got == nil || got.RecordedVerdict != verdict.Running || got.PolicyDigest != PolicyDigest(pol) {
		t.Errorf("report's rejudged block %+v, want the recorded status and the digest of the given policy", got)
	}
}

func TestLoadRun_NamesEveryRecordAndRawItCannotUse(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		want  string
		count int // samples loaded
	}{
		{"a raw whose time is before the sample it follows", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, SamplesFile))
			rewriteRaw(t, dir, 5, func(m *snapshotMeta) { m.At = time.Date(2026, 11, 25, 20, 20, 12, 0, time.UTC) })
		}, "raw/0005.tar.gz: sample 5 taken at 2026-11-25T20:20:12Z, not after the sample before it (2026-11-25T20:40:18Z); times must follow index order", 24},
		{"a raw whose time disagrees with samples.jsonl", func(t *testing.T, dir string) {
			rewriteRaw(t, dir, 5, func(m *snapshotMeta) { m.At = m.At.Add(time.Minute) })
		}, "raw/0005.tar.gz: sample 5 taken at 2026-11-25T20:51:18Z, but samples.jsonl says 2026-11-25T20:50:18Z; neither is used", 24},
		{"a raw naming another index", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, SamplesFile))
			rewriteRaw(t, dir, 5, func(m *snapshotMeta) { m.Index = 6 })
		}, "raw/0005.tar.gz: records index 6, not the 5 of its name", 24},
		{"a corrupt raw with its samples.jsonl line", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, RawDir, "0007.tar.gz"), []byte("garbage"), 0o600)
		}, "raw/0007.tar.gz: read raw snapshot raw/0007.tar.gz: unexpected EOF; sample 7 taken from samples.jsonl instead", 25},
		{"a bad samples.jsonl line in the middle", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, SamplesFile))
			os.WriteFile(filepath.Join(dir, SamplesFile), append([]byte("{\"sample\": tampered\n"), b...), 0o600)
		}, "samples.jsonl line 1: invalid character 'a' in literal true (expecting 'r')", 25},
		{"a symlink in raw/", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, RawDir, "0024.tar.gz"))
			os.Symlink("/etc/passwd", filepath.Join(dir, RawDir, "0024.tar.gz"))
		}, "raw/0024.tar.gz: not a raw snapshot (a regular file named NNNN.tar.gz)", 25},
		{"a symlinked raw/ folder", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, RawDir), filepath.Join(dir, "elsewhere"))
			os.Symlink("elsewhere", filepath.Join(dir, RawDir))
		}, "raw: is a L---------, not a folder; no raw snapshot used", 25},
		{"a FIFO as samples.jsonl", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, SamplesFile))
			if err := syscall.Mkfifo(filepath.Join(dir, SamplesFile), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "samples.jsonl: samples.jsonl is a p---------, not a regular file", 25},
		{"a file where the probes' folder belongs", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, RawDir, ProbeRawDir), []byte("x"), 0o600)
		}, "raw/probes: not a raw snapshot (a regular file named NNNN.tar.gz)", 25},
		{"a symlinked probes folder", func(t *testing.T, dir string) {
			os.Symlink("/etc", filepath.Join(dir, RawDir, ProbeRawDir))
		}, "raw/probes: not a raw snapshot (a regular file named NNNN.tar.gz)", 25},
		{"a sample index beyond the plan", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, RawDir, "0001.tar.gz"))
			os.WriteFile(filepath.Join(dir, RawDir, "0099.tar.gz"), b, 0o600)
		}, "raw/0099.tar.gz: index 99 is outside 0..24", 25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRecorded(t, "leak-run")
			c.edit(t, dir)

			run, err := LoadRun(dir)

			if err != nil {
				t.Fatal(err)
			}
			if len(run.Unused) != 1 || run.Unused[0] != c.want || len(run.Samples) != c.count {
				t.Errorf("unused %q with %d samples\nwant [%q] with %d", run.Unused, len(run.Samples), c.want, c.count)
			}
			run.Rejudge(nil)
			if msg := run.Message(); !strings.Contains(msg, "not used: "+c.want) {
				t.Errorf("the message does not name what was not used:\n%s", msg)
			}
		})
	}
}

// rewriteRaw re-encodes raw snapshot i of dir with its metadata edited.
func rewriteRaw(t *testing.T, dir string, i int, edit func(*snapshotMeta)) {
	t.Helper()
	p := filepath.Join(dir, RawDir, fmt.Sprintf("%04d.tar.gz", i))
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	snap, meta, err := decodeRaw(f, p)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	edit(&meta)
	snap.Taken = meta.Taken
	var buf bytes.Buffer
	if err := encodeSnapshot(&buf, meta.Index, meta.At, snap); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRun_RefusesARunFileItCannotTrust(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, dir string)
		want string
	}{
		{"run.json beyond its cap", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, RunFile), bytes.Repeat([]byte(" "), maxRunFileBytes+1), 0o600)
		}, "run.json is larger than 16777216 bytes"},
		{"run.json as a symlink out of the folder", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, RunFile))
			os.Symlink("/etc/hostname", filepath.Join(dir, RunFile))
		}, "path escapes from parent"},
		{"run.json as a FIFO", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, RunFile))
			syscall.Mkfifo(filepath.Join(dir, RunFile), 0o600)
		}, "run.json is a p---------, not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRecorded(t, "leak-run")
			c.edit(t, dir)

			_, err := LoadRun(dir)

			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one saying %q", err, c.want)
			}
		})
	}
}

func TestRejudge_AnUnknownRecordedStatusIsAnError(t *testing.T) {
	dir := copyRecorded(t, "leak-run")
	b, _ := os.ReadFile(filepath.Join(dir, RunFile))
	os.WriteFile(filepath.Join(dir, RunFile), bytes.Replace(b, []byte(`"status": "fail"`), []byte(`"status": "passed"`), 1), 0o600)
	run, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}

	run.Rejudge(nil)

	if status, reason := run.Outcome(); status != verdict.Error || !strings.Contains(reason, `status "passed" is none of running, pass, fail, error`) {
		t.Errorf("outcome %s %q", status, reason)
	}
}

func TestWriteReports_OfARejudgedRunNeverWritesThroughASymlink(t *testing.T) {
	cases := []struct {
		name    string
		plant   func(dir, outside, digest string) error
		wantErr string
	}{
		{"a symlinked rejudged folder is refused", func(dir, outside, _ string) error {
			return os.Symlink(outside, filepath.Join(dir, RejudgedDir))
		}, "is a L---------, not a folder"},
		{"a symlink at the policy's folder is replaced, not followed", func(dir, outside, digest string) error {
			if err := os.Mkdir(filepath.Join(dir, RejudgedDir), 0o700); err != nil {
				return err
			}
			return os.Symlink(outside, filepath.Join(dir, RejudgedDir, digest))
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRecorded(t, "leak-run")
			outside := t.TempDir()
			run, err := LoadRun(dir)
			if err != nil {
				t.Fatal(err)
			}
			run.Rejudge(nil)
			if err := c.plant(dir, outside, run.Rejudged.PolicyDigest); err != nil {
				t.Fatal(err)
			}

			err = run.WriteReports()

			if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("err %v, want %q", err, c.wantErr)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("wrote %d entries outside the run folder", len(ents))
			}
			if err == nil {
				if st, err := os.Lstat(run.RejudgedReportDir()); err != nil || !st.IsDir() {
					t.Errorf("the re-judgement folder is not a real folder: %v", err)
				}
			}
		})
	}
}

func TestWriteJSONFile_DoesNotFollowAPlantedTempFile(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	os.Symlink(victim, filepath.Join(dir, RunFile+".tmp"))
	os.Symlink(victim, filepath.Join(dir, RunFile))

	if err := writeJSONFile(filepath.Join(dir, RunFile), map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}

	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, RunFile)); string(b) != "{\n  \"a\": 1\n}\n" {
		t.Errorf("run.json = %q", b)
	}
}

func TestDecodeRaw_RefusesWhatIsNotASnapshotLeakgateWrote(t *testing.T) {
	meta := []byte(`{"index":1,"at":"2026-01-01T00:00:00Z"}`)
	type entry struct {
		name string
		typ  byte
		size int
	}
	cases := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"more entries than a target has", func() []entry {
			es := make([]entry, maxRawEntries+1)
			for i := range es {
				es[i] = entry{fmt.Sprintf("e%d", i), tar.TypeReg, 0}
			}
			return es
		}(), "more than 65536 entries"},
		{"a symlink entry", []entry{{"proc/slabinfo", tar.TypeSymlink, 0}}, `entry "proc/slabinfo" is not a regular file`},
		{"a per-process file beyond its cap", []entry{{"proc/1/status", tar.TypeReg, maxRawProcBytes + 1}}, `entry "proc/1/status" holds 1048577 bytes, beyond its cap of 1048576`},
		{"a file beyond the read cap", []entry{{"proc/slabinfo", tar.TypeReg, remote.DefaultMaxFileBytes + 1}}, "beyond its cap of 33554432"},
		{"a file given twice", []entry{{"proc/meminfo", tar.TypeReg, 1}, {"proc/meminfo", tar.TypeReg, 1}}, `entry "proc/meminfo" appears twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			tw.WriteHeader(&tar.Header{Name: snapshotMetaEntry, Typeflag: tar.TypeReg, Size: int64(len(meta)), Mode: 0o600})
			tw.Write(meta)
			for _, e := range c.entries {
				tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: int64(e.size), Mode: 0o600, Linkname: "x"})
				tw.Write(make([]byte, e.size))
			}
			tw.Close()
			zw.Close()

			_, _, err := decodeRaw(&buf, "raw/0001.tar.gz")

			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one saying %q", err, c.want)
			}
		})
	}
}

func TestDecodeRecords_NamesALineBeyondItsCapAndGoesOn(t *testing.T) {
	good := `{"gap":{"index":1,"at":"2026-01-01T00:10:00Z","reason":"link"}}` + "\n"
	data := good + strings.Repeat("x", maxRecordBytes+10) + "\n" + good
	var recs, bad int
	var msg string

	err := decodeRecords(strings.NewReader(data), "samples.jsonl", func(int64, Record) { recs++ }, func(_ int, err error) { bad++; msg = err.Error() })

	if err != nil || recs != 2 || bad != 1 || msg != "samples.jsonl line 2: longer than 67108864 bytes" {
		t.Errorf("err %v, %d records, %d bad (%q); want 2 records and line 2 named", err, recs, bad, msg)
	}
}

func TestLoadRun_TakesTheProbesFolderAsPartOfTheRun(t *testing.T) {
	dir := copyRecorded(t, "leak-run")
	probes := filepath.Join(dir, RawDir, ProbeRawDir)
	if err := os.Mkdir(probes, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(probes, "reclaim.tar.gz"), []byte("the probe's read"), 0o600); err != nil {
		t.Fatal(err)
	}

	run, err := LoadRun(dir)

	if err != nil || len(run.Unused) != 0 || len(run.Samples) != 25 {
		t.Errorf("LoadRun: %v, %d samples, unused %q; want 25 samples and nothing unused", err, len(run.Samples), run.Unused)
	}
}
