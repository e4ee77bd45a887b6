package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"

	"github.com/leakgate/leakgate/results"
)

func init() {
	register(command{name: "import", summary: "record run folders in a results store (re-import replaces): import RUN_DIR... --db DSN [--release LABEL]", run: runImport})
}

// runImport records each run folder in the store; the store is an index
// that this rebuilds or catches up. Exit 0 all imported, 1 the store was
// unavailable for some, 2 bad input (a folder that is not a finished run).
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "results store: a SQLite file or a postgres:// URL (required)")
	release := fs.String("release", "", "label the runs with this release (default: the label each run recorded)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate import RUN_DIR... --db DSN [--release LABEL]")
		fmt.Fprintln(stderr, "Records run folders in the results store; importing a folder again replaces its rows.")
		fmt.Fprintln(stderr, "Exit status: 0 all imported, 1 the store was unavailable, 2 bad input.")
		fs.PrintDefaults()
	}
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(dirs) == 0 || *dsn == "" {
		fs.Usage()
		return exitUsage
	}
	store, err := results.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate import: %v\n", err)
		return storeExit(err)
	}
	defer store.Close()
	code := exitOK
	for _, dir := range dirs {
		run, err := store.Record(ctx, dir, results.WithRelease(*release))
		if err != nil {
			fmt.Fprintf(stderr, "leakgate import: %v\n", err)
			code = max(code, storeExit(err))
			continue
		}
		// The id, label, verdict and rig are read from the folder: escaped.
		fmt.Fprintf(stdout, "imported %s (%s, %s on %s) from %s\n", human.Escape(run.ID), human.Escape(run.Label()), human.Escape(string(run.Verdict)), human.Escape(run.Rig), human.Escape(dir))
	}
	return code
}

// storeExit is 1 for a store that could not take the write (retry later)
// and 2 for anything else (bad input, a corrupted file).
func storeExit(err error) int {
	var ue *results.UnavailableError
	if errors.As(err, &ue) {
		return exitFindings
	}
	return exitUsage
}
