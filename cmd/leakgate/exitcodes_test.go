package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI_EveryCommandExitsWithTheREADMEsCodeAndSaysWhy runs leakgate in a
// child process (main's dispatch and signal handling) for each class of
// the README's exit code table and asserts the exit status and the first
// line of stderr, whole.
func TestCLI_EveryCommandExitsWithTheREADMEsCodeAndSaysWhy(t *testing.T) {
	refused := "connection failed: connect to 127.0.0.1 (127.0.0.1:1): dial tcp 127.0.0.1:1: connect: connection refused (check the address and port, and that the target is up with its SSH server running)"
	unreachable := []string{"--target", "ssh://root@127.0.0.1:1", "--ssh-config", "none", "--connect-timeout", "5s"}
	notLinux := t.TempDir()
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		firstLine string
	}{
		{"sample on an unreachable target exits 255, the connection's code",
			append(append([]string{"sample"}, unreachable...), "--out", filepath.Join(t.TempDir(), "snap")),
			exitRemote, "leakgate sample: " + refused},
		{"preflight on an unreachable target exits 255",
			append([]string{"preflight"}, unreachable...),
			exitRemote, "leakgate preflight: could not check: " + refused},
		{"run on an unreachable target exits 255",
			append(append([]string{"run"}, unreachable...), "--", "true"),
			exitRemote, "leakgate run: " + refused},
		{"read on an unreachable target exits 255",
			append(append([]string{"read"}, unreachable...), "/proc/meminfo"),
			exitRemote, "leakgate read: " + refused},
		{"a run whose --timeout expires exits 124, not the connection's 255",
			[]string{"run", "--target", "local", "--timeout", "1s", "--", "sleep", "60"},
			exitTimeout, "leakgate run: timed out after --timeout 1s; the command was stopped"},
		{"a negative run --timeout is bad input",
			[]string{"run", "--target", "local", "--timeout", "-1s", "--", "true"},
			exitUsage, "leakgate run: --timeout -1s: want 0 (never) or a positive duration"},
		{"parse with two files and --json after them says what is wrong",
			[]string{"parse", "kmemleak", "a", "b", "--json"},
			exitUsage, "leakgate parse: one FILE at a time (or - for stdin), got 2: a b"},
		{"parse without a kind says so",
			[]string{"parse"},
			exitUsage, "leakgate parse: no KIND given; kinds: " + strings.Join(parserKinds(), ", ")},
		{"sample without --out is bad input",
			[]string{"sample", "--target", "local"},
			exitUsage, "leakgate sample: --out is required (a folder for the snapshot)"},
		{"preflight of a tree that is not Linux could not check: bad input, not the connection",
			[]string{"preflight", "--target", "local:" + notLinux},
			exitUsage, "leakgate preflight: could not check: read /proc/sys/kernel/osrelease on local:" + notLinux + ": head: cannot open '" + notLinux + "/proc/sys/kernel/osrelease' for reading: No such file or directory; is this a Linux target?"},
		{"an unknown subcommand is bad input",
			[]string{"soak"},
			exitUsage, `leakgate: unknown subcommand "soak"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, stdin, stderr := startCLI(t, tc.args...)
			stdin.Close()

			err := cmd.Wait()

			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if code != tc.code || first != tc.firstLine {
				t.Errorf("exit %d, stderr's first line:\n%s\nwant exit %d and:\n%s", code, first, tc.code, tc.firstLine)
			}
		})
	}
}
