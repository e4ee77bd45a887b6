package slab

import (
	"errors"
	"fmt"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// RowErrors collects the rows of one file that did not parse; the rows that
// did are still returned next to it.
type RowErrors = lines.Errors

// maxPresize caps slices sized from a newline count, so a file of blank
// lines cannot make us reserve memory for rows that never come.
const maxPresize = 4096

// splitFields appends the whitespace-separated tokens of line to dst.
func splitFields(line []byte, dst [][]byte) [][]byte {
	start := -1
	for i, c := range line {
		if c == ' ' || c == '\t' || c == '\r' {
			if start >= 0 {
				dst = append(dst, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, line[start:])
	}
	return dst
}

var errNotNumber = errors.New("not a non-negative decimal number")

// parseInt reads a non-negative decimal that fits in int64.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		if len(b) > 18 {
			return 0, fmt.Errorf("%q: too long", b)
		}
		return 0, errNotNumber
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: %w", b, errNotNumber)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}
