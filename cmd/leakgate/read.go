package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/leakgate/leakgate/remote"
)

func init() {
	register(command{name: "read", summary: "print target files fetched in one round trip: read --target T [target flags] PATH...", run: runRead})
}

// runRead fetches every PATH (globs allowed) in one round trip and prints
// each file under a "==> PATH <==" header; per-file errors go to stderr and
// make the exit status 1.
func runRead(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf remote.Flags
	tf.Register(fs)
	maxBytes := fs.Int64("max-file-bytes", remote.DefaultMaxFileBytes, "cap on each file; longer files are cut and reported")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate read --target T [target flags] PATH...")
		fmt.Fprintln(stderr, "Reads every PATH and glob (quote globs: '/proc/[0-9]*/status') in one round trip.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	paths := fs.Args()
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "leakgate read: no path given (write: leakgate read --target T /proc/meminfo ...)")
		return exitUsage
	}
	if err := tf.Validate(); err != nil {
		fmt.Fprintf(stderr, "leakgate read: %v\n", err)
		return exitUsage
	}
	tgt, err := tf.Dial(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate read: %s\n", describeRemoteError(err))
		return exitRemote
	}
	defer tgt.Close()
	snap, err := tgt.ReadFiles(ctx, paths, remote.ReadOptions{MaxFileBytes: *maxBytes})
	if err != nil {
		fmt.Fprintf(stderr, "leakgate read: %s\n", describeRemoteError(err))
		return exitRemote
	}
	names := make([]string, 0, len(snap.Files))
	for p := range snap.Files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		fmt.Fprintf(stdout, "==> %s <==\n", p)
		_, _ = stdout.Write(snap.Files[p])
		if b := snap.Files[p]; len(b) > 0 && b[len(b)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
	}
	for _, p := range snap.Truncated {
		fmt.Fprintf(stderr, "leakgate read: %s: cut at %d bytes (raise --max-file-bytes)\n", p, *maxBytes)
	}
	failed := make([]string, 0, len(snap.Errors))
	for p := range snap.Errors {
		failed = append(failed, p)
	}
	sort.Strings(failed)
	for _, p := range failed {
		fmt.Fprintf(stderr, "leakgate read: %s: %s\n", p, snap.Errors[p])
	}
	if len(failed) > 0 {
		return exitFindings
	}
	return exitOK
}
