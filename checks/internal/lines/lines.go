// Package lines holds the allocation-free byte-slice helpers the kernel file
// parsers share: split a line off a buffer, split a token off a line, trim.
// Blanks are space, tab and carriage return (files copied through Windows
// tools keep their CRs).
package lines

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Next splits b at the first newline; the line excludes it.
func Next(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// NextToken returns the first blank-separated token of b and what follows it.
func NextToken(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	j := TokenEnd(b, i)
	return b[i:j], b[j:]
}

// TokenEnd returns the index of the first blank at or after j, or len(b).
// It tests eight bytes at a time for one at or below ' ' (every blank is),
// then checks the first such byte, so long tokens (addresses, symbols) cost
// an eighth of a byte-by-byte scan.
func TokenEnd(b []byte, j int) int {
	const highs, belowBang = 0x8080808080808080, 0x21 * 0x0101010101010101
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		// The lowest byte flagged is exactly the first byte < 0x21; bytes
		// above it may be flagged by the borrow, but are never looked at.
		m := (x - belowBang) &^ x & highs
		if m == 0 {
			j += 8
			continue
		}
		k := j + bits.TrailingZeros64(m)/8
		if isBlank(b[k]) {
			return k
		}
		j = k + 1 // a control byte inside the token
	}
	for j < len(b) && !isBlank(b[j]) {
		j++
	}
	return j
}

// TrimSpace drops blanks at both ends, and newlines at the end.
func TrimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isBlank(b[i]) {
		i++
	}
	for j > i && (isBlank(b[j-1]) || b[j-1] == '\n') {
		j--
	}
	return b[i:j]
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// Errors collects the lines of one file that did not parse; the parsers
// return it next to everything the other lines gave, so one bad line never
// loses the rest.
type Errors struct {
	Lines []Error
}

// Error is one line that did not parse.
type Error struct {
	Line int
	Text string
	Err  error
}

// MaxErrors bounds the lines a garbage file can make a parser hold.
const MaxErrors = 20

// maxText bounds the text kept of each bad line.
const maxText = 120

// Add records a bad line; past MaxErrors it marks the last one as followed by
// more instead of keeping them.
func (e *Errors) Add(line int, text []byte, err error) {
	if len(e.Lines) >= MaxErrors {
		last := &e.Lines[len(e.Lines)-1]
		if !errors.Is(last.Err, errMore) {
			last.Err = fmt.Errorf("%w %w", last.Err, errMore)
		}
		return
	}
	if len(text) > maxText {
		text = text[:maxText]
	}
	e.Lines = append(e.Lines, Error{Line: line, Text: string(text), Err: err})
}

var errMore = errors.New("(and more lines)")

// Error summarises the bad lines: the count and the first few.
func (e *Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d line(s) did not parse (the others did)", len(e.Lines))
	for i, l := range e.Lines {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; line %d %q: %v", l.Line, l.Text, l.Err)
	}
	return b.String()
}
