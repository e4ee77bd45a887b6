// Command compareeval prints the A/B comparison's figures on labelled pairs
// of runs (checks/compare/eval) as the Markdown docs/compare.md quotes:
//
//	go run ./checks/compare/eval/cmd/compareeval
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/leakgate/leakgate/checks/compare/eval"
)

func main() {
	cfg := eval.DefaultConfig()
	flag.IntVar(&cfg.PerClass, "pairs", cfg.PerClass, "pairs per class")
	flag.IntVar(&cfg.Runs, "runs", cfg.Runs, "benign runs for the whole-release figure")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	flag.Parse()
	rs, err := eval.Evaluate(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compareeval: %v\n", err)
		os.Exit(1)
	}
	runs, err := eval.EvaluateRuns(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compareeval: %v\n", err)
		os.Exit(1)
	}
	eval.Render(os.Stdout, cfg, rs, runs)
}
