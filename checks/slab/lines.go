package slab

import (
	"errors"
	"fmt"
	"strings"
)

// RowErrors collects the rows of one file that did not parse; the rows that
// did are still returned next to it.
type RowErrors struct {
	Rows []RowError
}

// RowError is one line that did not parse.
type RowError struct {
	Line int
	Text string
	Err  error
}

// maxPresize caps slices sized from a newline count, so a file of blank
// lines cannot make us reserve memory for rows that never come.
const maxPresize = 4096

// maxRowErrors bounds the memory a garbage file can make us hold.
const maxRowErrors = 20

func (e *RowErrors) add(line int, text []byte, err error) {
	if len(e.Rows) >= maxRowErrors {
		e.Rows[len(e.Rows)-1].Err = fmt.Errorf("%w (and more rows)", e.Rows[len(e.Rows)-1].Err)
		return
	}
	const maxText = 120
	if len(text) > maxText {
		text = text[:maxText]
	}
	e.Rows = append(e.Rows, RowError{Line: line, Text: string(text), Err: err})
}

// Error summarises the bad rows: the count and the first few.
func (e *RowErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d row(s) did not parse (the others did)", len(e.Rows))
	for i, r := range e.Rows {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; line %d %q: %v", r.Line, r.Text, r.Err)
	}
	return b.String()
}

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
