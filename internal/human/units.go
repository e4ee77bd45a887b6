// Package human formats numbers and text for people, one way everywhere:
// sizes in IEC binary units with one decimal ("1.5 MiB"), rates per hour
// ("+1.5 MiB/h"), durations in spaced units ("1 h 20 min"), and text from
// the target with its control characters escaped. Machine output (JSON
// numbers, CSV values) stays raw and never goes through here.
package human

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// binaryUnits are the IEC prefixes Bytes steps through, 1024 apart.
var binaryUnits = []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Bytes prints a byte count: whole bytes below 1 KiB ("1023 B"), else one
// decimal in the largest binary unit that keeps the number under 1024
// ("1.0 KiB", "1.5 MiB"); negative counts keep their sign, NaN and ±Inf
// print "n/a".
func Bytes(b float64) string { return bytesWith(b, false) }

// BytesFine is Bytes with three significant digits instead of one
// decimal, trailing zeros dropped ("1.97 MiB", "147 KiB", "1 MiB"), for
// statistical figures quoted beside their interval, whose bounds one
// decimal would print alike.
func BytesFine(b float64) string { return bytesWith(b, true) }

// bytesWith is Bytes, or BytesFine when fine is set.
func bytesWith(b float64, fine bool) string {
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return "n/a"
	}
	sign := ""
	if b < 0 {
		sign, b = "-", -b
	}
	if r := math.Round(b); r < 1024 {
		if r == 0 {
			return "0 B"
		}
		return sign + strconv.FormatFloat(r, 'f', 0, 64) + " B"
	}
	v := b
	for i, u := range binaryUnits {
		v /= 1024
		// Step up when one decimal would print 1024.0 (1048575 B is 1.0 MiB).
		if math.Round(v*10) < 1024*10 || i == len(binaryUnits)-1 {
			switch {
			case v >= 1e6:
				return sign + strconv.FormatFloat(v, 'g', 3, 64) + " " + u
			case fine:
				f := strconv.FormatFloat(v, 'f', max(0, 2-int(math.Floor(math.Log10(v)))), 64)
				if strings.Contains(f, ".") {
					f = strings.TrimSuffix(strings.TrimRight(f, "0"), ".")
				}
				return sign + f + " " + u
			}
			return sign + strconv.FormatFloat(v, 'f', 1, 64) + " " + u
		}
	}
	panic("unreachable")
}

// SignedBytes is Bytes with an explicit sign on growth: "+1.5 MiB",
// "-512 B", "+0 B".
func SignedBytes(b float64) string { return signed(b, Bytes(b)) }

// BytesPerHour prints a byte rate: "1.5 MiB/h".
func BytesPerHour(b float64) string { return Bytes(b) + "/h" }

// SignedBytesPerHour is BytesPerHour with an explicit sign: "+1.5 MiB/h".
func SignedBytesPerHour(b float64) string { return SignedBytes(b) + "/h" }

// Count prints a count without noise: integers as integers ("262"),
// others with one decimal from 100 up ("3580.8") and three significant
// digits below ("0.25"); NaN and ±Inf print "n/a".
func Count(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == 0:
		return "0" // not "-0"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1e15:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// SignedCount is Count with an explicit sign on growth: "+262".
func SignedCount(v float64) string { return signed(v, Count(v)) }

// UnitBytes is the number of bytes in one unit of a series' unit, or 0 when
// the unit is not a size (objects, counts). /proc/meminfo's "kB" is KiB
// (fs/proc/meminfo.c); a page is 4 KiB.
func UnitBytes(unit string) float64 {
	switch strings.ToLower(unit) {
	case "bytes", "byte", "b":
		return 1
	case "kb", "kib":
		return 1024
	case "mib":
		return 1 << 20
	case "pages":
		return 4096
	}
	return 0
}

// Amount prints a signed change of a series' unit: sizes in binary units
// ("+1.5 MiB"), anything else as a count followed by its unit ("+262
// objects"). The unit is escaped.
func Amount(v float64, unit string) string {
	if k := UnitBytes(unit); k > 0 {
		return SignedBytes(v * k)
	}
	s := SignedCount(v)
	if unit != "" {
		s += " " + Escape(unit)
	}
	return s
}

// Rate prints a signed slope per hour of a series' unit: "+1.1 MiB/h",
// "+127.8/h" for counts.
func Rate(perHour float64, unit string) string {
	if k := UnitBytes(unit); k > 0 {
		return SignedBytesPerHour(perHour * k)
	}
	return SignedCount(perHour) + "/h"
}

// signed puts a "+" in front of a non-negative printed amount.
func signed(v float64, s string) string {
	if (v >= 0 || s == "0 B" || s == "0") && !strings.HasPrefix(s, "+") && s != "n/a" {
		return "+" + s
	}
	return s
}

// Duration prints a span as people say it, two units at most: "350 ms",
// "45 s", "2 min 30 s", "12 min", "1 h 20 min", "12 h", "3 d 4 h".
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond)/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%d s", d.Round(time.Second)/time.Second)
	case d < time.Hour:
		d = d.Round(time.Second)
		m, s := d/time.Minute, (d%time.Minute)/time.Second
		if m >= 10 {
			m = (d + 30*time.Second) / time.Minute
			s = 0
		}
		if m == 60 {
			return "1 h"
		}
		return pair(int64(m), "min", int64(s), "s")
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		if d == 24*time.Hour {
			return "1 d"
		}
		return pair(int64(d/time.Hour), "h", int64((d%time.Hour)/time.Minute), "min")
	}
	d = d.Round(time.Hour)
	return pair(int64(d/(24*time.Hour)), "d", int64((d%(24*time.Hour))/time.Hour), "h")
}

// pair prints "a ua b ub", dropping the second part when it is 0.
func pair(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d %s", a, ua)
	}
	return fmt.Sprintf("%d %s %d %s", a, ua, b, ub)
}

// Approx prints a forecast as people plan around it, one unit and a "~":
// "~40 min", "~41 h", "~5.2 d", "more than a year".
func Approx(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("~%.0f min", d.Minutes())
	case d < 72*time.Hour:
		return fmt.Sprintf("~%.0f h", d.Hours())
	case d > 365*24*time.Hour:
		return "more than a year"
	}
	return fmt.Sprintf("~%.1f d", d.Hours()/24)
}
