package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/leakgate/leakgate/harness"
)

func init() {
	register(command{name: "analyze", summary: "re-judge a recorded or interrupted soak, writing the re-judgement beside it: analyze RUN_DIR [--policy FILE] [--json]", run: runAnalyze})
}

// runAnalyze re-parses a run folder's raw snapshots with the current code,
// judges them under the recorded policy (with --policy applied over it),
// writes the re-judgement into RUN_DIR/rejudged/<policy digest>/ without
// touching what the soak recorded, and prints the diagnosis. Exit 0 pass,
// 1 fail or no verdict, 2 bad input.
func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "policy YAML applied over the policy the run recorded (its allow list, when given, replaces the recorded one)")
	asJSON := fs.Bool("json", false, "print report.json's content instead of the message")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate analyze RUN_DIR [--policy FILE] [--json]")
		fmt.Fprintln(stderr, "Re-judges a soak's run folder (finished or interrupted); what the soak recorded is never rewritten:")
		fmt.Fprintln(stderr, "the re-judgement goes to RUN_DIR/rejudged/<policy digest>/ (report.json, report.html, series/).")
		fmt.Fprintln(stderr, "Exit status: 0 pass, 1 fail (a leak, a reboot, a target not ready, or no verdict), 2 bad input.")
		fs.PrintDefaults()
	}
	dir, rest := splitFirstArg(args)
	if err := fs.Parse(rest); err != nil {
		return exitUsage
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 0 || dir == "" {
		fs.Usage()
		return exitUsage
	}
	run, err := harness.LoadRunContext(ctx, dir)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintf(stderr, "leakgate analyze: %v\n", err)
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintf(stderr, "leakgate analyze: %v\n", err)
		return exitUsage
	}
	var pol *harness.Policy
	if *policyPath != "" {
		p, err := harness.LoadPolicyFile(*policyPath, run.RecordedPolicy())
		if err != nil {
			fmt.Fprintf(stderr, "leakgate analyze: %v\n", err)
			return exitUsage
		}
		pol = &p
	}
	run.Rejudge(pol)
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "leakgate analyze: %v; nothing written\n", context.Cause(ctx))
		return exitInterrupted
	}
	if err := run.WriteReports(); err != nil {
		fmt.Fprintf(stderr, "leakgate analyze: write the re-judgement in %s: %v\n", dir, err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "leakgate analyze: re-judgement written to %s\n", run.RejudgedReportDir())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(run.Report()); err != nil {
			fmt.Fprintf(stderr, "leakgate analyze: %v\n", err)
			return exitUsage
		}
	} else {
		fmt.Fprintln(stdout, run.Message())
	}
	if run.Failed() {
		return exitFindings
	}
	return exitOK
}

// splitFirstArg lets a positional argument come before the flags
// (analyze DIR --json) as well as after them.
func splitFirstArg(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}
