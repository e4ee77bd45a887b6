package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/internal/human"
	"github.com/leakgate/leakgate/remote"
)

func init() {
	register(command{name: "sample", summary: "take one snapshot of a target for debugging: sample --target T [target flags] --out DIR", run: runSample})
}

// runSample takes one sample as the soak would (optionally with the kmemleak
// scans), writes the raw snapshot and the parsed sample into DIR and prints
// a summary. Exit 0 taken, 1 taken with per-file errors, 2 bad flags or an
// --out that cannot be written, 255 the target could not be reached.
func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf remote.Flags
	tf.Register(fs)
	out := fs.String("out", "", "folder to write raw.tar.gz and sample.json into (created, mode 0700)")
	scan := fs.Bool("scan", false, "run the kmemleak scans (scan, wait, scan) first, as a soak sample does")
	own := fs.String("own-modules", "", "comma-separated modules or symbol prefixes whose frames are blamed first")
	asJSON := fs.Bool("json", false, "print the parsed sample as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate sample --target T [target flags] --out DIR [--scan] [--own-modules LIST] [--json]")
		fmt.Fprintln(stderr, "Exit status: 0 taken, 1 taken with per-file errors, 2 bad flags or --out, 255 the target could not be reached.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || *out == "" {
		if *out == "" {
			fmt.Fprintln(stderr, "leakgate sample: --out is required (a folder for the snapshot)")
		}
		fs.Usage()
		return exitUsage
	}
	if err := tf.Validate(); err != nil {
		fmt.Fprintf(stderr, "leakgate sample: %v\n", err)
		return exitUsage
	}
	var mods []string
	for _, m := range strings.Split(*own, ",") {
		if m = strings.TrimSpace(m); m != "" {
			mods = append(mods, m)
		}
	}
	tgt, err := tf.Dial(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate sample: %s\n", describeRemoteError(err))
		return exitRemote
	}
	defer tgt.Close()
	smp, err := harness.TakeSample(ctx, tgt, *out, harness.SampleConfig{OwnModules: mods, Scan: *scan})
	if err != nil {
		fmt.Fprintf(stderr, "leakgate sample: %s\n", describeRemoteError(err))
		return remoteExit(err, exitUsage)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(smp)
	} else {
		fmt.Fprintf(stdout, "sample of %s written to %s\n", tgt.Name(), *out)
		fmt.Fprintf(stdout, "boot_id %s, uptime %s, %d slab caches, %d kmemleak signatures, %d processes\n",
			human.Escape(smp.BootID), human.Duration(smp.Uptime), len(smp.Slabs), len(smp.Leaks), len(smp.Procs))
	}
	for p, e := range smp.Errors {
		fmt.Fprintf(stderr, "leakgate sample: %s: %s\n", human.Escape(p), human.Escape(e))
	}
	if len(smp.Errors) > 0 {
		return exitFindings
	}
	return exitOK
}
