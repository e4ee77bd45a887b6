// Command compareeval measures the A/B comparison on labelled pairs of runs
// (checks/compare/eval) and writes docs/compare.md, the prose around the
// figures included:
//
//	go run ./checks/compare/eval/cmd/compareeval -o docs/compare.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/leakgate/leakgate/checks/compare/eval"
)

func main() {
	cfg := eval.DefaultConfig()
	out := flag.String("o", "", "write the whole document to this file (default: the figures alone to stdout)")
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
	var figures bytes.Buffer
	eval.Render(&figures, cfg, rs, runs)
	if *out == "" {
		os.Stdout.Write(figures.Bytes())
		return
	}
	doc := bytes.Replace([]byte(document), []byte("{{FIGURES}}\n"), figures.Bytes(), 1)
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "compareeval: %v\n", err)
		os.Exit(1)
	}
}
