// Package lines holds the allocation-free byte-slice helpers the kernel file
// parsers share: split a line off a buffer, split a token off a line, trim.
// Blanks are space, tab and carriage return (files copied through Windows
// tools keep their CRs).
package lines

import "bytes"

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
	j := i
	for j < len(b) && !isBlank(b[j]) {
		j++
	}
	return b[i:j], b[j:]
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
