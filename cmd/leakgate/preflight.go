package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/internal/human"
	"github.com/leakgate/leakgate/remote"
)

func init() {
	register(command{name: "preflight", summary: "check that a target's kernel can show leaks: preflight --target T [target flags] [--json]", run: runPreflight})
}

// runPreflight probes the target and prints each check with its remedy.
// Exit 0 ready, 1 not ready, 2 could not check (bad flags, not a Linux
// target), 255 the target could not be reached.
func runPreflight(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf remote.Flags
	tf.Register(fs)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate preflight --target T [target flags] [--json]")
		fmt.Fprintln(stderr, "Exit status: 0 ready, 1 not ready (each failed check says what to do), 2 could not check (bad flags, not a Linux target), 255 the target could not be reached.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	if err := tf.Validate(); err != nil {
		fmt.Fprintf(stderr, "leakgate preflight: %v\n", err)
		return exitUsage
	}
	tgt, err := tf.Dial(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate preflight: could not check: %s\n", describeRemoteError(err))
		return exitRemote
	}
	defer tgt.Close()
	pf, err := harness.Preflight(ctx, tgt)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate preflight: could not check: %s\n", describeRemoteError(err))
		return remoteExit(err, exitUsage)
	}
	// A check leaves the target as it found it.
	pf.Notes = append(pf.Notes, harness.RestoreTarget(ctx, tgt, pf)...)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(pf); err != nil {
			fmt.Fprintf(stderr, "leakgate preflight: %v\n", err)
			return exitUsage
		}
	} else {
		// The kernel's version string, what each check saw and its notes
		// come from the target: escape them.
		esc := human.NewEscapingWriter(stdout)
		printPreflight(esc, pf)
		_ = esc.Close()
	}
	if !pf.Ready {
		return exitFindings
	}
	return exitOK
}

func printPreflight(w io.Writer, pf harness.PreflightResult) {
	if pf.Ready {
		fmt.Fprintf(w, "ready: %s can show leaks\n", pf.Kernel)
	} else {
		fmt.Fprintf(w, "NOT READY: %s cannot show leaks; fix the failed checks below, then run preflight again\n", pf.Kernel)
	}
	for _, c := range pf.Checks {
		fmt.Fprintf(w, "%-4s  %-26s  %s", statusWord(c.Status), c.Name, c.Seen)
		if c.Remediation != "" && c.Status != "ok" {
			fmt.Fprintf(w, "  → %s", c.Remediation)
		}
		fmt.Fprintln(w)
	}
	for _, n := range pf.Notes {
		fmt.Fprintf(w, "note  %s\n", n)
	}
	if pf.ConfigDigest != "" {
		fmt.Fprintf(w, "config %s %s\n", pf.ConfigSource, pf.ConfigDigest)
	}
}

func statusWord(s verdict.Check) string {
	switch s {
	case verdict.CheckOK:
		return "PASS"
	case verdict.CheckWarn:
		return "WARN"
	}
	return "FAIL"
}
