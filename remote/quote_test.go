package remote

import (
	"os/exec"
	"strings"
	"testing"
)

// shellEcho has /bin/sh split line back into words and print each one NUL-terminated.
func shellEcho(t testing.TB, line string) []string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", `printf '%s\0' `+line).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", line, err)
	}
	words := strings.Split(string(out), "\x00")
	return words[:len(words)-1]
}

func TestQuoteArgv_ShellSplitsItBackIntoExactlyTheArguments(t *testing.T) {
	cases := map[string][]string{
		"plain words":            {"cat", "/proc/meminfo"},
		"command substitution":   {"$(touch /tmp/pwned)", "`id`"},
		"quotes and separators":  {`a'b"c;d`, "x && y", "|", ">out"},
		"empty and blank":        {"", " ", "\t"},
		"newlines and globs":     {"a\nb", "*", "/proc/[0-9]*/status", "~"},
		"dashes and equals":      {"-c", "--x=1", "A=B"},
		"single quotes only":     {"'", "''", "'\\''"},
		"unicode and high bytes": {"ünï", "\xff\xfe"},
	}
	for name, argv := range cases {
		t.Run(name, func(t *testing.T) {
			got := shellEcho(t, QuoteArgv(argv))
			if strings.Join(got, "\x00") != strings.Join(argv, "\x00") || len(got) != len(argv) {
				t.Errorf("got %q, want %q", got, argv)
			}
		})
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "$(x)", `a'b"c;d`, "\n", "'\\''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return // argv cannot carry NUL
		}
		got := shellEcho(t, Quote(s))
		if len(got) != 1 || got[0] != s {
			t.Fatalf("Quote(%q) came back as %q", s, got)
		}
	})
}

func BenchmarkQuoteArgv(b *testing.B) {
	argv := []string{"sh", "-c", readScript, readScriptName, "Gprefix/proc/[0-9]*/status", "L/x/a'b\"c;d"}
	for b.Loop() {
		_ = QuoteArgv(argv)
	}
}
