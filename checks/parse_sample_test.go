package checks

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readLive reads every path of SnapshotPaths on this machine the way the
// target-side script does: globs expanded, unreadable files left out.
func readLive(t testing.TB, opts SampleOptions) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, p := range SnapshotPaths(opts) {
		matches := []string{p}
		if strings.ContainsAny(p, "*[") {
			var err error
			if matches, err = filepath.Glob(p); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil {
				files[m] = b
			}
		}
	}
	return files
}

func fixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewSample_ThisMachine(t *testing.T) {
	files := readLive(t, SampleOptions{})
	at := time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)
	s := NewSample(3, at, files, SampleOptions{})

	if s.Index != 3 || !s.At.Equal(at) {
		t.Errorf("index/at = %d %v", s.Index, s.At)
	}
	if len(s.BootID) != 36 || strings.ContainsAny(s.BootID, " \n") {
		t.Errorf("boot id = %q", s.BootID)
	}
	if s.Uptime <= 0 {
		t.Errorf("uptime = %v", s.Uptime)
	}
	if len(s.Slabs) < 50 {
		t.Errorf("%d slab caches", len(s.Slabs))
	}
	if s.Mem["MemTotal"] == 0 || s.UnaccountedBytes == 0 {
		t.Errorf("meminfo MemTotal=%d unaccounted=%d", s.Mem["MemTotal"], s.UnaccountedBytes)
	}
	if len(s.Vmalloc) == 0 {
		t.Errorf("no vmalloc callers")
	}
	self, kthreadd := false, false
	for _, p := range s.Procs {
		self = self || p.PID == os.Getpid() && p.RSSBytes > 0 && p.StartTicks > 0
		kthreadd = kthreadd || p.PID == 2
	}
	if !self || kthreadd {
		t.Errorf("own process found: %v; kthreadd included: %v", self, kthreadd)
	}
	_, hasKmemleak := files[PathKmemleak]
	if _, noted := s.Errors[PathKmemleak]; noted == hasKmemleak {
		t.Errorf("kmemleak file present=%v but error recorded=%v", hasKmemleak, noted)
	}
	for p, e := range s.Errors {
		if p != PathKmemleak {
			t.Errorf("unexpected error on %s: %s", p, e)
		}
	}
}

func TestNewSample_ABadFileNeverLosesTheRest(t *testing.T) {
	files := map[string][]byte{
		PathBootID:               []byte("0f0e8a35-6f0c-4c1e-9d7e-3b1f7c1a2b3c\n"),
		PathUptime:               []byte("not-a-number 1.0\n"),
		PathSlabinfo:             []byte("slabinfo - version: 2.1\nkmalloc-64 10 20 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\ngarbage row\n"),
		PathMeminfo:              fixture(t, "meminfo", "meminfo-4.14-arm64.txt"),
		PathVmallocinfo:          fixture(t, "meminfo", "vmallocinfo-5.4-arm64.txt"),
		PathKmemleak:             fixture(t, "kmemleak", "arm64-5.4-wifi.txt"),
		"/proc/812/status":       []byte("Name:\twland\nVmRSS:\t2048 kB\nRssAnon:\t1024 kB\n"),
		"/proc/812/stat":         []byte("812 (wland) S 1 812 812 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n"),
		"/proc/812/smaps_rollup": []byte("garbage\n"),
		"/proc/2/stat":           fixture(t, "procmem", "6.18.44-kthreadd-stat.txt"),
		"/proc/2/status":         fixture(t, "procmem", "6.18.44-kthreadd-status.txt"),
	}
	s := NewSample(0, time.Time{}, files, SampleOptions{OwnModules: []string{"mt7916_ap"}})

	if s.BootID != "0f0e8a35-6f0c-4c1e-9d7e-3b1f7c1a2b3c" {
		t.Errorf("boot id = %q", s.BootID)
	}
	for _, p := range []string{PathUptime, PathSlabinfo, "/proc/812"} {
		if s.Errors[p] == "" {
			t.Errorf("no error recorded for %s: %v", p, s.Errors)
		}
	}
	if len(s.Slabs) != 1 || s.Slabs[0].Name != "kmalloc-64" {
		t.Errorf("slabs = %+v", s.Slabs)
	}
	if s.Mem["MemTotal"] != 499848*1024 || len(s.UnaccountedCaveats) == 0 {
		t.Errorf("meminfo %d, caveats %q", s.Mem["MemTotal"], s.UnaccountedCaveats)
	}
	if len(s.Vmalloc) != 4 {
		t.Errorf("vmalloc callers = %+v", s.Vmalloc)
	}
	if len(s.Leaks) != 1 || s.LeakObjects != 1 || s.Leaks[0].Culprit == nil || s.Leaks[0].Culprit.Function != "pci_rx_dma_done_handle" {
		t.Errorf("leaks = %+v (objects %d), want culprit pci_rx_dma_done_handle with --own-modules mt7916_ap", s.Leaks, s.LeakObjects)
	}
	if len(s.Procs) != 1 || s.Procs[0].Name != "wland" || s.Procs[0].StartTicks != 4242 || s.Procs[0].AnonSource != "RssAnon" {
		t.Errorf("procs = %+v", s.Procs)
	}
}

