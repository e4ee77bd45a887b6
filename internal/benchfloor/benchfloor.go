// Package benchfloor measures a parser against the floor every parser of a
// line-oriented kernel file shares: a bare bufio line scan of the same input.
package benchfloor

import (
	"testing"
	"time"
)

// VsFloor runs parse and the floor alternately on the same input, so both see
// the same machine load, and reports the parser's MB/s and its cost as a
// multiple of the floor ("x-floor"; the target is ≤ 3).
func VsFloor(b *testing.B, inputBytes int, parse, floor func()) {
	b.Helper()
	var parseTime, floorTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		parse()
		t1 := time.Now()
		floor()
		parseTime += t1.Sub(t0)
		floorTime += time.Since(t1)
	}
	b.ReportMetric(float64(inputBytes)*float64(b.N)/parseTime.Seconds()/1e6, "parse-MB/s")
	b.ReportMetric(float64(inputBytes)*float64(b.N)/floorTime.Seconds()/1e6, "floor-MB/s")
	b.ReportMetric(float64(parseTime)/float64(floorTime), "x-floor")
}
