package kmemleak

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

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
