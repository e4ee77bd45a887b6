// Package benchfloor measures a parser against the floor every parser of a
// line-oriented kernel file shares: a bare bufio line scan of the same input.
package benchfloor

import (
	"bufio"
	"bytes"
	"slices"
	"syscall"
	"testing"
	"time"
)

// VsFloor runs parse and the floor alternately on the same input, so both see
// the same machine load, and reports the parser's MB/s and its cost as a
// multiple of the floor ("x-floor": total parse time ÷ total floor time; the
// target is ≤ 3). On a shared machine a few iterations descheduled by other
// processes swing that total, so it also reports "x-floor-median", the ratio
// of the median iterations, which such outliers do not move, and
// "x-floor-cpu", the ratio of process CPU time (user + system, garbage
// collection included).
func VsFloor(b *testing.B, inputBytes int, parse, floor func()) {
	b.Helper()
	var parseTime, floorTime, parseCPU, floorCPU time.Duration
	var parseIter, floorIter []time.Duration
	c0 := cpuTime()
	for b.Loop() {
		t0 := time.Now()
		parse()
		t1 := time.Now()
		c1 := cpuTime()
		t2 := time.Now()
		floor()
		t3 := time.Now()
		c2 := cpuTime()
		parseIter = append(parseIter, t1.Sub(t0))
		floorIter = append(floorIter, t3.Sub(t2))
		parseCPU += c1 - c0
		floorCPU += c2 - c1
		c0 = c2
	}
	for i := range parseIter {
		parseTime += parseIter[i]
		floorTime += floorIter[i]
	}
	b.ReportMetric(float64(inputBytes)*float64(b.N)/parseTime.Seconds()/1e6, "parse-MB/s")
	b.ReportMetric(float64(inputBytes)*float64(b.N)/floorTime.Seconds()/1e6, "floor-MB/s")
	b.ReportMetric(float64(parseTime)/float64(floorTime), "x-floor")
	if m := median(floorIter); m > 0 {
		b.ReportMetric(float64(median(parseIter))/float64(m), "x-floor-median")
	}
	if floorCPU > 0 {
		b.ReportMetric(float64(parseCPU)/float64(floorCPU), "x-floor-cpu")
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LineScan is the floor itself: a bare bufio line scan of in, returning the
// bytes it saw so the compiler cannot drop the loop.
func LineScan(in []byte) int {
	s := bufio.NewScanner(bytes.NewReader(in))
	n := 0
	for s.Scan() {
		n += len(s.Bytes())
	}
	return n
}
