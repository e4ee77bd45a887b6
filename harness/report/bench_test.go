package report

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite writes every report of a 300-series × 73-point run (12 h at
// 10 min) with 30 leak findings: the charts are capped, the CSVs are not.
func BenchmarkWrite(b *testing.B) {
	r := manySeriesRun(300, 73)
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(dir, r); err != nil {
			b.Fatal(err)
		}
	}
	for metric, name := range map[string]string{"html-bytes": HTMLFile, "json-bytes": JSONFile, "csv-bytes": "series/slab.csv"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size()), metric)
	}
}

// BenchmarkWriteHTML is the HTML alone, charts included.
func BenchmarkWriteHTML(b *testing.B) {
	r := manySeriesRun(300, 73)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteHTML(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessage is the failure message of the same run.
func BenchmarkMessage(b *testing.B) {
	r := manySeriesRun(300, 73)
	b.ReportAllocs()
	for b.Loop() {
		_ = Message(r)
	}
}

// BenchmarkWriteDay writes every report of a day at 10 s: 160 slab series
// × 8 641 points in columns over one shared time axis, as a soak hands
// them over, with 16 leak findings (every chart drawn).
func BenchmarkWriteDay(b *testing.B) {
	r := inColumns(manySeriesRun(160, 8641))
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(dir, r); err != nil {
			b.Fatal(err)
		}
	}
	for metric, name := range map[string]string{"html-bytes": HTMLFile, "csv-bytes": "series/slab.csv"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size()), metric)
	}
}
