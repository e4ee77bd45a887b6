package meminfo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
	"github.com/prometheus/procfs"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "meminfo", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func TestParse_Fixtures(t *testing.T) {
	const kB = 1024
	tests := []struct {
		name   string
		file   string
		want   map[string]uint64
		absent []string
	}{
		{
			name:   "4.14 has no KReclaimable and scales kB to bytes",
			file:   "meminfo-4.14-arm64.txt",
			want:   map[string]uint64{"MemTotal": 499848 * kB, "SUnreclaim": 40960 * kB, "CmaTotal": 65536 * kB, "Active(anon)": 72104 * kB},
			absent: []string{"KReclaimable", "Hugetlb"},
		},
		{
			name: "5.4 keeps huge page counts unscaled",
			file: "meminfo-5.4-arm64.txt",
			want: map[string]uint64{"KReclaimable": 40960 * kB, "HugePages_Total": 2, "HugePages_Free": 2, "Hugepagesize": 2048 * kB},
		},
		{
			name: "this machine's 6.18 kernel has KReclaimable, Zswap and SecPageTables",
			file: "meminfo-6.18.44.txt",
			want: map[string]uint64{"MemTotal": 24684092 * kB, "KReclaimable": 128556 * kB, "Zswap": 0, "SecPageTables": 0, "HugePages_Total": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for k, v := range tt.want {
				got, ok := info[k]
				if !ok || got != v {
					t.Errorf("%s = %d (present %v), want %d", k, got, ok, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := info[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
		})
	}
}

// TestParse_AgreesWithProcfsOnThisMachine reads the live /proc/meminfo once
// and compares the fields procfs knows.
func TestParse_AgreesWithProcfsOnThisMachine(t *testing.T) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meminfo"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := procfs.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fs.Meminfo()
	if err != nil {
		t.Fatal(err)
	}
	info, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	pairs := map[string]*uint64{"MemTotal": want.MemTotalBytes, "MemFree": want.MemFreeBytes, "Cached": want.CachedBytes,
		"SUnreclaim": want.SUnreclaimBytes, "AnonPages": want.AnonPagesBytes, "HugePages_Total": want.HugePagesTotal, "VmallocUsed": want.VmallocUsedBytes}
	for k, w := range pairs {
		if w == nil {
			t.Fatalf("procfs has no %s", k)
		}
		if info[k] != *w {
			t.Errorf("%s = %d, procfs %d", k, info[k], *w)
		}
	}
	if _, ok := info["KReclaimable"]; !ok {
		t.Errorf("KReclaimable missing on a kernel that prints it")
	}
}

func TestParse_KeepsGoodLinesAroundBadOnes(t *testing.T) {
	info, err := Parse([]byte("MemTotal: 100 kB\nno colon here\nMemFree: lots kB\nCached: 7 kB\n"))
	var bad *LineErrors
	if !errors.As(err, &bad) || len(bad.Lines) != 2 || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want 2 bad lines", err)
	}
	if info["MemTotal"] != 100*1024 || info["Cached"] != 7*1024 {
		t.Errorf("info = %v", info)
	}
	if _, ok := info["MemFree"]; ok {
		t.Errorf("bad MemFree kept")
	}
}

func TestParse_RejectsAkBValueThatOverflowsBytes(t *testing.T) {
	_, err := Parse([]byte("MemTotal: 18446744073709551615 kB\n"))
	if err == nil {
		t.Fatal("no error for an overflowing kB value")
	}
}

func FuzzParseMeminfo(f *testing.F) {
	for _, n := range []string{"meminfo-4.14-arm64.txt", "meminfo-5.4-arm64.txt", "meminfo-6.18.44.txt"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, _ := Parse(b)
		if len(info) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d fields from %d lines", len(info), bytes.Count(b, []byte("\n"))+1)
		}
		Unaccounted(info)
	})
}

func BenchmarkParseMeminfo(b *testing.B) {
	in := readFixture(b, "meminfo-6.18.44.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFloorMeminfo(b *testing.B) {
	in := readFixture(b, "meminfo-6.18.44.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		benchfloor.LineScan(in)
	}
}

func TestParse_BoundsTheFieldsOfAGarbageFile(t *testing.T) {
	var in bytes.Buffer
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&in, "Field%d: %d kB\n", i, i)
	}
	info, err := Parse(in.Bytes())
	if len(info) != maxFields || err == nil {
		t.Fatalf("%d fields, err %v; want %d and an error", len(info), err, maxFields)
	}
}

func TestParse_FlagsWhatCannotBeARealMeminfoLine(t *testing.T) {
	cases := []struct {
		name, line, want string
	}{
		{"a byte field that lost its unit", "MemFree: 2048", `line 2 "MemFree: 2048": 2048 has no " kB" unit, which every field but HugePages_* has`},
		{"a field given twice", "MemTotal: 5 kB", `line 2 "MemTotal: 5 kB": MemTotal appears twice; the first line is used`},
		{"a kB figure beyond int64 bytes", "Cached: 9007199254740992 kB", `line 2 "Cached: 9007199254740992 kB": 9007199254740992 kB is beyond what a memory counter can hold`},
		{"a page count beyond int64", "HugePages_Total: 9223372036854775808", `line 2 "HugePages_Total: 9223372036854775808": 9223372036854775808 pages is beyond what a memory counter can hold`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := Parse([]byte("MemTotal: 100 kB\n" + c.line + "\nHugePages_Free: 3\n"))

			var bad *LineErrors
			if !errors.As(err, &bad) || len(bad.Lines) != 1 || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one bad line: %s", err, c.want)
			}
			if info["MemTotal"] != 100*1024 || info["HugePages_Free"] != 3 {
				t.Errorf("the good lines were not kept as written: %v", info)
			}
		})
	}
}
