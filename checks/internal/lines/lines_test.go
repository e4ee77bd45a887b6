package lines

import (
	"errors"
	"strings"
	"testing"
)

func TestNext_SplitsAtTheFirstNewline(t *testing.T) {
	line, rest := Next([]byte("a b\nc\n"))
	if string(line) != "a b" || string(rest) != "c\n" {
		t.Fatalf("Next = %q, %q", line, rest)
	}
	line, rest = Next([]byte("last"))
	if string(line) != "last" || rest != nil {
		t.Fatalf("Next without newline = %q, %q", line, rest)
	}
}

func TestNextToken_SkipsBlanksIncludingCR(t *testing.T) {
	tok, rest := NextToken([]byte(" \t\rname  42\r"))
	if string(tok) != "name" || string(rest) != "  42\r" {
		t.Fatalf("NextToken = %q, %q", tok, rest)
	}
	tok, rest = NextToken([]byte("   "))
	if len(tok) != 0 || len(rest) != 0 {
		t.Fatalf("NextToken of blanks = %q, %q", tok, rest)
	}
}

func TestTrimSpace_TrimsBlanksAndTrailingNewlines(t *testing.T) {
	if got := string(TrimSpace([]byte(" \tMemFree: 1 kB\r\n"))); got != "MemFree: 1 kB" {
		t.Fatalf("TrimSpace = %q", got)
	}
	if got := string(TrimSpace([]byte("\n x"))); got != "\n x" {
		t.Fatalf("a leading newline is content, got %q", got)
	}
}

func TestErrors_KeepsAtMostMaxErrorsAndSaysMoreFollowed(t *testing.T) {
	var e Errors
	for i := 1; i <= MaxErrors+5; i++ {
		e.Add(i, []byte("garbage"), errors.New("bad"))
	}
	if len(e.Lines) != MaxErrors {
		t.Fatalf("kept %d lines, want %d", len(e.Lines), MaxErrors)
	}
	last := e.Lines[MaxErrors-1].Err.Error()
	if last != "bad (and more lines)" {
		t.Fatalf("last error = %q, want it marked as followed by more", last)
	}
	if !strings.HasPrefix(e.Error(), "20 line(s) did not parse") {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestErrors_CutsLongLineText(t *testing.T) {
	var e Errors
	e.Add(7, []byte(strings.Repeat("x", 1000)), errors.New("bad"))
	if got := len(e.Lines[0].Text); got != maxText {
		t.Fatalf("kept %d bytes of the line, want %d", got, maxText)
	}
}

// FuzzNextToken holds NextToken to the byte-by-byte definition of a token.
func FuzzNextToken(f *testing.F) {
	f.Add([]byte("0x00000000384a6fcb-0x00000000633a2a02   20480 irq_init_percpu_irqstack+0xca/0x100 vmap"))
	f.Add([]byte("  \t abcdefgh\x01ijklmnop\x00qrstuvw\rxyz\xff\x80\x9f  "))
	f.Fuzz(func(t *testing.T, b []byte) {
		i := 0
		for i < len(b) && isBlank(b[i]) {
			i++
		}
		j := i
		for j < len(b) && !isBlank(b[j]) {
			j++
		}
		tok, rest := NextToken(b)
		if string(tok) != string(b[i:j]) || string(rest) != string(b[j:]) {
			t.Fatalf("NextToken(%q) = %q, %q; want %q, %q", b, tok, rest, b[i:j], b[j:])
		}
	})
}
