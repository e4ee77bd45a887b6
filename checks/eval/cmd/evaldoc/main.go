// Command evaldoc runs the detection evaluation with the default policy and
// writes docs/detection.md (make eval).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/eval"
)

func main() {
	out := flag.String("o", "docs/detection.md", "file to write (- for stdout)")
	perClass := flag.Int("per-class", 1000, "series per class")
	runs := flag.Int("runs", 200, "runs of 300 benign series")
	seed := flag.Uint64("seed", 20261125, "random seed")
	earlyRuns := flag.Int("early-runs", 100, "runs of 300 series per seed (five seeds) for the early-stop rate")
	policyFile := flag.String("policy", "", "YAML policy overrides to evaluate instead of the defaults")
	flag.Parse()
	pol := checks.DefaultPolicy()
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err == nil {
			pol, err = checks.LoadPolicy(b, pol)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "evaldoc: %v\n", err)
			os.Exit(2)
		}
	}
	rep, err := eval.Evaluate(context.Background(), eval.DefaultConfig(pol, *seed, *perClass, *runs))
	if err != nil {
		fmt.Fprintf(os.Stderr, "evaldoc: %v\n", err)
		os.Exit(1)
	}
	md := rep.Markdown()
	early, err := eval.EvaluateEarly(context.Background(), eval.DefaultEarlyConfig(pol, *seed, *perClass, *earlyRuns))
	if err != nil {
		fmt.Fprintf(os.Stderr, "evaldoc: %v\n", err)
		os.Exit(1)
	}
	md += early.Markdown()
	if *out == "-" {
		fmt.Print(md)
		return
	}
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "evaldoc: %v\n", err)
		os.Exit(1)
	}
	t := rep.Totals()
	fmt.Printf("wrote %s: recall %.3f, false alarms %.4f per series, %.3f per run\n", *out,
		t.Recall[eval.Judge], t.FalseAlarmPerSeries[eval.Judge], t.FalseAlarmPerRun[eval.Judge])
}
