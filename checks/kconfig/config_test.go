package kconfig

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "kconfig", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func TestParse_Fixtures(t *testing.T) {
	tests := []struct {
		name string
		file string
		want map[string]string
	}{
		{name: "this machine's gzip /proc/config.gz is detected by magic", file: "config-6.18.44.gz",
			want: map[string]string{"CONFIG_SLUB_DEBUG": "y", "CONFIG_DEBUG_KMEMLEAK": "n", "CONFIG_IKCONFIG_PROC": "y"}},
		{name: "a 5.4 text config keeps numbers and strips quotes", file: "config-5.4-arm64-kmemleak.txt",
			want: map[string]string{"CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE": "16000", "CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF": "y",
				"CONFIG_CC_VERSION_TEXT": "aarch64-openwrt-linux-musl-gcc (OpenWrt GCC 8.4.0) 8.4.0", "CONFIG_KALLSYMS_ALL": "n"}},
		{name: "is not set comments read as n", file: "config-4.14-mips-minimal.txt",
			want: map[string]string{"CONFIG_SLUB_DEBUG": "n", "CONFIG_MIPS": "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for k, v := range tt.want {
				if c[k] != v {
					t.Errorf("%s = %q, want %q", k, c[k], v)
				}
			}
		})
	}
}

func TestParse_TextAndGzipAgree(t *testing.T) {
	text := readFixture(t, "config-5.4-arm64-kmemleak.txt")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(text)
	zw.Close()
	a, errA := Parse(text)
	b, errB := Parse(gz.Bytes())
	if errA != nil || errB != nil || len(a) != len(b) || len(a) == 0 {
		t.Fatalf("text %d %v, gzip %d %v", len(a), errA, len(b), errB)
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: text %q gzip %q", k, v, b[k])
		}
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{name: "a file without CONFIG_ lines is not a config", in: []byte("hello\n# comment\n"), want: ErrNotConfig},
		{name: "a broken gzip stream is an error", in: []byte{0x1f, 0x8b, 8, 0, 0, 0}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParse_BoundsAGzipBomb(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	line := bytes.Repeat([]byte("CONFIG_A=y\n"), 1<<16)
	for i := 0; i < (maxConfigBytes/len(line))+2; i++ {
		zw.Write(line)
	}
	zw.Close()
	if _, err := Parse(gz.Bytes()); err == nil {
		t.Fatal("no error for a config larger than the cap")
	}
}

func FuzzParseKconfig(f *testing.F) {
	f.Add(readFixture(f, "config-5.4-arm64-kmemleak.txt"))
	f.Add(readFixture(f, "config-4.14-mips-minimal.txt"))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil && len(c) == 0 {
			t.Fatal("empty config without error")
		}
		Evaluate(Facts{Config: c, Cmdline: string(b)})
	})
}

func BenchmarkParseKconfig(b *testing.B) {
	in := readFixture(b, "config-6.18.44.gz")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// scanFloor is the floor for a config: gunzip when gzip, then a bufio line scan.
func scanFloor(in []byte) int {
	var r io.Reader = bytes.NewReader(in)
	if len(in) > 1 && in[0] == 0x1f && in[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0
		}
		r = zr
	}
	s := bufio.NewScanner(r)
	n := 0
	for s.Scan() {
		n += len(s.Bytes())
	}
	return n
}

func BenchmarkScanFloorKconfig(b *testing.B) {
	in := readFixture(b, "config-6.18.44.gz")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		scanFloor(in)
	}
}

// BenchmarkVsFloor compares Parse with gunzip plus a bufio line scan, interleaved.
func BenchmarkVsFloor(b *testing.B) {
	gz := readFixture(b, "config-6.18.44.gz")
	text := []byte(nil)
	if zr, err := gzip.NewReader(bytes.NewReader(gz)); err == nil {
		text, _ = io.ReadAll(zr)
	}
	for _, c := range []struct {
		name string
		in   []byte
	}{{"config-6.18-gzip", gz}, {"config-6.18-text", text}} {
		b.Run(c.name, func(b *testing.B) {
			benchfloor.VsFloor(b, len(c.in), func() { Parse(c.in) }, func() { scanFloor(c.in) })
		})
	}
}

func TestDebugfsMounted_OnlyDebugfsOnTheGivenFolderCounts(t *testing.T) {
	mounts := []byte("proc /proc proc rw 0 0\ntracefs /sys/kernel/debug/tracing tracefs rw 0 0\nnone /sys/kernel/debug tmpfs rw 0 0\n")
	if DebugfsMounted(mounts, "/sys/kernel/debug") {
		t.Errorf("a tmpfs on /sys/kernel/debug was taken for debugfs")
	}
	mounts = append(mounts, "debugfs /sys/kernel/debug debugfs rw,relatime 0 0\n"...)
	if !DebugfsMounted(mounts, "/sys/kernel/debug") {
		t.Errorf("debugfs on /sys/kernel/debug not seen")
	}
	if DebugfsMounted(mounts, "/debug") {
		t.Errorf("debugfs seen on a folder it is not mounted on")
	}
}
