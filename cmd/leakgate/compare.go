package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/leakgate/leakgate/checks/compare"
	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/results"
	"go.yaml.in/yaml/v3"
)

func init() {
	register(command{name: "compare", summary: "compare a candidate run with a baseline run: compare A B | RUN_DIR --baseline SPEC [--db DSN] [--policy FILE] [--json] [--html FILE]", run: runCompare})
}

// runCompare compares run B (the candidate) with run A (the baseline),
// each a run folder or a run id in the store. Exit 0 nothing regressed, 1
// a series regressed, 2 bad input or an unreachable store.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "results store: a SQLite file or a postgres:// URL (needed for run ids)")
	policyPath := fs.String("policy", "", "comparison policy YAML over the defaults (regression: fail|warn, min_slope_change_bytes_per_hour, min_level_change_bytes, ...)")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	baseline := fs.String("baseline", "", "compare RUN_DIR with its baseline in --db instead of a given A: auto | RUN_ID | release:LABEL")
	htmlPath := fs.String("html", "", "also write a page with every series' figures and both runs' charts overlaid")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate compare A B [--db DSN] [--policy FILE] [--json] [--html FILE]")
		fmt.Fprintln(stderr, "       leakgate compare RUN_DIR --baseline auto|RUN_ID|release:LABEL --db DSN [...]")
		fmt.Fprintln(stderr, "Compares run B (candidate) with run A (baseline); each is a run folder or a run id in --db.")
		fmt.Fprintln(stderr, "Exit status: 0 nothing regressed, 1 a series regressed, 2 bad input.")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if (*baseline == "" && len(pos) != 2) || (*baseline != "" && (len(pos) != 1 || *dsn == "")) {
		fs.Usage()
		return exitUsage
	}
	pol, err := loadComparePolicy(*policyPath)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate compare: %v\n", err)
		return exitUsage
	}
	var store *results.Store
	if *dsn != "" {
		store, err = results.Open(ctx, *dsn)
		if err != nil {
			fmt.Fprintf(stderr, "leakgate compare: %v\n", err)
			return exitUsage
		}
		defer store.Close()
	}
	var c results.Comparison
	if *baseline != "" {
		c, err = store.CompareWithBaseline(ctx, pos[0], *baseline, pol)
	} else {
		c, err = results.CompareRuns(ctx, store, source(pos[0]), source(pos[1]), pol)
	}
	if err != nil && *baseline == "auto" && errors.Is(err, results.ErrNotFound) {
		// The first run of a rig and profile: nothing to compare with yet,
		// which is not a failure of the gate.
		fmt.Fprintf(stdout, "no baseline yet: %v\n", err)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "leakgate compare: %v\n", err)
		return exitUsage
	}
	if *htmlPath != "" {
		if err := writeComparisonPage(*htmlPath, c); err != nil {
			fmt.Fprintf(stderr, "leakgate compare: %v\n", err)
			return exitUsage
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			fmt.Fprintf(stderr, "leakgate compare: %v\n", err)
			return exitUsage
		}
	} else {
		fmt.Fprintln(stdout, c.Message())
	}
	if compare.AnyRegressed(c.Results) {
		return exitFindings
	}
	return exitOK
}

// writeComparisonPage writes the comparison's HTML page to path (0600).
func writeComparisonPage(path string, c results.Comparison) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := c.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// source reads an argument as a run folder when it holds a report, else
// as a run id.
func source(arg string) results.Source {
	if st, err := os.Stat(filepath.Join(arg, "report.json")); err == nil && !st.IsDir() {
		return results.Source{Dir: arg}
	}
	return results.Source{ID: arg}
}

// loadComparePolicy reads a comparison policy YAML over the defaults,
// through harness.ReadYAMLFile's cap.
func loadComparePolicy(path string) (compare.Policy, error) {
	pol := compare.DefaultPolicy()
	if path == "" {
		return pol, nil
	}
	data, err := harness.ReadYAMLFile(path, "comparison policy")
	if err != nil {
		return pol, err
	}
	if err := yaml.Unmarshal(data, &pol); err != nil {
		return pol, fmt.Errorf("comparison policy %s: %w", path, err)
	}
	return pol, pol.Validate()
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments (import A B --db X), returning the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