func TestNewSample_MissingFilesAreRecorded(t *testing.T) {
	s := NewSample(1, time.Time{}, map[string][]byte{}, SampleOptions{SkipProcesses: true})
	for _, p := range []string{PathBootID, PathUptime, PathMeminfo, PathSlabinfo, PathVmallocinfo, PathKmemleak} {
		if s.Errors[p] == "" {
			t.Errorf("missing %s not recorded", p)
		}
	}
}

func TestNewSample_AllocSitesByCache(t *testing.T) {
	files := map[string][]byte{
		"/sys/kernel/debug/slab/kmalloc-2k/alloc_traces": fixture(t, "slab", "alloc_traces-6.1-waste.txt"),
		"/sys/kernel/slab/dentry/alloc_calls":            fixture(t, "slab", "alloc_calls-4.19.txt"),
		"/sys/kernel/slab/kmalloc-64/alloc_calls":        fixture(t, "slab", "alloc_calls-4.19-no-data.txt"),
	}
	s := NewSample(0, time.Time{}, files, SampleOptions{SkipProcesses: true})
	if len(s.AllocSites["kmalloc-2k"]) != 3 || s.AllocSites["kmalloc-2k"][1].WasteBytes != 55104 {
		t.Errorf("kmalloc-2k sites = %+v", s.AllocSites["kmalloc-2k"])
	}
	if len(s.AllocSites["dentry"]) != 4 {
		t.Errorf("dentry sites = %+v", s.AllocSites["dentry"])
	}
	if _, ok := s.AllocSites["kmalloc-64"]; ok {
		t.Errorf("a No data cache has sites")
	}
}

func TestSnapshotPaths(t *testing.T) {
	base := SnapshotPaths(SampleOptions{})
	for _, want := range []string{PathBootID, PathUptime, PathMeminfo, PathSlabinfo, PathVmallocinfo, PathKmemleak, GlobProcStatus, GlobProcStat, GlobProcSmapsRollup} {
		if !contains(base, want) {
			t.Errorf("default paths lack %s", want)
		}
	}
	if contains(base, GlobAllocTraces) {
		t.Errorf("alloc_traces read without being asked")
	}
	all := SnapshotPaths(SampleOptions{SkipProcesses: true, AllocTraces: true, AllocCallsCaches: []string{"dentry", "../../etc/shadow", "kmalloc-*", "a b", ":A-0000192"}})
	if contains(all, GlobProcStat) || !contains(all, GlobAllocTraces) || !contains(all, "/sys/kernel/slab/dentry/alloc_calls") || !contains(all, "/sys/kernel/slab/:A-0000192/alloc_calls") {
		t.Errorf("paths = %q", all)
	}
	for _, p := range all {
		if strings.Contains(p, "..") || strings.Contains(p, "slab/kmalloc-*") || strings.Contains(p, " ") {
			t.Errorf("unsafe cache name reached a path: %q", p)
		}
	}
}

func TestParseUptime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"350735.47 234388.90\n", 350735*time.Second + 470*time.Millisecond, false},
		{"12.00 1.00", 12 * time.Second, false},
		{"", 0, true},
		{"-5 1", 0, true},
		{"1e300 1", 0, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseUptime([]byte(tt.in))
			if (err != nil) != tt.wantErr || !tt.wantErr && (got-tt.want).Abs() > time.Millisecond {
				t.Errorf("ParseUptime = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzParseUptime(f *testing.F) {
	f.Add([]byte("350735.47 234388.90\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseUptime(b)
		if err == nil && d < 0 {
			t.Fatalf("negative uptime %v", d)
		}
	})
}

// BenchmarkNewSample parses one real snapshot of this machine: every process,
// slabinfo, meminfo, vmallocinfo.
func BenchmarkNewSample(b *testing.B) {
	files := readLive(b, SampleOptions{})
	total := 0
	for _, f := range files {
		total += len(f)
	}
	b.SetBytes(int64(total))
	procs := 0
	for b.Loop() {
		procs = len(NewSample(0, time.Time{}, files, SampleOptions{}).Procs)
	}
	b.ReportMetric(float64(len(files)), "files")
	b.ReportMetric(float64(procs), "procs")
}
