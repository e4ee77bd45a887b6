package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"
	"os"
	"sort"
	"strings"
)

// parser turns one kernel file into printed output (text or JSON).
type parser struct {
	kind    string
	summary string
	// run parses in and writes to out; flags holds --json and --own-modules.
	run func(in io.Reader, out io.Writer, opts parseOptions) error
}

// parseOptions are the flags every parse kind shares.
type parseOptions struct {
	JSON       bool
	OwnModules []string
}

// parsers is the static table of parse kinds, filled by registerParser.
var parsers = map[string]parser{}

func registerParser(p parser) {
	if _, dup := parsers[p.kind]; dup {
		panic("leakgate: parser registered twice: " + p.kind)
	}
	parsers[p.kind] = p
}

func init() {
	register(command{name: "parse", summary: "parse one kernel memory file: parse KIND [FILE|-] [--json]", run: runParse})
}

func runParse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts parseOptions
	var own string
	fs.BoolVar(&opts.JSON, "json", false, "print JSON instead of text")
	fs.StringVar(&own, "own-modules", "", "comma-separated modules or symbol prefixes whose frames are blamed first (kmemleak)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: leakgate parse KIND [FILE|-] [--json] [--own-modules LIST]\nkinds: %s\n", strings.Join(parserKinds(), ", "))
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, "leakgate parse: no KIND given; kinds: %s\n", strings.Join(parserKinds(), ", "))
		fs.Usage()
		return exitUsage
	}
	kind := args[0]
	// Flags may come before or after the file name.
	var files []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	p, ok := parsers[kind]
	if !ok {
		fmt.Fprintf(stderr, "leakgate parse: unknown kind %q; kinds: %s\n", kind, strings.Join(parserKinds(), ", "))
		return exitUsage
	}
	if own != "" {
		for _, m := range strings.Split(own, ",") {
			if m = strings.TrimSpace(m); m != "" {
				opts.OwnModules = append(opts.OwnModules, m)
			}
		}
	}
	in := io.Reader(os.Stdin)
	name := "-"
	switch len(files) {
	case 0:
	case 1:
		name = files[0]
	default:
		fmt.Fprintf(stderr, "leakgate parse: one FILE at a time (or - for stdin), got %d: %s\n", len(files), strings.Join(files, " "))
		fs.Usage()
		return exitUsage
	}
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "leakgate parse: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		in = f
	}
	out := stdout
	var esc *human.EscapingWriter
	if !opts.JSON {
		// Names come from the target (cache, process, module names): a
		// terminal must not see their control characters.
		esc = human.NewEscapingWriter(stdout)
		out = esc
	}
	err := p.run(contextReader(ctx, in), out, opts)
	if esc != nil {
		esc.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "leakgate parse %s %s: %v\n", kind, name, context.Cause(ctx))
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "leakgate parse %s %s: %v\n", kind, name, err)
		return exitUsage
	}
	return exitOK
}

func parserKinds() []string {
	kinds := make([]string, 0, len(parsers))
	for k := range parsers {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// humanBytes prints a byte count in the one unit style (internal/human).
func humanBytes[T int64 | uint64 | int](n T) string { return human.Bytes(float64(n)) }
