package lines

import "testing"

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
