package human

import (
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes text from the target safe for one line of a terminal, a log,
// a CSV cell or a JUnit file: invalid UTF-8 becomes U+FFFD and control and
// format characters (newlines, ESC, DEL, C1, bidi overrides, zero-width) are
// written as Go escapes ("\x1b", "\n", "\u202e"), so a hostile cache,
// process or module name cannot forge lines, drive the terminal or reorder
// the text.
func Escape(s string) string {
	if isPlain(s) {
		return s
	}
	return string(appendEscaped(nil, []byte(s), false))
}

// EscapeLines is Escape for multi-line text (a console tail): it splits at
// newlines (CRLF too), drops trailing empty lines and escapes every other
// control character in each line.
func EscapeLines(s string) []string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
	}
	return lines
}

// EscapingWriter passes text through as Escape does but keeps newlines and
// tabs, for whole outputs written in pieces (a command's report). A rune
// split across writes is held until it is whole; Close writes what is left
// of an incomplete one as U+FFFD. Not safe for concurrent use.
type EscapingWriter struct {
	w    io.Writer
	held []byte
	buf  []byte
}

// NewEscapingWriter returns an EscapingWriter writing to w.
func NewEscapingWriter(w io.Writer) *EscapingWriter { return &EscapingWriter{w: w} }

// Write escapes p and writes it; it reports len(p) on success.
func (e *EscapingWriter) Write(p []byte) (int, error) {
	data := p
	if len(e.held) > 0 {
		data = append(e.held, p...)
		e.held = nil
	}
	// Hold back a rune cut at the end of this write.
	if cut := incompleteTail(data); cut > 0 {
		e.held = append(e.held[:0], data[len(data)-cut:]...)
		data = data[:len(data)-cut]
	}
	e.buf = appendEscaped(e.buf[:0], data, true)
	if _, err := e.w.Write(e.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes a rune left incomplete at the end as U+FFFD.
func (e *EscapingWriter) Close() error {
	if len(e.held) == 0 {
		return nil
	}
	e.held = nil
	_, err := e.w.Write([]byte("\uFFFD"))
	return err
}

// incompleteTail returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet (0 when none).
func incompleteTail(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// appendEscaped appends s escaped; keepLines keeps '\n' and '\t'.
func appendEscaped(dst, s []byte, keepLines bool) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		case keepLines && (r == '\n' || r == '\t'):
			dst = append(dst, s[:n]...)
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			q := strconv.QuoteRune(r)
			dst = append(dst, q[1:len(q)-1]...)
		default:
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return dst
}

// isPlain reports whether s is printable ASCII only: the common case,
// returned as is.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
