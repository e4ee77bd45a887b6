package kmemleak

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, never fail
// without a read error, keep every string valid UTF-8 for JSON and stay
// within its per-object limits.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "kmemleak", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("unreferenced object 0x1 (size 1):\n  comm \"\xff\", pid 1, jiffies 1\n  backtrace:\n    [<\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := Parse(bytes.NewReader(in), Options{OwnModules: []string{"mt7916_ap", "wl_"}})
		if err != nil {
			t.Fatalf("Parse of in-memory bytes failed: %v", err)
		}
		total := 0
		for _, g := range rep.Groups {
			total += g.Count
		}
		if total+rep.Ungrouped != rep.ObjectCount {
			t.Fatalf("groups count %d + ungrouped %d != objects %d", total, rep.Ungrouped, rep.ObjectCount)
		}
		for _, o := range rep.Objects {
			if len(o.Frames) > MaxFrames || len(o.HexDump) > MaxHexDumpLines || len(o.Comm) > 4*MaxLineBytes {
				t.Fatalf("object over its limits: %d frames, %d hex lines, comm %d bytes", len(o.Frames), len(o.HexDump), len(o.Comm))
			}
			if !utf8.ValidString(o.Comm) {
				t.Fatalf("comm %q not valid UTF-8", o.Comm)
			}
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatalf("report does not marshal: %v", err)
		}
	})
}

// syntheticReport repeats the fixtures, with fresh addresses and jiffies,
// until it holds at least size bytes: a large report of realistic shape.
func syntheticReport(tb testing.TB, size int) []byte {
	tb.Helper()
	var blocks [][]byte
	for _, name := range []string{"arm64-5.4-wifi.txt", "x86_64-4.19-hashed.txt", "x86_64-6.8-crc.txt", "arm64-6.12-crc-noaddr.txt", "x86_64-6.13.txt"} {
		blocks = append(blocks, fixture(tb, name))
	}
	var buf bytes.Buffer
	buf.Grow(size + 64<<10)
	for i := 0; buf.Len() < size; i++ {
		b := blocks[i%len(blocks)]
		b = bytes.ReplaceAll(b, []byte("unreferenced object 0xffff"), fmt.Appendf(nil, "unreferenced object 0x%04x", i&0xffff))
		buf.Write(b)
	}
	return buf.Bytes()
}

const benchBytes = 20 << 20

// BenchmarkParse parses a 20 MB report into groups only (the sampler's path).
func BenchmarkParse(b *testing.B) {
	in := syntheticReport(b, benchBytes)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Parse(bytes.NewReader(in), Options{GroupsOnly: true, OwnModules: []string{"mt7916_ap"}})
		if err != nil || rep.ObjectCount == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseKeepObjects parses the same report keeping every object (the CLI's path).
func BenchmarkParseKeepObjects(b *testing.B) {
	in := syntheticReport(b, benchBytes)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Parse(bytes.NewReader(in), Options{MaxObjects: 1 << 30})
		if err != nil || rep.ObjectCount == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkLineScanFloor is the floor: a bare bufio line scan of the same input.
func BenchmarkLineScanFloor(b *testing.B) {
	in := syntheticReport(b, benchBytes)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(in))
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		n := 0
		for sc.Scan() {
			n += len(sc.Bytes())
		}
		if n == 0 {
			b.Fatal("no lines")
		}
	}
}
