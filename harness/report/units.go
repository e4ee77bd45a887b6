package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// bytesPerUnit converts a series unit to bytes; 0 means the unit is not a
// size (objects, counts).
func bytesPerUnit(unit string) float64 {
	switch strings.ToLower(unit) {
	case "bytes", "byte", "b":
		return 1
	case "kb", "kib":
		return 1024 // /proc/meminfo's "kB" is KiB (fs/proc/meminfo.c).
	case "pages":
		return 4096
	}
	return 0
}

// humanBytes prints a byte count with a binary unit: "512 B", "12.0 MiB".
func humanBytes(b float64) string {
	abs := math.Abs(b)
	switch {
	case math.IsNaN(b) || math.IsInf(b, 0):
		return "n/a"
	case abs < 1024:
		return fmt.Sprintf("%.0f B", b)
	case abs < 1<<20:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	case abs < 1<<30:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case abs < 1<<40:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	}
	return fmt.Sprintf("%.1f TiB", b/(1<<40))
}

// signed puts an explicit sign in front of a non-negative printed amount.
func signed(v float64, s string) string {
	if v >= 0 && !strings.HasPrefix(s, "+") {
		return "+" + s
	}
	return s
}

// amount prints a value of the given unit: sizes in binary units, counts as
// numbers followed by the unit ("objects").
func amount(v float64, unit string) string {
	if k := bytesPerUnit(unit); k > 0 {
		return signed(v, humanBytes(v*k))
	}
	s := signed(v, number(v))
	if unit != "" {
		s += " " + clean(unit)
	}
	return s
}

// rate prints a slope per hour: "+1.1 MiB/h", "+127.8/h".
func rate(perHour float64, unit string) string {
	if k := bytesPerUnit(unit); k > 0 {
		return signed(perHour, humanBytes(perHour*k)) + "/h"
	}
	return signed(perHour, number(perHour)) + "/h"
}

// number prints a count without noise: integers as integers, the rest with
// one decimal.
func number(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// pValue prints a p-value the way people quote them: "p<1e-9", "p=2.1e-05",
// "p=0.013".
func pValue(p float64) string {
	switch {
	case math.IsNaN(p) || p < 0:
		return "p=n/a"
	case p < 1e-9:
		return "p<1e-9"
	case p < 1e-3:
		return fmt.Sprintf("p=%.1e", p)
	}
	return "p=" + strconv.FormatFloat(p, 'f', 3, 64)
}

// approx prints a duration as people plan around it: "~40 min", "~41 h",
// "~5.2 d".
func approx(d time.Duration) string {
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

// span prints a run's length compactly: "12h0m", "35m".
func span(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
}

// clean makes text from the target safe for one line of a terminal or a
// JUnit file: invalid UTF-8 becomes U+FFFD and control and format characters
// (newlines, escapes, bidi overrides, zero-width) are shown as Go escapes, so
// a hostile name cannot forge lines, drive the terminal or reorder the text.
func clean(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// cleanLines is clean for multi-line text (a console tail): newlines stay,
// every other control character is escaped.
func cleanLines(s string) []string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = clean(l)
	}
	return lines
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
