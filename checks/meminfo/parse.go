package meminfo

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// Parse reads /proc/meminfo into bytes per field. Fields printed with " kB"
// are scaled to bytes; fields without a unit (HugePages_Total, HugePages_Free,
// HugePages_Rsvd, HugePages_Surp) are counts of huge pages and are kept
// unscaled under their own name.
//
// It is hand-written rather than github.com/prometheus/procfs's Meminfo,
// which drops fields it does not know (KReclaimable, SecPageTables, Zswap,
// Hugetlb on v0.23.0) and reads only from a directory. Lines that do not
// parse are returned in a *LineErrors next to the fields that did.
func Parse(b []byte) (Info, error) {
	info := make(Info, 64)
	var bad LineErrors
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		if len(lines.TrimSpace(line)) == 0 {
			continue
		}
		key, v, err := parseLine(line)
		if err != nil {
			bad.Add(lineNo, line, err)
			continue
		}
		if _, dup := info[key]; dup {
			bad.Add(lineNo, line, fmt.Errorf("%s appears twice; the first line is used", key))
			continue
		}
		if len(info) >= maxFields {
			bad.Add(lineNo, line, fmt.Errorf("more than %d fields: not a /proc/meminfo", maxFields))
			continue
		}
		info[key] = v
	}
	if len(bad.Lines) > 0 {
		errs := bad // a copy escapes, so bad itself can stay on the stack
		return info, &errs
	}
	return info, nil
}

// maxFields bounds the map a garbage file can build; meminfo has ~60 fields.
const maxFields = 1024

// maxValue keeps a figure inside int64, which every consumer converts it
// to: a larger value (a corrupt line) would print as a negative size.
const maxValue = math.MaxInt64

// parseLine reads "Key:   <n>[ kB]".
func parseLine(line []byte) (string, uint64, error) {
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 {
		return "", 0, errors.New("no 'Key:' prefix")
	}
	rest := lines.TrimSpace(line[colon+1:])
	scale := uint64(1)
	if n := len(rest); n >= 2 && rest[n-2] == 'k' && rest[n-1] == 'B' {
		scale = 1024
		rest = lines.TrimSpace(rest[:n-2])
	}
	v, err := parseUint(rest)
	if err != nil {
		return "", 0, err
	}
	key := line[:colon]
	if scale == 1 && !bytes.HasPrefix(key, []byte("HugePages_")) {
		// Only the HugePages_ counts are unitless; a byte field that lost
		// its unit would be read 1024 times too small.
		return "", 0, fmt.Errorf("%d has no \" kB\" unit, which every field but HugePages_* has", v)
	}
	if v > maxValue/scale {
		return "", 0, fmt.Errorf("%d %s is beyond what a memory counter can hold", v, map[uint64]string{1: "pages", 1024: "kB"}[scale])
	}
	return string(key), v * scale, nil
}

// LineErrors collects the lines of one file that did not parse; the lines
// that did are still returned next to it.
type LineErrors = lines.Errors

var errNotNumber = errors.New("not a non-negative decimal number")

func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("%q: %w", b, errNotNumber)
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: %w", b, errNotNumber)
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}
