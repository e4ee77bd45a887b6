package human

import (
	"bytes"
	"strings"
	"testing"
)

// hostile is a name the target controls: clear-screen, a forged line, a
// bidi override and a byte that is not UTF-8.
const hostile = "evil\x1b[2J\nFAKE\u202e\xff"

func TestEscape_ControlCharactersBecomeGoEscapes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain ASCII is untouched", "kmalloc-256", "kmalloc-256"},
		{"printable UTF-8 is untouched", "größe", "größe"},
		{"a hostile name", hostile, `evil\x1b[2J\nFAKE\u202e` + "\uFFFD"},
		{"tab and DEL", "a\tb\x7f", `a\tb\x7f`},
		{"a C1 control (UTF-8 encoded)", "a\u0085b", `a\u0085b`},
		{"zero-width joiner", "a\u200db", `a\u200db`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEscapeLines_SplitsAtNewlinesOnly(t *testing.T) {
	got := EscapeLines("one\r\ntwo\x1b[1m\n\n")
	want := []string{"one", `two\x1b[1m`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("EscapeLines = %q, want %q", got, want)
	}
	if EscapeLines("\n\n") != nil {
		t.Errorf("only newlines: want nil")
	}
}

func TestEscapingWriter_KeepsLinesAndHoldsASplitRune(t *testing.T) {
	var out bytes.Buffer
	w := NewEscapingWriter(&out)
	in := "cache " + hostile + "\tü\n"
	// Write byte by byte: every multi-byte rune is split across writes.
	for i := 0; i < len(in); i++ {
		if _, err := w.Write([]byte{in[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "cache evil\\x1b[2J\nFAKE\\u202e\uFFFD\tü\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestEscapingWriter_CloseEndsAnIncompleteRune(t *testing.T) {
	var out bytes.Buffer
	w := NewEscapingWriter(&out)
	w.Write([]byte("ok \xe2\x82"))
	w.Close()
	if out.String() != "ok \uFFFD" {
		t.Errorf("got %q", out.String())
	}
}
